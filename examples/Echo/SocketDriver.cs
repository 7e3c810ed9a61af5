using System.Net.Sockets;
using System.Threading.Channels;
using TcpChan.Core;

namespace TcpChan.Examples.Echo;

/// <summary>
/// Drives one TcpChan connection over one TCP socket, by hand: read bytes into a buffer,
/// feed them to <see cref="Connection.DataReceived"/>, drain <see cref="Connection.NextEvent"/>,
/// write each <see cref="DataTransmit"/> to the socket. The core is not thread-safe, so
/// every call into it (from the read loop or from the application) holds one lock.
/// </summary>
public sealed class SocketDriver
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Connection _connection;
    private readonly Action<ConnectionEvent> _onEvent;
    private readonly object _gate = new();

    // Output leaves through one queue, filled under the lock, so frames reach the socket in
    // the order the connection produced them, whichever task produced them. A marker
    // (Written) completes once everything queued before it is written.
    private readonly Channel<Outgoing> _outgoing =
        System.Threading.Channels.Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>
    /// Takes over a connected socket and a new connection, and starts the connection (a
    /// client queues its handshake request). <paramref name="onEvent"/> sees every event but
    /// <see cref="DataTransmit"/>, under the lock.
    /// </summary>
    public SocketDriver(TcpClient tcp, Connection connection, Action<ConnectionEvent> onEvent)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _connection = connection;
        _onEvent = onEvent;
        lock (_gate)
        {
            _connection.ConnectionEstablished();
            Drain();
        }
    }

    /// <summary>Why the connection ended, once it has.</summary>
    public string? EndReason { get; private set; }

    /// <summary>
    /// Runs <paramref name="action"/> on the connection under the lock and queues its output.
    /// The task completes once that output is written to the socket (or can never be), which
    /// lets a bulk writer go at the pace of the network.
    /// </summary>
    public Task InvokeAsync(Action<Connection> action)
    {
        Task? written;
        lock (_gate)
        {
            try
            {
                action(_connection);
            }
            finally
            {
                written = Drain();
            }
        }

        return written ?? Task.CompletedTask;
    }

    /// <summary>
    /// Reads and sends until the connection is over: the handshake failed, the peer broke the
    /// protocol, either side closed, the socket failed, or <paramref name="cancellationToken"/>
    /// fired. Does not throw for any of these; <see cref="EndReason"/> says which.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task sending = SendLoopAsync(stop);
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer, stop.Token);
                Task? written;
                lock (_gate)
                {
                    if (n == 0)
                    {
                        EndReason ??= "the peer closed the connection";
                        _connection.ConnectionLost();
                    }
                    else
                    {
                        _connection.DataReceived(buffer.AsSpan(0, n));
                    }

                    written = Drain();
                }

                if (!IsLive)
                {
                    break;
                }

                // Read no more until our answer is out: a peer that sends without reading
                // must not make us queue output without bound.
                if (written is not null)
                {
                    await written.WaitAsync(stop.Token);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The send loop finished (the connection is over) or we were told to stop.
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            EndReason ??= "connection lost: " + ex.Message;
        }
        finally
        {
            lock (_gate)
            {
                if (IsLive)
                {
                    // Ended from outside the protocol: cancelled, or an unexpected exception.
                    EndReason ??= cancellationToken.IsCancellationRequested ? "stopped" : "the driver failed";
                }

                // Closes whatever is still open (reason ConnectionLost); a no-op if it is over.
                // Drain then completes the queue, which lets the send loop finish.
                _connection.ConnectionLost();
                Drain();
            }

            await sending;
        }
    }

    private bool IsLive => _connection.State is ConnectionState.Handshaking or ConnectionState.Established;

    private async Task SendLoopAsync(CancellationTokenSource stop)
    {
        try
        {
            await foreach (var item in _outgoing.Reader.ReadAllAsync(stop.Token))
            {
                if (item.Transmit is { } transmit)
                {
                    await _stream.WriteAsync(transmit.Payload, stop.Token);
                    transmit.Dispose(); // hands the buffer back to the connection for reuse
                }

                item.Written?.TrySetResult();
            }

            // All output is out and the connection is over: let the peer see the end of the stream.
            _tcp.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            lock (_gate)
            {
                EndReason ??= ex is OperationCanceledException ? "stopped" : "connection lost: " + ex.Message;
                _connection.ConnectionLost();
                Drain();
            }
        }
        finally
        {
            stop.Cancel(); // ends the read loop, if it is still reading
            while (_outgoing.Reader.TryRead(out var item))
            {
                item.Written?.TrySetResult(); // nothing more will be written: release the waiters
            }
        }
    }

    // Under the lock: hands every event to its place. Returns a task that completes when the
    // output queued here is written, or null if there was none.
    private Task? Drain()
    {
        bool queued = false;
        while (_connection.NextEvent() is { } e)
        {
            switch (e)
            {
                case DataTransmit transmit:
                    queued |= _outgoing.Writer.TryWrite(new Outgoing(transmit, null));
                    continue;
                case HandshakeFailed failed:
                    EndReason ??= "handshake failed: " + failed.Reason;
                    break;
                case ProtocolError error:
                    EndReason ??= $"protocol error ({error.Code}): {error.Message}";
                    break;
            }

            _onEvent(e);
        }

        Task? written = null;
        if (queued)
        {
            var marker = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            written = _outgoing.Writer.TryWrite(new Outgoing(null, marker)) ? marker.Task : Task.CompletedTask;
        }

        if (!IsLive)
        {
            EndReason ??= "closed by this side";
            _outgoing.Writer.TryComplete(); // the send loop ends once the queue is empty
        }

        return written;
    }

    private readonly record struct Outgoing(DataTransmit? Transmit, TaskCompletionSource? Written);
}
