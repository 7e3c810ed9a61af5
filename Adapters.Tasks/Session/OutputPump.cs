using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>
/// Core to transport. Output stays in the core until the transport is ready for it: then a
/// sender takes a batch (<see cref="Connection.TakeOutput"/>: the frames written since, then the
/// channels' queued data, most urgent first, one frame per channel per turn) and writes it.
/// There is no send task: whoever has output and finds no sender active becomes the sender
/// (<see cref="Kick"/>) and stays it, on the threads the sends complete on, until nothing is
/// left. One sender at a time, so frames leave in the core's order.
/// </summary>
/// <remarks>
/// Nobody waits for a send: a writer's backpressure is the unsent limit
/// (<see cref="IsOverLimit"/>, <see cref="WaitForRoom"/>), and the input pump never blocks on
/// output (both sides writing more than a window cannot deadlock). A batch is small
/// (<see cref="BatchBytes"/>) while channels take turns or once the transport has made a write
/// wait, so a late urgent frame waits behind little; with one channel sending it grows while
/// writes complete at once (<see cref="MaxBatchBytes"/>): fewer system calls for bulk. A continuation that
/// the input pump runs inline does not send from there: it leaves the output to a sender on the
/// thread pool, so woken readers do not queue behind each other's system calls and their frames
/// leave together.
/// </remarks>
internal sealed class OutputPump : IThreadPoolWorkItem
{
    /// <summary>What one transport write takes from the core after a write had to wait (control frames are never held back).</summary>
    public const int BatchBytes = 128 * 1024;

    /// <summary>What it may take while one channel at most sends and the transport keeps up: each write that completes at once doubles the batch up to this.</summary>
    public const int MaxBatchBytes = 256 * 1024;

    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);

    private readonly SessionCore _core;
    private readonly ITcpChanTransport _transport;
    private readonly CancellationTokenSource _abort = new();
    private readonly Action _onSent;
    private readonly List<StreamChannel> _roomWaiters = new(); // under the gate
    private readonly List<ReadOnlyMemory<byte>> _segments = new(); // a batch that refers to writers' bytes, in pieces
    private DataTransmit? _sending;  // the batch being written
    private int _sendingBytes;      // its size, counted as unsent until it has left (under the gate)
    private int _batchBytes = BatchBytes; // the next batch's bound (the sender's own)
    private int _active;            // 1 while a sender runs
    private int _scheduled;         // 1 while a thread-pool sender is on its way
    private bool _finishing;        // under the gate: the session ended; close the transport once all is sent
    private bool _closed;
    private bool _broken;           // a send failed: nothing more goes
    private ValueTask _send;

    public OutputPump(SessionCore core, ITcpChanTransport transport)
    {
        _core = core;
        _transport = transport;
        _onSent = () =>
        {
            // The send that had to wait completed: the sender goes on, here.
            if (Completed(_send))
            {
                SendLoop();
            }
        };
    }

    /// <summary>True when more than the limit is written but not yet sent, so writers should wait. Under the gate.</summary>
    public bool IsOverLimit => !_finishing && _core.Connection.PendingOutputBytes + _sendingBytes > _core.Options.MaxUnsentBytes;

    /// <summary>A writer waits for the unsent bytes to drop to the limit: its channel's writable signal is set then (under the gate).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
    /// Sends what the core has if no sender is active (outside the gate; never waits). On a thread
    /// running the input pump's wake-ups, a thread-pool sender does it instead.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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

    /// <summary>The sender: batch after batch until the core has nothing; lets go under the gate, where output is made, so nothing is missed.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void SendLoop()
    {
        while (true)
        {
            DataTransmit? batch;
            bool close = false;
            lock (_core.Gate)
            {
                Sent();
                batch = _broken ? null : _core.Connection.TakeOutput(_core.Connection.SendingChannels > 1 ? BatchBytes : _batchBytes);
                if (batch is null)
                {
                    if (_broken)
                    {
                        DropOutput();
                    }

                    // Let go here, under the gate: from the next line on another sender may run.
                    close = _finishing && !_closed;
                    _closed |= close;
                    Volatile.Write(ref _active, 0);
                }
                else
                {
                    _sending = batch;
                    _sendingBytes = batch.ByteCount;

                    // Taking output may have completed channels (their end of data went).
                    _core.TakeEvents();
                }
            }

            if (batch is null)
            {
                if (close)
                {
                    _ = CloseTransportAsync();
                }

                return;
            }

            ValueTask send;
            if (batch.HasReferences)
            {
                // Frame headers and the writers' own bytes, in one gathered write: no copy.
                _segments.Clear();
                batch.GetSegments(_segments);
                send = _transport.SendAsync(_segments, _abort.Token);
            }
            else
            {
                send = _transport.SendAsync(batch.Payload, _abort.Token);
            }

            // A transport that took the batch at once has room: fewer, larger writes cost less.
            // One that made it wait is full: what it has not taken stays in the core, where a
            // later urgent frame can still go first.
            if (!send.IsCompleted)
            {
                _batchBytes = BatchBytes;
                _send = send;
                send.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onSent);
                return;
            }

            if (!Completed(send))
            {
                return;
            }

            _batchBytes = Math.Min(_batchBytes * 2, MaxBatchBytes);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private bool Completed(ValueTask send)
    {
        try
        {
            send.GetAwaiter().GetResult();
            TcpChanMetrics.BytesSent.Add(_sendingBytes);
            return true;
        }
        catch (Exception ex)
        {
            Failed(ex);
            return false;
        }
    }

    /// <summary>The batch that left (under the gate): its bytes no longer count, writers waiting for room may go on.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Sent()
    {
        if (_sending is not { } sent)
        {
            return;
        }

        _sending = null;
        _sendingBytes = 0;
        sent.Dispose();
        if (!IsOverLimit)
        {
            WakeRoomWaiters();
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void WakeRoomWaiters()
    {
        foreach (var channel in _roomWaiters)
        {
            channel.Writable.Set();
        }

        _roomWaiters.Clear();
    }

    /// <summary>What the core still holds when nothing more will be sent: dropped, so that writers whose bytes it refers to are released.</summary>
    private void DropOutput()
    {
        while (_core.Connection.HasOutput && _core.Connection.TakeOutput(int.MaxValue) is { } left)
        {
            left.Dispose();
        }
    }

    /// <summary>A send failed: the session ends, nothing more is sent, the transport closes.</summary>
    private void Failed(Exception error)
    {
        lock (_core.Gate)
        {
            _broken = true;
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
