using TcpChan.Core.Frames;

namespace TcpChan.Core;

/// <summary>
/// A TcpChan connection as a pure state machine (sans-I/O): feed it the bytes that arrive
/// with <see cref="DataReceived"/>, take what it has to say with <see cref="NextEvent"/>
/// (bytes to send are <see cref="DataTransmit"/> events), and ask it to do things with
/// <see cref="CreateChannel"/>, <see cref="CloseChannel"/> and <see cref="Close"/>. It owns
/// no socket, task or clock. Use <see cref="ClientConnection"/> or <see cref="ServerConnection"/>.
/// </summary>
/// <remarks>
/// Not thread-safe: one thread (or one lock) drives a connection and its channels. Nothing
/// the peer sends makes <see cref="DataReceived"/> throw: bad input becomes a
/// <see cref="HandshakeFailed"/> or <see cref="ProtocolError"/> event (docs/PROTOCOL.md lists
/// every case). Local misuse throws <see cref="InvalidOperationException"/>.
/// </remarks>
public abstract class Connection
{
    private readonly Func<ChannelOpenInfo, Channel> _channelFactory;
    private readonly Action? _eventCallback;
    private readonly Random _random;
    private readonly Dictionary<uint, Channel> _channels = new();
    private readonly Queue<ConnectionEvent> _events = new();

    // Input: a frame header split across calls is gathered here; payload bytes stream
    // straight from the caller's span to the channel, never copied.
    private readonly byte[] _headerBuffer = new byte[FrameHeader.MaxLength];
    private int _headerLength;
    private int _payloadRemaining;
    private uint _payloadChannelId;
    private Channel? _payloadChannel;

    // Output: frames go into the DataTransmit that is queued and not yet taken, so that
    // everything produced between two takes leaves in one write.
    private DataTransmit? _openTransmit;
    private DataTransmit? _spareTransmit;

    private int _callDepth;
    private bool _eventsAdded;
    private bool _inCallback;
    private bool _inDataReceived;

    private protected Connection(Func<ChannelOpenInfo, Channel> channelFactory, ConnectionOptions? options)
    {
        _channelFactory = channelFactory ?? throw new ArgumentNullException(nameof(channelFactory));
        options ??= new ConnectionOptions();
        HandshakeMagic = options.HandshakeMagic;
        _eventCallback = options.EventCallback;
        _random = options.Random ?? new Random();
    }

    /// <summary>Where the connection is in its life.</summary>
    public ConnectionState State { get; private protected set; }

    /// <summary>The protocol version in use; meaningful once the handshake succeeded.</summary>
    public byte Version { get; private protected set; }

    /// <summary>The magic this side sends and expects.</summary>
    public uint HandshakeMagic { get; }

    /// <summary>True for a <see cref="ClientConnection"/>.</summary>
    public abstract bool IsClient { get; }

    /// <summary>How many channels are open.</summary>
    public int OpenChannelCount => _channels.Count;

    /// <summary>True when events are waiting to be taken.</summary>
    public bool HasEvents => _events.Count > 0;

    /// <summary>The open channel with this id, or null.</summary>
    public Channel? GetChannel(uint channelId) => _channels.TryGetValue(channelId, out var channel) ? channel : null;

    /// <summary>Takes the next event, or returns null when there is none.</summary>
    public ConnectionEvent? NextEvent()
    {
        if (_events.Count == 0)
        {
            return null;
        }

        var next = _events.Dequeue();
        if (ReferenceEquals(next, _openTransmit))
        {
            // Taken: later frames go into a new transmit behind the events queued after it.
            _openTransmit = null;
        }

        return next;
    }

