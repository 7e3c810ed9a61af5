using Microsoft.Extensions.Logging;
using TcpChan.Core;
using TcpChan.Internal;

namespace TcpChan;

/// <summary>
/// A TcpChan connection driven for you, in the shape of the Python asyncio adapter: made
/// with a channel factory (your <see cref="Channel"/> subclasses, whose <c>DataReceived</c>
/// gets the data), it calls the overridable <see cref="HandshakeSuccess"/>,
/// <see cref="HandshakeFailed"/>, <see cref="ChannelCreated"/>, <see cref="ChannelClosed"/> and
/// <see cref="ConnectionLost"/> as things happen. Use <see cref="TcpChanServerProtocol"/> or
/// <see cref="TcpChanClientProtocol"/>, and run it with <see cref="RunAsync"/> over a
/// transport (or let a listener do it, one protocol instance per connection).
/// </summary>
/// <remarks>
/// Like asyncio, one thing at a time: every callback, and every channel callback, runs under
/// the protocol's lock. Channels may be used freely inside callbacks; from other threads, go
/// through <see cref="Invoke"/> (or <see cref="CreateChannel"/>, which does).
/// </remarks>
public abstract class TcpChanProtocol : ISessionHandler
{
    private readonly Func<ChannelOpenInfo, Channel> _channelFactory;
    private readonly TcpChanSessionOptions _options;
    private SessionCore? _core;
    private bool _handshakeFailedCalled;

    private protected TcpChanProtocol(Func<Channel> channelFactory, TcpChanSessionOptions? options)
    {
        if (channelFactory is null)
        {
            throw new ArgumentNullException(nameof(channelFactory));
        }

        _channelFactory = _ => channelFactory();
        _options = options ?? new TcpChanSessionOptions();
    }

    /// <summary>True for the side that connects.</summary>
    public abstract bool IsClient { get; }

    /// <summary>The core connection (use it under <see cref="Invoke"/>).</summary>
    /// <exception cref="InvalidOperationException">Not running yet.</exception>
    public Connection Connection => Core.Connection;

    /// <summary>Why the connection ended, once it has.</summary>
    public TcpChanSessionException? EndError => _core?.Error;

    private SessionCore Core => _core ?? throw new InvalidOperationException("The protocol is not running; call RunAsync.");

    /// <summary>
    /// Runs the protocol over <paramref name="transport"/> until the connection ends (peer
    /// gone, protocol error, <see cref="Close"/>, or <paramref name="cancellationToken"/>).
    /// Does not throw for the connection ending: <see cref="ConnectionLost"/> says why.
    /// </summary>
    public async Task RunAsync(ITcpChanTransport transport, CancellationToken cancellationToken = default)
    {
        if (_core is not null)
        {
            throw new InvalidOperationException("A protocol instance runs once; make one per connection.");
        }

        Connection connection = IsClient
            ? new ClientConnection(_channelFactory, _options.Connection)
            : new ServerConnection(_channelFactory, _options.Connection);
        _core = new SessionCore(connection, transport, _options, this);
        using var registration = cancellationToken.Register(() => Close());
        _core.Start();
        await _core.Completion.ConfigureAwait(false);

        // Last, once every channel's ChannelClosed was called (the driver handled every event
        // before completing), and under the lock like every other callback.
        var error = _core.Error ?? new TcpChanSessionException(SessionEndReason.Closed, "The protocol was closed.");
        lock (_core.Gate)
        {
            if (error.Reason == SessionEndReason.HandshakeFailed && !_handshakeFailedCalled)
            {
                // A server that rejects the magic just closes: the client learns it only so.
                Call(() => HandshakeFailed(error.Message));
            }

            Call(() => ConnectionLost(error));
        }
    }

    /// <summary>Creates a channel (thread-safe): the factory makes it, the peer is told.</summary>
    public Channel CreateChannel(string? label = null)
    {
        Channel channel;
        lock (Core.Gate)
        {
            channel = Core.Connection.CreateChannel(label);
            Core.TakeEvents();
        }

        Core.Output.Kick();
        return channel;
    }

    /// <summary>Runs <paramref name="action"/> under the protocol's lock, then sends what it produced. Thread-safe.</summary>
    public void Invoke(Action action)
    {
        lock (Core.Gate)
        {
            try
            {
                action();
            }
            finally
            {
                Core.TakeEvents();
            }
        }

        Core.Output.Kick();
    }

    /// <summary>Closes the connection: version 1 sends a go-away, queued output is flushed, the transport closed.</summary>
    public void Close() =>
        _core?.Terminate(new TcpChanSessionException(SessionEndReason.Closed, "The protocol was closed."), graceful: true);

    /// <summary>The handshake succeeded; channels may be created.</summary>
    public virtual void HandshakeSuccess()
    {
    }

    /// <summary>The handshake failed (for a client, also when the server closed the connection during it); the connection closes.</summary>
    public virtual void HandshakeFailed(string reason)
    {
    }

    /// <summary>A channel was created, by either side.</summary>
    public virtual void ChannelCreated(Channel channel)
    {
    }

    /// <summary>A channel closed, on either side's initiative; its <see cref="Channel.CloseReason"/> and <see cref="Channel.CloseCode"/> say why. Called once for each channel <see cref="ChannelCreated"/> was called for.</summary>
    public virtual void ChannelClosed(Channel channel)
    {
    }

    /// <summary>The connection ended; <paramref name="error"/> says why. Called once, last: after every <see cref="ChannelClosed"/>, once the transport is closed.</summary>
    public virtual void ConnectionLost(TcpChanSessionException error)
    {
    }

    void ISessionHandler.OnEvent(ConnectionEvent e)
    {
        switch (e)
        {
            case TcpChan.Core.HandshakeSuccess:
                HandshakeSuccess();
                break;
            case TcpChan.Core.HandshakeFailed failed:
                _handshakeFailedCalled = true;
                HandshakeFailed(failed.Reason);
                break;
            case TcpChan.Core.ChannelCreated created:
                ChannelCreated(created.Channel);
                break;
            case TcpChan.Core.ChannelClosed { Channel: { } closed }:
                ChannelClosed(closed);
                break;
        }
    }

    void ISessionHandler.OnTick()
    {
    }

    void ISessionHandler.OnTerminated(TcpChanSessionException error)
    {
        // ConnectionLost comes from RunAsync, after the channels' last events.
    }

    private void Call(Action callback)
    {
        try
        {
            callback();
        }
        catch (Exception ex)
        {
            _options.Logger?.LogError(ex, "A TcpChan protocol callback threw.");
        }
    }
}

/// <summary>The server side of <see cref="TcpChanProtocol"/>: waits for the client's handshake.</summary>
public class TcpChanServerProtocol : TcpChanProtocol
{
    /// <summary>Creates the protocol with the factory of its channels.</summary>
    public TcpChanServerProtocol(Func<Channel> channelFactory, TcpChanSessionOptions? options = null)
        : base(channelFactory, options)
    {
    }

    /// <inheritdoc />
    public sealed override bool IsClient => false;
}

/// <summary>The client side of <see cref="TcpChanProtocol"/>: sends the handshake when the transport is up.</summary>
public class TcpChanClientProtocol : TcpChanProtocol
{
    /// <summary>Creates the protocol with the factory of its channels.</summary>
    public TcpChanClientProtocol(Func<Channel> channelFactory, TcpChanSessionOptions? options = null)
        : base(channelFactory, options)
    {
    }

    /// <inheritdoc />
    public sealed override bool IsClient => true;
}
