using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>
/// Core to transport: the frames the core produced wait here (<see cref="Enqueue"/>, under the
/// gate) until a sender writes them, everything queued at once, small frames of many channels
/// copied into one write. There is no send task: whoever has output and finds no sender active
/// becomes the sender (<see cref="Kick"/>) and stays it, on the threads the sends complete on,
/// until nothing is queued. One sender at a time, so frames leave in the core's order.
/// </summary>
/// <remarks>
/// Nobody waits for a send: a writer's backpressure is the unsent limit
/// (<see cref="IsOverLimit"/>, <see cref="WaitForRoom"/>), and the input pump never blocks on
/// output (both sides writing more than a window cannot deadlock). A continuation that the
/// input pump runs inline does not send from there either: it leaves the output to a sender on
/// the thread pool, so woken readers do not queue behind each other's system calls, and their
/// frames leave together.
/// </remarks>
internal sealed class OutputPump : IThreadPoolWorkItem
{
    private const int CoalesceLimit = 16 * 1024;       // transmits up to this size are copied into one write
    private const int CoalesceBufferSize = 256 * 1024;
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);

    private readonly SessionCore _core;
    private readonly ITcpChanTransport _transport;
    private readonly CancellationTokenSource _abort = new();
    private readonly Action _onSent;
    private readonly List<StreamChannel> _roomWaiters = new(); // under the gate
    private List<DataTransmit> _queued = new();                // under the gate
    private List<DataTransmit> _batch = new();                 // the sender's
    private long _unsent;       // bytes queued or being sent (under the gate)
    private int _batchBytes;    // the sender's batch, counted once it has left
    private int _active;        // 1 while a sender runs
    private int _scheduled;     // 1 while a thread-pool sender is on its way
    private bool _finishing;    // under the gate: the session ended; close the transport once all is sent
    private bool _closed;
    private bool _broken;       // a send failed: nothing more goes
    private byte[]? _coalesce;
    private ValueTask _send;

    public OutputPump(SessionCore core, ITcpChanTransport transport)
    {
        _core = core;
        _transport = transport;
        _onSent = OnSent;
    }

    /// <summary>True when more than the limit is queued but not yet sent, so writers should wait. Under the gate.</summary>
    public bool IsOverLimit => _unsent > _core.Options.MaxUnsentBytes && !_finishing;

    /// <summary>The core's output (under the gate).</summary>
    public void Enqueue(DataTransmit transmit)
    {
        if (_broken)
        {
            transmit.Dispose();
            return;
        }

        _queued.Add(transmit);
        _unsent += transmit.Payload.Length;
    }

    /// <summary>A writer waits for the unsent bytes to drop to the limit: its channel's writable signal is set then (under the gate).</summary>
    public void WaitForRoom(StreamChannel channel) => _roomWaiters.Add(channel);

    /// <summary>The session ended (under the gate): what is queued still goes, within a bound; then the transport closes.</summary>
    public void Finish(bool fast)
    {
        _finishing = true;

        // A peer silent past the keepalive timeout will not take the go-away either: no flush wait.
        // (CancelAfter, even for zero: the cancellation runs on a timer thread, not inside this call.)
        _abort.CancelAfter(fast ? TimeSpan.Zero : FlushTimeout);
        WakeRoomWaiters();
    }

    /// <summary>
    /// Sends what is queued if no sender is active (outside the gate; never waits). On a thread
    /// running the input pump's wake-ups, a thread-pool sender does it instead.
    /// </summary>
    public void Kick()
    {
        if (InputPump.IsWaking(_core))
        {
            if (Volatile.Read(ref _active) == 0 && Interlocked.Exchange(ref _scheduled, 1) == 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }

            return;
        }

        if (Interlocked.CompareExchange(ref _active, 1, 0) == 0)
        {
            SendLoop();
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        Volatile.Write(ref _scheduled, 0);
        if (Interlocked.CompareExchange(ref _active, 1, 0) == 0)
        {
            SendLoop();
        }
    }

    /// <summary>The sender: batch after batch until nothing is queued; lets go under the gate, where output is queued, so nothing is missed.</summary>
    private void SendLoop()
    {
        while (true)
        {
            bool done = false;
            bool close = false;
            lock (_core.Gate)
            {
                Sent();
                (_queued, _batch) = (_batch, _queued);
                if (_batch.Count == 0 || _broken)
                {
                    // (Broken: what was queued can never leave.) Let go here, under the gate:
                    // from the next line on another sender may already run.
                    DisposeBatch();
                    close = _finishing && !_closed;
                    _closed |= close;
                    done = true;
                    Volatile.Write(ref _active, 0);
                }
            }

            if (done)
            {
                if (close)
                {
                    _ = CloseTransportAsync();
                }

                return;
            }

            // (An async method: a failure comes in the ValueTask, never thrown here.)
            var send = SendBatchAsync();
            if (!send.IsCompleted)
            {
                _send = send;
                send.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onSent);
                return;
            }

            if (!Completed(send))
            {
                return;
            }
        }
    }

    private void OnSent()
    {
        if (Completed(_send))
        {
            SendLoop();
        }
    }

    private bool Completed(ValueTask send)
    {
        try
        {
            send.GetAwaiter().GetResult();
            return true;
        }
        catch (Exception ex)
        {
            Failed(ex);
            return false;
        }
    }

    /// <summary>
    /// Writes the batch: one transmit as it is; several (many channels' frames, each taken after
    /// its own call into the core) copied into one buffer, except large ones, which go as they are.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendBatchAsync()
    {
        var token = _abort.Token;
        int total = 0;
        int pending = 0;
        foreach (var transmit in _batch)
        {
            var payload = transmit.Payload;
            total += payload.Length;
            if (_batch.Count == 1 || payload.Length > CoalesceLimit)
            {
                if (pending > 0)
                {
                    await _transport.SendAsync(_coalesce.AsMemory(0, pending), token).ConfigureAwait(false);
                    pending = 0;
                }

                await _transport.SendAsync(payload, token).ConfigureAwait(false);
                continue;
            }

            if (pending + payload.Length > CoalesceBufferSize)
            {
                await _transport.SendAsync(_coalesce.AsMemory(0, pending), token).ConfigureAwait(false);
                pending = 0;
            }

            _coalesce ??= new byte[CoalesceBufferSize];
            payload.Span.CopyTo(_coalesce.AsSpan(pending));
            pending += payload.Length;
        }

        if (pending > 0)
        {
            await _transport.SendAsync(_coalesce.AsMemory(0, pending), token).ConfigureAwait(false);
        }

        _batchBytes = total;
        TcpChanMetrics.BytesSent.Add(total);
    }

    /// <summary>The batch that left (under the gate): its bytes no longer count, writers waiting for room may go on.</summary>
    private void Sent()
    {
        if (_batchBytes == 0)
        {
            return;
        }

        DisposeBatch();
        _unsent -= _batchBytes;
        _batchBytes = 0;
        if (_unsent <= _core.Options.MaxUnsentBytes)
        {
            WakeRoomWaiters();
        }
    }

    private void DisposeBatch()
    {
        foreach (var transmit in _batch)
        {
            transmit.Dispose();
        }

        _batch.Clear();
    }

    private void WakeRoomWaiters()
    {
        foreach (var channel in _roomWaiters)
        {
            channel.Writable.Set();
        }

        _roomWaiters.Clear();
    }

    /// <summary>A send failed: the session ends, nothing more is sent, the transport closes.</summary>
    private void Failed(Exception error)
    {
        lock (_core.Gate)
        {
            _broken = true;
            _batchBytes = 0;
            DisposeBatch();
        }

        _core.TransportLost(error);

        // The session is ending now (Finish ran): this sender lets go and closes the transport.
        SendLoop();
    }

    private async Task CloseTransportAsync()
    {
        try
        {
            await _transport.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _core.Logger?.LogDebug(ex, "Closing the transport failed.");
        }
        finally
        {
            _core.PartEnded();
        }
    }
}