    /// <summary>
    /// Tells the connection that the transport is up. A client queues its handshake
    /// request; a server starts waiting for one. Call once, before anything else.
    /// </summary>
    public void ConnectionEstablished()
    {
        if (State != ConnectionState.Idle)
        {
            throw new InvalidOperationException($"ConnectionEstablished was already called (state {State}).");
        }

        Enter();
        try
        {
            State = ConnectionState.Handshaking;
            OnConnectionEstablished();
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Feeds bytes that arrived from the peer, in any chunking. Frames are handled as soon
    /// as they are complete; channel payload reaches <see cref="Channel.DataReceived"/> as
    /// slices of <paramref name="data"/>. Input after the connection failed or closed is ignored.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called before <see cref="ConnectionEstablished"/>, or from inside a callback of this call.</exception>
    public void DataReceived(ReadOnlySpan<byte> data)
    {
        if (State == ConnectionState.Idle)
        {
            throw new InvalidOperationException("Call ConnectionEstablished before DataReceived.");
        }

        if (_inDataReceived)
        {
            throw new InvalidOperationException("DataReceived was called from inside a DataReceived callback.");
        }

        Enter();
        _inDataReceived = true;
        try
        {
            while (!data.IsEmpty && IsReading)
            {
                data = _payloadRemaining > 0 ? ReadPayload(data) : ReadHeader(data);
            }
        }
        finally
        {
            _inDataReceived = false;
            Exit();
        }
    }

    /// <summary>Creates a channel: picks a free id, tells the peer, and returns the factory's channel.</summary>
    /// <exception cref="InvalidOperationException">The handshake has not succeeded, or the connection is closed.</exception>
    public Channel CreateChannel()
    {
        RequireEstablished();
        Enter();
        try
        {
            uint id = NextChannelId();
            WriteShortFrame(FrameType.CreateChannel, id);
            return AddChannel(id, isRemote: false)
                ?? throw new InvalidOperationException("The channel factory threw; see the ChannelClosed event.");
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Closes an open channel and tells the peer. Returns false (and does nothing) if no channel with that id is open.</summary>
    public bool CloseChannel(uint channelId)
    {
        if (!_channels.ContainsKey(channelId))
        {
            return false;
        }

        Enter();
        try
        {
            WriteShortFrame(FrameType.CloseChannel, channelId);
            RemoveChannel(channelId, ChannelCloseReason.LocalClose, null);
            return true;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Closes every open channel, telling the peer, and stops processing input. Queued
    /// output stays queued for the driver to send before it closes the transport. Idempotent.
    /// </summary>
    public void Close()
    {
        if (State is ConnectionState.Closed or ConnectionState.Idle)
        {
            State = ConnectionState.Closed;
            return;
        }

        Enter();
        try
        {
            bool tellPeer = State == ConnectionState.Established;
            foreach (uint id in SnapshotChannelIds())
            {
                if (tellPeer)
                {
                    WriteShortFrame(FrameType.CloseChannel, id);
                }

                RemoveChannel(id, ChannelCloseReason.ConnectionClosed, null);
            }

            State = ConnectionState.Closed;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Tells the connection that the transport is gone. Every open channel closes with
    /// <see cref="ChannelCloseReason.ConnectionLost"/>; nothing more is sent or processed. Idempotent.
    /// </summary>
    public void ConnectionLost()
    {
        if (State == ConnectionState.Closed)
        {
            return;
        }

        Enter();
        try
        {
            foreach (uint id in SnapshotChannelIds())
            {
                RemoveChannel(id, ChannelCloseReason.ConnectionLost, null);
            }

            State = ConnectionState.Closed;
        }
        finally
        {
            Exit();
        }
    }

    // ---- role-specific handshake ------------------------------------------------------

    private protected abstract void OnConnectionEstablished();

    /// <summary>Handles a frame that arrived while handshaking.</summary>
    private protected abstract void OnHandshakeFrame(in FrameHeader header);

    private protected void HandshakeSucceeded(byte version)
    {
        Version = version;
        State = ConnectionState.Established;
        Enqueue(new HandshakeSuccess(version));
    }

    private protected void HandshakeFailure(string reason)
    {
        State = ConnectionState.HandshakeFailed;
        ResetInput();
        Enqueue(new HandshakeFailed(reason));
    }

    // ---- input ------------------------------------------------------------------------

    private bool IsReading => State is ConnectionState.Handshaking or ConnectionState.Established;

    private ReadOnlySpan<byte> ReadHeader(ReadOnlySpan<byte> data)
    {
        FrameHeader header;
        FrameReadStatus status;
        int consumed;
        if (_headerLength == 0)
        {
            status = FrameHeader.TryRead(data, out header);
            if (status == FrameReadStatus.NeedMoreData)
            {
                data.CopyTo(_headerBuffer);
                _headerLength = data.Length;
                return default;
            }

            consumed = header.Length;
        }
        else
        {
            int take = Math.Min(data.Length, _headerBuffer.Length - _headerLength);
            data.Slice(0, take).CopyTo(_headerBuffer.AsSpan(_headerLength));
            status = FrameHeader.TryRead(_headerBuffer.AsSpan(0, _headerLength + take), out header);
            if (status == FrameReadStatus.NeedMoreData)
            {
                // The buffer holds the longest header, so here all of data was taken.
                _headerLength += take;
                return default;
            }

            consumed = header.Length - _headerLength;
            _headerLength = 0;
        }

        if (status == FrameReadStatus.UnknownType)
        {
            byte version = _headerLength > 0 ? _headerBuffer[0] : data[0];
            byte op = _headerLength > 1 ? _headerBuffer[1] : data[1 - _headerLength];
            if (State == ConnectionState.Handshaking)
            {
                HandshakeFailure($"Not a TCPChan handshake: first bytes 0x{version:X2} 0x{op:X2}.");
            }
            else
            {
                Fail(ErrorCode.UnknownFrameType, $"Unknown op {op} (version byte {version}).");
            }

            return default;
        }

        HandleHeader(header);
        return data.Slice(consumed);
    }

    private void HandleHeader(in FrameHeader header)
    {
        if (State == ConnectionState.Handshaking)
        {
            OnHandshakeFrame(header);
            return;
        }

        if (header.Version != Version)
        {
            Fail(ErrorCode.ProtocolError, $"Frame {header.Type} carries version byte {header.Version} on a version-{Version} connection.");
            return;
        }

        switch (header.Type)
        {
            case FrameType.CreateChannel:
                HandleCreateChannel(header.ChannelId);
                break;
            case FrameType.CloseChannel:
                HandleCloseChannel(header.ChannelId);
                break;
            case FrameType.ChannelPayload:
                BeginPayload(header.ChannelId, header.PayloadLength);
                break;
            default:
                Fail(ErrorCode.ProtocolError, $"{header.Type} after the handshake completed.");
                break;
        }
    }

    private void HandleCreateChannel(uint id)
    {
        if (_channels.ContainsKey(id))
        {
            Fail(ErrorCode.ChannelIdInUse, $"The peer created channel {id}, which is already open.");
            return;
        }

        if (AddChannel(id, isRemote: true) is null)
        {
            // The factory threw: the channel never opened here, so tell the peer it is closed.
            WriteShortFrame(FrameType.CloseChannel, id);
        }
    }

    private void HandleCloseChannel(uint id)
    {
        // Closing a channel that is not open is a no-op: both sides may close at once.
        if (_channels.ContainsKey(id))
        {
            RemoveChannel(id, ChannelCloseReason.RemoteClose, null);
        }
    }

    private void BeginPayload(uint id, int length)
    {
        _payloadChannelId = id;
        _payloadRemaining = length;
        _payloadChannel = GetChannel(id);
        if (_payloadChannel is null && length > 0)
        {
            Enqueue(new DataDiscarded(id, length));
        }
    }

    private ReadOnlySpan<byte> ReadPayload(ReadOnlySpan<byte> data)
    {
        int count = Math.Min(_payloadRemaining, data.Length);
        _payloadRemaining -= count;
        var channel = _payloadChannel;
        if (channel is not null)
        {
            if (channel.IsClosed)
            {
                // Closed by its own callback while this frame was arriving.
                _payloadChannel = null;
                Enqueue(new DataDiscarded(_payloadChannelId, count + _payloadRemaining));
            }
            else
            {
                try
                {
                    channel.DataReceived(data.Slice(0, count));
                }
                catch (Exception ex)
                {
                    ChannelCallbackFailed(channel, ex);
                }
            }
        }

        if (_payloadRemaining == 0)
        {
            _payloadChannel = null;
        }

        return data.Slice(count);
    }

    private void ResetInput()
    {
        _headerLength = 0;
        _payloadRemaining = 0;
        _payloadChannel = null;
    }

    private void Fail(ErrorCode code, string message)
    {
        foreach (uint id in SnapshotChannelIds())
        {
            RemoveChannel(id, ChannelCloseReason.ProtocolError, null);
        }

        State = ConnectionState.Failed;
        ResetInput();
        Enqueue(new ProtocolError(code, message));
    }

    // ---- channels -----------------------------------------------------------------------

    private void RequireEstablished()
    {
        if (State != ConnectionState.Established)
        {
            throw new InvalidOperationException($"The connection is {State}; channels can be used only once the handshake has succeeded.");
        }
    }

    private uint NextChannelId()
    {
        // Random ids, as the reference picks them: two sides creating at once rarely collide.
        while (true)
        {
            uint id = ((uint)_random.Next(1 << 16) << 16) | (uint)_random.Next(1 << 16);
            if (!_channels.ContainsKey(id))
            {
                return id;
            }
        }
    }

    private Channel? AddChannel(uint id, bool isRemote)
    {
        Channel channel;
        try
        {
            channel = _channelFactory(new ChannelOpenInfo(id, isRemote))
                ?? throw new InvalidOperationException("The channel factory returned null.");
            channel.Attach(this, id, isRemote);
        }
        catch (Exception ex)
        {
            Enqueue(new ChannelClosed(id, ChannelCloseReason.ApplicationError, ex));
            return null;
        }

        _channels.Add(id, channel);
        try
        {
            channel.OnCreated();
        }
        catch (Exception ex)
        {
            Enqueue(new ChannelCreated(channel));
            ChannelCallbackFailed(channel, ex);
            return channel;
        }

        Enqueue(new ChannelCreated(channel));
        return channel;
    }

    private void ChannelCallbackFailed(Channel channel, Exception ex)
    {
        if (channel.IsClosed || !_channels.ContainsKey(channel.ChannelId))
        {
            return;
        }

        if (State == ConnectionState.Established)
        {
            WriteShortFrame(FrameType.CloseChannel, channel.ChannelId);
        }

        RemoveChannel(channel.ChannelId, ChannelCloseReason.ApplicationError, ex);
    }

    private void RemoveChannel(uint id, ChannelCloseReason reason, Exception? exception)
    {
        var channel = _channels[id];
        _channels.Remove(id);
        channel.MarkClosed(reason);
        try
        {
            channel.OnClosed(reason);
        }
        catch (Exception ex)
        {
            exception ??= ex;
        }

        Enqueue(new ChannelClosed(id, reason, exception));
    }

    private uint[] SnapshotChannelIds()
    {
        if (_channels.Count == 0)
        {
            return Array.Empty<uint>();
        }

        var ids = new uint[_channels.Count];
        _channels.Keys.CopyTo(ids, 0);
        return ids;
    }

    // ---- output -------------------------------------------------------------------------

    internal void WriteChannel(Channel channel, ReadOnlySpan<byte> data)
    {
        if (!ReferenceEquals(GetChannel(channel.ChannelId), channel))
        {
            throw new ChannelClosedException(channel.ChannelId, channel.CloseReason ?? ChannelCloseReason.ConnectionClosed);
        }

        Enter();
        try
        {
            while (!data.IsEmpty)
            {
                int n = Math.Min(data.Length, FrameHeader.MaxPayloadLength);
                var transmit = OutputTransmit();
                var span = transmit.GetSpan(FrameWriter.PayloadHeaderLength + n);
                transmit.Advance(FrameWriter.WriteChannelPayload(span, Version, channel.ChannelId, data.Slice(0, n)));
                data = data.Slice(n);
            }
        }
        finally
        {
            Exit();
        }
    }

    private protected void WriteShortFrame(FrameType type, uint value)
    {
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(FrameWriter.ShortFrameLength);
        span[0] = Version;
        span[1] = (byte)type;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span.Slice(2), value);
        transmit.Advance(FrameWriter.ShortFrameLength);
    }

    private DataTransmit OutputTransmit()
    {
        if (_openTransmit is null)
        {
            var transmit = Interlocked.Exchange(ref _spareTransmit, null);
            if (transmit is null)
            {
                transmit = new DataTransmit(this);
            }
            else
            {
                transmit.Reopen();
            }

            _openTransmit = transmit;
            Enqueue(transmit);
        }

        return _openTransmit;
    }

    internal void ReturnTransmit(DataTransmit transmit) => Interlocked.Exchange(ref _spareTransmit, transmit);

    // ---- events -------------------------------------------------------------------------

    private protected void Enqueue(ConnectionEvent e)
    {
        _events.Enqueue(e);
        _eventsAdded = true;
    }

    private void Enter() => _callDepth++;

    private void Exit()
    {
        if (--_callDepth != 0 || _eventCallback is null || _inCallback)
        {
            return;
        }

        // Once per outermost call, and never re-entered: a callback that calls back in
        // (writes while draining) is told about the new events by the loop, not by recursion.
        _inCallback = true;
        try
        {
            while (_eventsAdded && _events.Count > 0)
            {
                _eventsAdded = false;
                _eventCallback();
            }
        }
        finally
        {
            _inCallback = false;
        }
    }
}
