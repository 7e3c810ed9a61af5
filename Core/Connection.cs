using TcpChan.Core.Frames;
using TcpChan.Core.Yamux;

namespace TcpChan.Core;

/// <summary>
/// A TcpChan connection as a pure state machine (sans-I/O): feed it the bytes that arrive
/// with <see cref="DataReceived(ReadOnlySpan{byte})"/>, take what it has to say with
/// <see cref="NextEvent"/> (bytes to send are <see cref="DataTransmit"/> events), tell it the
/// time with <see cref="HandleTimeout"/> when <see cref="NextDeadline"/> passes, and ask it to
/// do things with <see cref="CreateChannel"/>, <see cref="GoAway"/> and <see cref="Close"/>. It
/// owns no socket, task or clock. Use <see cref="ClientConnection"/> or <see cref="ServerConnection"/>.
/// </summary>
/// <remarks>
/// Not thread-safe: one thread (or one lock) drives a connection and its channels. Nothing
/// the peer sends makes <see cref="DataReceived(ReadOnlySpan{byte})"/> throw: bad input becomes a
/// <see cref="HandshakeFailed"/> or <see cref="ProtocolError"/> event, or a channel reset
/// (docs/PROTOCOL.md lists every case). Local misuse throws <see cref="InvalidOperationException"/>.
/// </remarks>
public abstract partial class Connection
{
    private readonly Func<ChannelOpenInfo, Channel> _channelFactory;
    private readonly ConnectionOptions _options;
    private readonly Dictionary<uint, Channel> _channels = new();
    private readonly Queue<ConnectionEvent> _events = new();
    private readonly bool _yamux;

    private bool _inDataReceived;
    private byte _version;

    private protected Connection(Func<ChannelOpenInfo, Channel> channelFactory, ConnectionOptions? options)
    {
        _channelFactory = channelFactory ?? throw new ArgumentNullException(nameof(channelFactory));
        _options = options ?? new ConnectionOptions();
        _options.Validate();
        Protocol = _options.Protocol;
        _yamux = Protocol == WireProtocol.Yamux;
        _encoder = _yamux ? YamuxFrameEncoder.Instance : TcpChanFrameEncoder.Version0;
        HandshakeMagic = _options.HandshakeMagic;
        MaxVersion = _yamux ? YamuxProtocol.Version : _options.MaxVersion;
        _random = _options.Random ?? new Random();
        LocalSettings = new Settings
        {
            InitialChannelWindow = _options.InitialChannelWindow,
            InitialSessionWindow = _options.SessionReceiveBudget,
            MaxConcurrentChannels = _options.MaxConcurrentChannels,
            MaxFramePayload = _options.MaxFramePayload,
        };
    }

    /// <summary>The wire protocol (<see cref="ConnectionOptions.Protocol"/>): TcpChan, or yamux.</summary>
    public WireProtocol Protocol { get; }

    /// <summary>Where the connection is in its life.</summary>
    public ConnectionState State { get; private protected set; }

    /// <summary>The protocol version in use; meaningful once the handshake succeeded. Yamux: 0, its only version.</summary>
    public byte Version
    {
        get => _version;
        private protected set
        {
            _version = value;
            _encoder = TcpChanFrameEncoder.For(value);
        }
    }

    /// <summary>The newest version this side offers or accepts (<see cref="ConnectionOptions.MaxVersion"/>; 0 on yamux).</summary>
    public byte MaxVersion { get; }

    /// <summary>The magic this side sends and expects.</summary>
    public uint HandshakeMagic { get; }

    /// <summary>True for a <see cref="ClientConnection"/>.</summary>
    public abstract bool IsClient { get; }

    /// <summary>How many channels are open (not yet closed, on either side's initiative).</summary>
    public int OpenChannelCount => _channels.Count;

    /// <summary>Frames handled from the peer so far.</summary>
    public long FramesReceived { get; private set; }

    /// <summary>Frames produced for the peer so far.</summary>
    public long FramesSent { get; private set; }

    /// <summary>True when events are waiting to be taken.</summary>
    public bool HasEvents => _events.Count > 0;

    /// <summary>Version 1: the settings this side announced. Yamux announces none: these are the options they came from.</summary>
    public Settings LocalSettings { get; }

    /// <summary>
    /// Version 1: the settings the peer announced (defaults until they arrive). Yamux: the
    /// protocol's fixed initial window of 256 KiB, and as <see cref="Settings.MaxFramePayload"/>
    /// the largest data frame this side sends.
    /// </summary>
    public Settings PeerSettings { get; } = new();

    /// <summary>The open channel with this id, or null.</summary>
    public Channel? GetChannel(uint channelId) => _channels.TryGetValue(channelId, out var channel) ? channel : null;

