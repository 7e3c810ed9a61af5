using TcpChan.Core;
using TcpChan.Internal;

namespace TcpChan;

/// <summary>
/// A TcpChan connection for code that awaits: connect or accept one over a transport, then
/// <see cref="OpenChannelAsync(string?, CancellationToken)"/> and <see cref="AcceptChannelAsync"/> channels, each a
/// <see cref="TcpChanStream"/>. When the session ends, for any reason, every pending read,
/// write, open, accept and ping completes with a <see cref="TcpChanSessionException"/> that
/// says why; nothing hangs.
/// </summary>
public sealed class TcpChanSession : IAsyncDisposable, ISessionHandler
{
    private readonly AcceptQueue _accepted;
    private readonly TaskCompletionSource _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<ulong, TaskCompletionSource<TimeSpan>> _pings = new();
    private readonly List<TaskCompletionSource> _closeWaiters = new();
    private ulong _nextPing;

    private TcpChanSession(ITcpChanTransport transport, TcpChanSessionOptions? options, bool isClient)
    {
        options ??= new TcpChanSessionOptions();
        int budget = options.Connection.SessionReceiveBudget;
        Segments = new SegmentPool(budget);
        Credit = new SessionCredit(budget);
        Connection connection = isClient
            ? new ClientConnection(_ => new StreamChannel(this), options.Connection)
            : new ServerConnection(_ => new StreamChannel(this), options.Connection);
        Core = new SessionCore(connection, transport, options, this);
        _accepted = new AcceptQueue(Core, options.AcceptBacklog);
    }

    /// <summary>True for the side that connected (sent the handshake request).</summary>
    public bool IsClient => Core.Connection.IsClient;

    /// <summary>The protocol version in use (0 with a reference peer, 1 between two of ours; 0 on yamux, its only version).</summary>
    public byte Version => Core.Connection.Version;

    /// <summary>The wire protocol (<see cref="ConnectionOptions.Protocol"/> of <see cref="TcpChanSessionOptions.Connection"/>): TcpChan or yamux.</summary>
    public WireProtocol Protocol => Core.Connection.Protocol;

    /// <summary>The smoothed round-trip time (version 1), or null before it was measured.</summary>
    public TimeSpan? SmoothedRtt
    {
        get
        {
            lock (Core.Gate)
            {
                return Core.Connection.SmoothedRtt;
            }
        }
    }

    /// <summary>Open channels, both sides' together.</summary>
    public int OpenChannelCount
    {
        get
        {
            lock (Core.Gate)
            {
                return Core.Connection.OpenChannelCount;
            }
        }
    }

    /// <summary>Completes when the session is over and its transport closed.</summary>
    public Task Completion => Core.Completion;

    /// <summary>Why the session ended, once it has.</summary>
    public TcpChanSessionException? EndError => Core.Error;

    internal SessionCore Core { get; }

    /// <summary>Flow control, half-close, reset, ping and go-away: version 1 and yamux (not version 0).</summary>
    internal bool HasFlowControl => Protocol == WireProtocol.Yamux || Version > 0;

    /// <summary>Blocks for the channels' inboxes.</summary>
    internal SegmentPool Segments { get; }

    /// <summary>Credit the channels' readers took and have not given back yet.</summary>
    internal SessionCredit Credit { get; }

    /// <summary>
    /// Runs the client side over <paramref name="transport"/>: handshakes, and returns once the
    /// session is established (on yamux, which has no handshake, at once).
    /// </summary>
    /// <exception cref="TcpChanSessionException">The handshake failed or the transport failed.</exception>
    public static Task<TcpChanSession> ConnectAsync(ITcpChanTransport transport, TcpChanSessionOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new TcpChanSession(transport, options, isClient: true), cancellationToken);

