using System.Threading.Tasks.Sources;

namespace TcpChan.Internal;

/// <summary>
/// What one channel received and its reader has not taken yet, and the reader waiting for more.
/// The input pump feeds it in order (data, then the end or a failure) outside the session's
/// gate; the stream copies out of it (<see cref="ReadAsync"/>) or the pipe view reads its blocks
/// in place (<see cref="TryPeek"/>, <see cref="Advance"/>). A stream read that finds nothing
/// waits with its buffer, and the pump copies the next data straight into that buffer: one
/// copy, as a socket read. Bytes taken go back to the peer as credit in batches
/// (<see cref="SessionCredit"/>), not one session lock per read.
/// </summary>
/// <remarks>
/// Everything here is under the inbox's own lock, held for a copy at most; a waiter is woken
/// after that lock is released, by the pump's <see cref="WakeBatch"/> (on the pump's thread) or
/// on the thread pool, never while any lock is held.
/// </remarks>
internal sealed partial class ChannelInbox : IValueTaskSource<int>, IWakeable
{
    private readonly StreamChannel _channel;
    private readonly SessionCredit _credit;
    private InboxBuffer _held; // a struct, used in place
    private State _state;
    private Exception? _failure;
    private bool _pipeView;
    private bool _discarding; // the pipe view's reader completed: what arrives is dropped, its credit given back

    // The stream read waiting for data, and what it gets when woken.
    private ManualResetValueTaskSourceCore<int> _read;
    private CancellationTokenRegistration _readCancel;
    private Memory<byte> _readBuffer;
    private bool _reading;
    private int _readResult;
    private Exception? _readError;

    // The pipe view waiting for data.
    private AsyncSignal? _pipeWaiter;

    // Bytes the reader took since credit was last given back (version 1).
    private int _taken;

    public ChannelInbox(StreamChannel channel, SegmentPool pool, SessionCredit credit)
    {
        _channel = channel;
        _held = new InboxBuffer(pool);
        _credit = credit;
    }

    private enum State
    {
        Open,
        Ended,   // the peer ended its data (or the channel closed cleanly): end of stream once empty
        Failed,  // reset or the session failed: reads throw _failure
        Closed,  // disposed here: reads throw ObjectDisposedException
    }

    private object Lock => this;

    /// <summary>Bytes held (for tests and diagnostics).</summary>
    public long Length
    {
        get
        {
            lock (Lock)
            {
                return _held.Length;
            }
        }
    }

    // ---- fed by the input pump (or, for a failure, by whoever ends the channel) -------------

    /// <summary>
    /// Data for the reader: copied straight into a waiting stream read's buffer, the rest kept.
    /// True when a waiter must be woken (added to <paramref name="wakes"/>, or woken on the
    /// thread pool now when there is none); <paramref name="creditDue"/>: give credit back now.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Deliver(ReadOnlySpan<byte> data, WakeBatch? wakes, out bool creditDue)
    {
        IWakeable? wake = null;
        creditDue = false;
        lock (Lock)
        {
            if (_state is State.Failed or State.Closed)
            {
                return; // the data dies with the channel; the core already gave its credit back
            }

            if (_discarding)
            {
                creditDue = TakeLocked(data.Length);
                return;
            }

            if (_reading && _held.Length == 0)
            {
                int n = Math.Min(data.Length, _readBuffer.Length);
                data.Slice(0, n).CopyTo(_readBuffer.Span);
                data = data.Slice(n);
                CompleteReadLocked(n, null);
                wake = this;
                creditDue = TakeLocked(n);
            }

            _held.Append(data);
            wake ??= _pipeWaiter;
        }

        Wake(wake, wakes);
    }

    /// <summary>The peer ended its data, or the channel closed cleanly: end of stream once the held bytes are read.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void End(WakeBatch? wakes, out bool creditDue)
    {
        IWakeable? wake = null;
        lock (Lock)
        {
            if (_state == State.Open)
            {
                _state = State.Ended;
                if (_reading && _held.Length == 0)
                {
                    CompleteReadLocked(0, null);
                    wake = this;
                }

                wake ??= _pipeWaiter;
            }

            // Everything read and nothing more to come: the credit owed lets the channel complete.
            creditDue = _held.Length == 0 && _taken > 0;
        }

        Wake(wake, wakes);
    }

    /// <summary>The channel failed (reset, refused, the session ended): held bytes go, reads throw <paramref name="failure"/>.</summary>
    public void Fail(Exception failure, WakeBatch? wakes) => Stop(State.Failed, failure, wakes);

    /// <summary>The stream was disposed: held bytes go, reads throw <see cref="ObjectDisposedException"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Close() => Stop(State.Closed, null, null);

    // ---- credit ----------------------------------------------------------------------------

    /// <summary>Gives the peer credit for everything taken so far (one session lock for a batch of reads).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void GiveCreditBack()
    {
        var core = _channel.Session.Core;
        lock (core.Gate)
        {
            GiveCreditBackLocked();
            core.TakeEvents();
        }

        core.Output.Kick();
    }

    /// <summary>As <see cref="GiveCreditBack"/>, under the session's gate; the caller takes the core's events.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void GiveCreditBackLocked()
    {
        int n;
        lock (Lock)
        {
            n = _taken;
            _taken = 0;
        }

        if (n > 0)
        {
            _credit.Returned(n);
            _channel.ConsumeLocked(n);
        }
    }

    /// <summary>Counts bytes the reader took; true when their credit is due now (under the inbox's lock).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private bool TakeLocked(int n)
    {
        if (n == 0 || !_channel.HasFlowControl)
        {
            return false;
        }

        _taken += n;
        bool sessionDue = _credit.Taken(n);
        return sessionDue || _taken >= SessionCredit.ChannelBatch(_channel.ReceiveWindowSize);
    }

    // ---- inside the lock -----------------------------------------------------------------

    private void Stop(State state, Exception? failure, WakeBatch? wakes)
    {
        IWakeable? wake = null;
        int dropped;
        lock (Lock)
        {
            if (_state is State.Failed or State.Closed)
            {
                return;
            }

            _state = state;
            _failure = failure;
            dropped = _taken;
            _taken = 0;
            _held.Clear();
            if (_reading)
            {
                CompleteReadLocked(0, failure is null ? new ObjectDisposedException(nameof(TcpChanStream)) : Rethrow(failure));
                wake = this;
            }

            wake ??= _pipeWaiter;
        }

        // The core releases what the channel held when it closes: only the session count goes.
        _credit.Returned(dropped);
        Wake(wake, wakes);
    }

    private void CompleteReadLocked(int result, Exception? error)
    {
        _reading = false;
        _readBuffer = default;
        _readResult = result;
        _readError = error;
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void CancelRead(CancellationToken token)
    {
        lock (Lock)
        {
            if (!_reading)
            {
                return; // already completed by data, which the read keeps
            }

            CompleteReadLocked(0, new OperationCanceledException(token));
        }

        ((IWakeable)this).Wake(null, inline: false);
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private static void Wake(IWakeable? wake, WakeBatch? wakes)
    {
        if (wake is null)
        {
            return;
        }

        if (wakes is null)
        {
            wake.Wake(null, inline: false);
        }
        else
        {
            wakes.Add(wake);
        }
    }

    // Each throw gets its own exception object where it can, so stack traces stay truthful.
    private static Exception Rethrow(Exception failure) => failure switch
    {
        TcpChanChannelException c => c.Rethrow(),
        TcpChanSessionException s => s.Rethrow(),
        _ => failure,
    };
}