    /// <summary>Takes the next event, or returns null when there is none.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public ConnectionEvent? NextEvent()
    {
        if (_events.Count == 0)
        {
            return null;
        }

        var next = _events.Dequeue();
        if (ReferenceEquals(next, _openTransmit))
        {
            // Taken, with the queued data that may go now; later frames go into a new transmit
            // behind the events queued after it.
            Fill(_openTransmit, long.MaxValue);
            _openTransmit = null;
            if (_drained.Count > 0)
            {
                RaiseDrained(); // what they write now goes into a transmit queued behind this one
            }

            if (((DataTransmit)next).Length == 0)
            {
                // Opened for data that could not go after all (its credit was spent meanwhile).
                ((DataTransmit)next).Dispose();
                return NextEvent();
            }
        }

        return next;
    }

    /// <summary>
    /// Tells the connection that the transport is up. A client queues its handshake
    /// request; a server starts waiting for one. Yamux has no handshake: the connection is
    /// established here (<see cref="HandshakeSuccess"/>). Call once, before anything else.
    /// </summary>
    public void ConnectionEstablished() => ConnectionEstablished(_now);

    /// <summary>As <see cref="ConnectionEstablished()"/>, at time <paramref name="now"/> (starts the handshake timeout).</summary>
    public void ConnectionEstablished(TimeSpan now)
    {
        if (State != ConnectionState.Idle)
        {
            throw new InvalidOperationException($"ConnectionEstablished was already called (state {State}).");
        }

        AdvanceTime(now);
        _lastReceivedAt = _now;
        if (_yamux)
        {
            StartVersion1Flow();
            HandshakeSucceeded();
            return;
        }

        State = ConnectionState.Handshaking;
        _handshakeDeadline = _options.HandshakeTimeout is { } timeout ? _now + timeout : null;
        OnConnectionEstablished();
    }

    /// <summary>
    /// Feeds bytes that arrived from the peer, in any chunking. Frames are handled as soon
    /// as they are complete; channel payload reaches <see cref="Channel.DataReceived(ReadOnlySpan{byte})"/> as
    /// slices of <paramref name="data"/>. Input after the connection failed or closed is ignored.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called before <see cref="ConnectionEstablished()"/>, or from inside a callback of this call.</exception>
    public void DataReceived(ReadOnlySpan<byte> data) => DataReceived(data, _now);

    /// <summary>As <see cref="DataReceived(ReadOnlySpan{byte})"/>, at time <paramref name="now"/> (for round-trip times and keepalive).</summary>
    public void DataReceived(ReadOnlySpan<byte> data, TimeSpan now) => Receive(data, default, now);

    /// <summary>
    /// As <see cref="DataReceived(ReadOnlySpan{byte}, TimeSpan)"/>, for a driver that keeps
    /// <paramref name="data"/> after the call: channel payload reaches
    /// <see cref="Channel.DataReceived(ReadOnlyMemory{byte})"/> as slices of it, which the
    /// channel may copy later, for as long as the driver keeps the memory (the adapters keep a
    /// read buffer until they have handed its slices on, outside their lock).
    /// </summary>
    public void DataReceived(ReadOnlyMemory<byte> data, TimeSpan now) => Receive(data.Span, data, now);

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Receive(ReadOnlySpan<byte> data, ReadOnlyMemory<byte> memory, TimeSpan now)
    {
        if (State == ConnectionState.Idle)
        {
            throw new InvalidOperationException("Call ConnectionEstablished before DataReceived.");
        }

        if (_inDataReceived)
        {
            throw new InvalidOperationException("DataReceived was called from inside a DataReceived callback.");
        }

        _inDataReceived = true;
        _input = memory;
        try
        {
            AdvanceTime(now);
            while (!data.IsEmpty && IsReading)
            {
                data = _payloadRemaining > 0 ? ReadPayload(data) : _yamux ? ReadYamuxHeader(data) : ReadHeader(data);
            }
        }
        finally
        {
            _inDataReceived = false;
            _input = default;
        }
    }

    /// <summary>
    /// Creates a channel: picks a free id, tells the peer, and returns the factory's channel.
    /// Version 1 sends <paramref name="label"/> (UTF-8, at most 255 bytes) with the open;
    /// version 0 cannot carry one and ignores it; yamux cannot carry one and refuses it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The handshake has not succeeded, the connection is closed or going away, or ids are exhausted.</exception>
    /// <exception cref="NotSupportedException">A label on a yamux connection, which has no labels; nothing is sent.</exception>
    public Channel CreateChannel(string? label = null)
    {
        if (_yamux && label is not null)
        {
            throw new NotSupportedException("Yamux streams have no labels: create the channel without one.");
        }

        RequireEstablished();
        if (_goAwaySent || _goAwayReceived)
        {
            throw new InvalidOperationException("The connection is going away: no new channels.");
        }

        if (!IsVersion0)
        {
            ValidateLabel(label);
        }

        uint id = NextChannelId();

        // The factory runs first: if it throws, the peer never hears of the channel.
        var channel = MakeChannel(id, isRemote: false, IsVersion0 ? null : label)
            ?? throw new InvalidOperationException("The channel factory threw; see the ChannelClosed event.");
        WriteOpen(id, label);
        RegisterChannel(channel);
        return channel;
    }