    /// <summary>Runs the server side over <paramref name="transport"/>: waits for the client's handshake (on yamux: established at once).</summary>
    /// <exception cref="TcpChanSessionException">The handshake failed or the transport failed.</exception>
    public static Task<TcpChanSession> AcceptAsync(ITcpChanTransport transport, TcpChanSessionOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new TcpChanSession(transport, options, isClient: false), cancellationToken);

    /// <summary>
    /// Opens a channel. Version 1 sends <paramref name="label"/> with it for the accepting side
    /// (up to 255 bytes of UTF-8). The channel can be written at once; if the peer refuses it
    /// (too many channels, or it is going away), its operations throw a
    /// <see cref="TcpChanChannelException"/> whose <see cref="TcpChanChannelException.IsRetryable"/> is true.
    /// </summary>
    /// <exception cref="NotSupportedException">A label on a yamux session, which has no labels.</exception>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public Task<TcpChanStream> OpenChannelAsync(string? label = null, CancellationToken cancellationToken = default) =>
        OpenChannelAsync(label, SendUrgency.Default, cancellationToken);

    /// <summary>
    /// Opens a channel whose data is sent with <paramref name="urgency"/> (0, most urgent, to 7;
    /// <see cref="TcpChanStream.Urgency"/>): when several channels have data to send, the more
    /// urgent go first, and equal ones take turns. The rest as <see cref="OpenChannelAsync(string?, CancellationToken)"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="urgency"/> is not 0 to 7.</exception>
    /// <exception cref="NotSupportedException">A label on a yamux session, which has no labels.</exception>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public Task<TcpChanStream> OpenChannelAsync(string? label, int urgency, CancellationToken cancellationToken = default)
    {
        if ((uint)urgency > SendUrgency.Least)
        {
            throw new ArgumentOutOfRangeException(nameof(urgency), urgency, "An urgency is 0 (most urgent) to 7.");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TcpChanStream>(cancellationToken);
        }

        StreamChannel channel;
        lock (Core.Gate)
        {
            // The session's end comes back in the task, as from every other async call here.
            if (Core.IsEnding)
            {
                return Task.FromException<TcpChanStream>(EndException());
            }

            if (Core.Connection.IsGoingAway)
            {
                return Task.FromException<TcpChanStream>(new TcpChanSessionException(SessionEndReason.Closed, "The session is going away: no new channels."));
            }

            channel = (StreamChannel)Core.Connection.CreateChannel(label);
            channel.Urgency = urgency;
            Core.TakeEvents();
        }

        Core.Output.Kick();
        return Task.FromResult(channel.Stream);
    }

    /// <summary>Waits for the next channel the peer opens.</summary>
    /// <exception cref="TcpChanSessionException">The session ended.</exception>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public ValueTask<TcpChanStream> AcceptChannelAsync(CancellationToken cancellationToken = default) => _accepted.AcceptAsync(cancellationToken);

    /// <summary>Every channel the peer opens, until the session ends (then the enumeration ends, or throws if it ended abnormally).</summary>
    public IAsyncEnumerable<TcpChanStream> AcceptChannelsAsync(CancellationToken cancellationToken = default) => _accepted.AcceptAllAsync(cancellationToken);

    /// <summary>Version 1 and yamux: measures a round trip to the peer.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var reply = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        ulong opaque;
        lock (Core.Gate)
        {
            ThrowIfEnded();
            opaque = ++_nextPing;

            // The core stamps a ping with the last time it was given. Give it the time now:
            // otherwise an idle session's round trip includes the time since the last input or
            // timer tick (up to a second).
            Core.Connection.HandleTimeout(Clock.Now);
            Core.Connection.Ping(opaque);
            _pings[opaque] = reply;
            Core.TakeEvents();
        }

