using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace TcpChan;

/// <summary>
/// Accepts TCP connections and runs a TcpChan server on each: either as sessions
/// (<see cref="AcceptSessionAsync"/>) or as protocol instances (<see cref="ServeAsync"/>).
/// Handshakes run concurrently, so a slow or bogus client never holds up the others.
/// </summary>
public sealed class TcpChanListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly TcpChanSessionOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly System.Threading.Channels.Channel<TcpChanSession> _sessions =
        System.Threading.Channels.Channel.CreateUnbounded<TcpChanSession>();

    private Task? _acceptLoop;

    private TcpChanListener(Socket socket, TcpChanSessionOptions options)
    {
        _socket = socket;
        _options = options;
    }

    /// <summary>Where the listener listens (with the real port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Starts listening on <paramref name="endPoint"/>.</summary>
    /// <exception cref="SocketException">The address is in use or cannot be bound.</exception>
    public static TcpChanListener Start(IPEndPoint endPoint, TcpChanSessionOptions? options = null, int backlog = 512)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new TcpChanListener(socket, options ?? new TcpChanSessionOptions());
    }

    /// <summary>Waits for the next client whose handshake succeeded. Failed handshakes are logged and skipped.</summary>
    public async ValueTask<TcpChanSession> AcceptSessionAsync(CancellationToken cancellationToken = default)
    {
        StartAcceptLoop();
        try
        {
            return await _sessions.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(TcpChanListener));
        }
    }

    /// <summary>Every session accepted, until the listener is disposed or <paramref name="cancellationToken"/> fires.</summary>
    public async IAsyncEnumerable<TcpChanSession> AcceptSessionsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        StartAcceptLoop();
        await foreach (var session in _sessions.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return session;
        }
    }

    /// <summary>
    /// Serves every connection with a new protocol from <paramref name="protocolFactory"/> (a factory
    /// or protocol that throws is logged and costs only its connection), until
    /// <paramref name="cancellationToken"/> fires or the listener is disposed; then closes the
    /// protocols still running and waits for them.
    /// </summary>
    public async Task ServeAsync(Func<TcpChanServerProtocol> protocolFactory, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        var running = new HashSet<Task>();
        try
        {
            while (true)
            {
                var socket = await _socket.AcceptAsync(linked.Token).ConfigureAwait(false);
                var task = ServeOneAsync(socket, protocolFactory, linked.Token);
                lock (running)
                {
                    running.Add(task);
                }

                _ = task.ContinueWith(t => { lock (running) { running.Remove(t); } }, TaskScheduler.Default);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException && linked.IsCancellationRequested)
        {
        }

        Task[] remaining;
        lock (running)
        {
            remaining = running.ToArray();
        }

        await Task.WhenAll(remaining).ConfigureAwait(false);
    }

    /// <summary>Runs one connection's protocol; a factory or protocol that throws costs that connection only.</summary>
    private async Task ServeOneAsync(Socket socket, Func<TcpChanServerProtocol> protocolFactory, CancellationToken cancellationToken)
    {
        var remote = socket.RemoteEndPoint;
        var transport = new SocketTransport(socket);
        try
        {
            await protocolFactory().RunAsync(transport, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _options.Logger?.LogError(ex, "Serving a TcpChan connection from {Remote} failed.", remote);
        }
        finally
        {
            // Already closed when the protocol ran; closes it when it could not start.
            await transport.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops listening. Sessions already accepted go on; those handshaken but never accepted are closed.</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _socket.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        _sessions.Writer.TryComplete();

        // Nobody holds these: left alone they would run until their peers went away.
        while (_sessions.Reader.TryRead(out var session))
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void StartAcceptLoop()
    {
        // Once, even when the first accepts race: a second loop would split the sessions.
        if (Volatile.Read(ref _acceptLoop) is null)
        {
            var loop = new Task<Task>(AcceptLoopAsync);
            if (Interlocked.CompareExchange(ref _acceptLoop, loop.Unwrap(), null) is null)
            {
                loop.Start(TaskScheduler.Default);
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
                _ = HandshakeAsync(socket);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _options.Logger?.LogError(ex, "The TcpChan listener stopped accepting.");
        }
        finally
        {
            _sessions.Writer.TryComplete();
        }
    }

    private async Task HandshakeAsync(Socket socket)
    {
        var remote = socket.RemoteEndPoint;
        try
        {
            var session = await TcpChanSession.AcceptAsync(new SocketTransport(socket), _options, _stop.Token).ConfigureAwait(false);
            if (!_sessions.Writer.TryWrite(session))
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            _options.Logger?.LogWarning("A TcpChan client from {Remote} failed its handshake: {Message}", remote, ex.Message);
        }
    }
}