    /// <summary>Closes an open channel (see <see cref="Channel.Close"/>). Returns false (and does nothing) if no channel with that id is open.</summary>
    public bool CloseChannel(uint channelId)
    {
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return false;
        }

        CloseChannelCore(channel);
        return true;
    }

    /// <summary>
    /// Version 1: starts a graceful shutdown. Tells the peer the last channel it opened that
    /// this side processes; channels it opens after that are refused; open channels go on
    /// until they finish. No new channels can be created here either. Idempotent. Yamux: the
    /// same, without a last channel; a code other than <see cref="ErrorCode.NoError"/> makes a
    /// Go peer close the connection at once.
    /// </summary>
    public void GoAway(ErrorCode code = ErrorCode.NoError)
    {
        RequireEstablished();
        RequireVersion1(nameof(GoAway));
        if (_goAwaySent)
        {
            return;
        }

        SendGoAway(code);
    }

    /// <summary>True once either side sent a go-away: no new channels.</summary>
    public bool IsGoingAway => _goAwaySent || _goAwayReceived;

    /// <summary>
    /// Closes every open channel and stops processing input. Version 0 tells the peer about
    /// each channel; version 1 sends a go-away. Queued output stays queued for the driver to
    /// send before it closes the transport. Idempotent.
    /// </summary>
    public void Close()
    {
        if (State is ConnectionState.Closed or ConnectionState.Idle)
        {
            State = ConnectionState.Closed;
            return;
        }

        bool tellPeer = State == ConnectionState.Established;
        if (tellPeer && !_scheduler.IsEmpty)
        {
            // What was written and has credit still goes, before the go-away.
            Fill(OpenTransmit(), long.MaxValue);
        }

        if (tellPeer && !IsVersion0 && !_goAwaySent)
        {
            SendGoAway(ErrorCode.NoError);
        }

        State = ConnectionState.Closed;
        foreach (var channel in SnapshotChannels())
        {
            if (tellPeer && IsVersion0)
            {
                WriteEndFrame(channel.ChannelId);
            }

            RemoveChannel(channel, ChannelCloseReason.ConnectionClosed, null, null);
        }
    }

    /// <summary>
    /// Tells the connection that the transport is gone. Every open channel closes with
    /// <see cref="ChannelCloseReason.ConnectionLost"/>; nothing more is sent or processed. Idempotent.
    /// </summary>
    public void ConnectionLost()
    {
        if (State is ConnectionState.Closed or ConnectionState.Failed or ConnectionState.HandshakeFailed)
        {
            State = State == ConnectionState.Idle ? ConnectionState.Closed : State;
            return;
        }

        State = ConnectionState.Closed;
        CloseAllChannels(ChannelCloseReason.ConnectionLost);
    }

    // ---- lifecycle helpers ----------------------------------------------------------------

    private protected abstract void OnConnectionEstablished();

    /// <summary>Handles a handshake frame (request or reply) while handshaking.</summary>
    private protected abstract void OnHandshakeFrame(in FrameHeader header);

    private protected void HandshakeFailure(HandshakeFailureReason kind, string reason)
    {
        State = ConnectionState.HandshakeFailed;
        ResetInput();
        Enqueue(new HandshakeFailed(kind, reason));
    }

    private bool IsReading => State is ConnectionState.Handshaking or ConnectionState.Established;

    /// <summary>TcpChan version 0: no flow control, half-close, reset, ping or go-away. Version 1 and yamux have them all.</summary>
    private bool IsVersion0 => _version == 0 && !_yamux;

    private void RequireEstablished()
    {
        if (State != ConnectionState.Established)
        {
            throw new InvalidOperationException($"The connection is {State}; channels can be used only once the handshake has succeeded.");
        }
    }

    private void RequireVersion1(string what)
    {
        if (IsVersion0)
        {
            throw new InvalidOperationException($"{what} needs protocol version 1; this connection speaks version 0.");
        }
    }

    /// <summary>A connection-level error: the peer broke the protocol. Reported once, last.</summary>
    private void Fail(ErrorCode code, string message)
    {
        if (!IsVersion0 && State == ConnectionState.Established && !_goAwaySent)
        {
            SendGoAway(code);
        }

        State = ConnectionState.Failed;
        CloseAllChannels(ChannelCloseReason.ProtocolError);
        ResetInput();
        Enqueue(new ProtocolError(code, message));
    }

    private void CloseAllChannels(ChannelCloseReason reason)
    {
        foreach (var channel in SnapshotChannels())
        {
            RemoveChannel(channel, reason, null, null);
        }

        _sendBlocks.Clear();
        _drained.Clear();
    }

    // ---- events -------------------------------------------------------------------------

    private protected void Enqueue(ConnectionEvent e) => _events.Enqueue(e);
}
