using System.Diagnostics;
using System.Net.Sockets;
using System.Threading.Channels;
using TcpChan.Core;

namespace TcpChan.Examples.Echo;

/// <summary>
/// Drives one TcpChan connection over one TCP socket, by hand: read bytes into a buffer,
/// feed them to <see cref="Connection.DataReceived(ReadOnlySpan{byte}, TimeSpan)"/>, drain
/// <see cref="Connection.NextEvent"/>, write each <see cref="DataTransmit"/> to the socket, and
/// run the connection's timers (<see cref="Connection.NextDeadline"/>, <see cref="Connection.HandleTimeout"/>).
/// The core is not thread-safe, so every call into it (from the read loop, the timer or the
/// application) holds one lock.
/// </summary>
public sealed class SocketDriver
{
    // Version 1: how many bytes of control frames (window updates, ping answers) may wait for
    // the socket beyond the data the peer gave credit for, before the read loop waits too.
    private const long ControlAllowance = 1 << 20;

    // The timer wakes at the connection's next deadline, and at least this often.
    private static readonly TimeSpan MaxTimerSleep = TimeSpan.FromSeconds(1);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Connection _connection;
    private readonly Action<ConnectionEvent> _onEvent;
    private readonly object _gate = new();

    // A monotonic clock for the connection: it never goes back when the wall clock is changed.
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    // Output leaves through one queue, filled under the lock, so frames reach the socket in
    // the order the connection produced them, whichever task produced them. A marker
    // (Written) completes once everything queued before it is written.
    private readonly Channel<Outgoing> _outgoing =
        System.Threading.Channels.Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });

    // Bytes queued for the socket and not yet written.
    private long _unwritten;

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
            _connection.ConnectionEstablished(Now);
            Drain();
        }
    }

    /// <summary>Why the connection ended, once it has.</summary>
    public string? EndReason { get; private set; }

    /// <summary>The time given to the connection: monotonic, from this driver's start.</summary>
    public TimeSpan Now => _clock.Elapsed;

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
    /// protocol or went silent (keepalive), either side closed, the socket failed, or
    /// <paramref name="cancellationToken"/> fired. Does not throw for any of these;
    /// <see cref="EndReason"/> says which.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task sending = SendLoopAsync(stop);
        Task timing = TimerLoopAsync(stop.Token);
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer, stop.Token);
                Task? written;
                bool wait;
                lock (_gate)
                {
                    if (n == 0)
                    {
                        EndReason ??= "the peer closed the connection";
                        _connection.ConnectionLost();
                    }
                    else
                    {
                        _connection.DataReceived(buffer.AsSpan(0, n), Now);
                        RunDueTimers();
                    }

                    written = Drain();
                    wait = MustWaitForOutput();
                }

                if (!IsLive)
                {
                    break;
                }

                if (written is not null && wait)
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
            stop.Cancel();
            await timing;
        }
    }

    private bool IsLive => _connection.State is ConnectionState.Handshaking or ConnectionState.Established;

    // Under the lock. Read no more until our answer is out, so that a peer that sends
    // without reading cannot make us queue output without bound. Version 0 has no flow
    // control: always wait. Version 1: the data we queue can never exceed the credit the
    // peer gave (its session window), so wait only beyond that, for a peer that floods us
    // with pings or updates while reading nothing. Two drivers of ours then never both wait
    // on each other's full socket buffers, which could deadlock.
    private bool MustWaitForOutput() =>
        _connection.State != ConnectionState.Established
        || _connection.Version == 0
        || Interlocked.Read(ref _unwritten) > _connection.PeerSettings.InitialSessionWindow + ControlAllowance;

    // Under the lock: tells the connection the time if a deadline has passed (handshake
    // timeout, keepalive ping, keepalive timeout).
    private void RunDueTimers()
    {
        var now = Now;
        if (_connection.NextDeadline is { } deadline && now >= deadline)
        {
            _connection.HandleTimeout(now);
        }
    }

    // Wakes at the connection's next deadline (or every second) and runs the timers that are due.
    private async Task TimerLoopAsync(CancellationToken token)
    {
        try
        {
            while (true)
            {
                TimeSpan sleep;
                lock (_gate)
                {
                    if (!IsLive)
                    {
                        return;
                    }

                    RunDueTimers();
                    Drain();
                    sleep = _connection.NextDeadline is { } deadline ? deadline - Now : MaxTimerSleep;
                }

                sleep = sleep < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : sleep > MaxTimerSleep ? MaxTimerSleep : sleep;
                await Task.Delay(sleep, token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The connection is over.
        }
    }

    private async Task SendLoopAsync(CancellationTokenSource stop)
    {
        try
        {
            await foreach (var item in _outgoing.Reader.ReadAllAsync(stop.Token))
            {
                if (item.Transmit is { } transmit)
                {
                    int length = transmit.Payload.Length;
                    await _stream.WriteAsync(transmit.Payload, stop.Token);
                    transmit.Dispose(); // hands the buffer back to the connection for reuse
                    Interlocked.Add(ref _unwritten, -length);
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
                    Interlocked.Add(ref _unwritten, transmit.Payload.Length);
                    if (_outgoing.Writer.TryWrite(new Outgoing(transmit, null)))
                    {
                        queued = true;
                    }
                    else
                    {
                        Interlocked.Add(ref _unwritten, -transmit.Payload.Length);
                    }

                    continue;
                case HandshakeFailed failed:
                    EndReason ??= "handshake failed: " + failed.Reason;
                    break;
                case ProtocolError error:
                    EndReason ??= $"protocol error ({error.Code}): {error.Message}";
                    break;
                case KeepAliveTimedOut timedOut:
                    // Every channel was closed first; a go-away is queued; the connection is over.
                    EndReason ??= $"keepalive timeout: nothing from the peer for {timedOut.Silence.TotalSeconds:0.#} s";
                    break;
            }

            // The others (HandshakeSuccess, ChannelCreated, ChannelClosed, DataDiscarded, and in
            // version 1 PingAcknowledged, GoAwayReceived) are the application's business.
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