        Core.Output.Kick();
        try
        {
            return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (Core.Gate)
            {
                _pings.Remove(opaque);
            }
        }
    }

    /// <summary>
    /// Closes gracefully: tells the peer to open no more channels (version 1 go-away), lets the
    /// open channels finish for up to <paramref name="drainTimeout"/> (default 30 s), then
    /// closes the session. Channels still open then fail with a session exception.
    /// </summary>
    public async Task CloseAsync(TimeSpan? drainTimeout = null, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource? drained = null;
        lock (Core.Gate)
        {
            if (!Core.IsEnding && Core.Connection.State == ConnectionState.Established)
            {
                if (HasFlowControl)
                {
                    Core.Connection.GoAway();
                    Core.TakeEvents();
                }

                if (Core.Connection.OpenChannelCount > 0)
                {
                    drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _closeWaiters.Add(drained);
                }
            }
        }

        Core.Output.Kick();
        if (drained is not null)
        {
            try
            {
                await drained.Task.WaitAsync(drainTimeout ?? TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }

        Core.Terminate(new TcpChanSessionException(SessionEndReason.Closed, "The session was closed."), graceful: true);
        await Core.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the session at once (open channels fail) and waits for the transport to close.</summary>
    public async ValueTask DisposeAsync()
    {
        Core.Terminate(new TcpChanSessionException(SessionEndReason.Closed, "The session was disposed."), graceful: true);
        await Core.Completion.ConfigureAwait(false);
    }

    /// <summary>
    /// The error a channel that closed with the whole session fails with. The core closes the
    /// channels before the event that says why is handled (a protocol error, a keepalive
    /// timeout), so until then the channel's reason says it.
    /// </summary>
    internal TcpChanSessionException SessionFailure(ChannelCloseReason reason) => Core.Error ?? reason switch
    {
        ChannelCloseReason.ProtocolError => new TcpChanSessionException(SessionEndReason.ProtocolError, "The peer broke the protocol."),
        ChannelCloseReason.KeepAliveTimeout => new TcpChanSessionException(SessionEndReason.KeepAliveTimeout, "Nothing arrived from the peer within the keepalive timeout."),
        ChannelCloseReason.ConnectionLost => new TcpChanSessionException(SessionEndReason.ConnectionLost, "The connection was lost."),
        _ => new TcpChanSessionException(SessionEndReason.Closed, "The session was closed."),
    };

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void OnChannelClosed()
    {
        // Under the gate.
        if (_closeWaiters.Count > 0 && Core.Connection.OpenChannelCount == 0)
        {
            foreach (var waiter in _closeWaiters)
            {
                waiter.TrySetResult();
            }

            _closeWaiters.Clear();
        }
    }

    void ISessionHandler.OnEvent(ConnectionEvent e)
    {
        switch (e)
        {
            case HandshakeSuccess:
                _handshake.TrySetResult();
                break;
            case ChannelCreated { Channel: StreamChannel { IsRemote: true } created }:
                _accepted.Offer(created);
                break;
            case ChannelClosed closed:
                (closed.Channel as StreamChannel)?.Closed(closed.Reason);
                OnChannelClosed();
                break;
            case PingAcknowledged ack when _pings.TryGetValue(ack.Opaque, out var reply):
                reply.TrySetResult(ack.RoundTripTime);
                break;
        }
    }

    void ISessionHandler.OnTick() => Segments.Trim();

    void ISessionHandler.OnTerminated(TcpChanSessionException error)
    {
        _handshake.TrySetException(error);
        _accepted.Complete();
        lock (Core.Gate)
        {
            foreach (var reply in _pings.Values)
            {
                reply.TrySetException(error);
            }

            foreach (var waiter in _closeWaiters)
            {
                waiter.TrySetResult();
            }

            _closeWaiters.Clear();
        }
    }

    private static async Task<TcpChanSession> StartAsync(TcpChanSession session, CancellationToken cancellationToken)
    {
        session.Core.Start();
        try
        {
            await session._handshake.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void ThrowIfEnded()
    {
        if (Core.IsEnding)
        {
            throw EndException();
        }
    }

    private TcpChanSessionException EndException() => Core.EndException();
}
