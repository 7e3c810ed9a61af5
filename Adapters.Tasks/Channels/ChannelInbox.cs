using System.Buffers;
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
internal sealed class ChannelInbox : IValueTaskSource<int>, IWakeable
{
    private readonly StreamChannel _channel;
    private readonly SegmentPool _pool;
    private readonly SessionCredit _credit;

    // The bytes held: blocks from _head (read from _headStart) to _tail (filled to _tailEnd).
    private InboxSegment? _head;
    private InboxSegment? _tail;
    private int _headStart;
    private int _tailEnd;
    private long _length;
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
        _pool = pool;
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
    public long Length => Volatile.Read(ref _length);

    // ---- fed by the input pump (or, for a failure, by whoever ends the channel) -------------

    /// <summary>
    /// Data for the reader: copied straight into a waiting stream read's buffer, the rest kept.
    /// True when a waiter must be woken (added to <paramref name="wakes"/>, or woken on the
    /// thread pool now when there is none); <paramref name="creditDue"/>: give credit back now.
    /// </summary>
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

            if (_reading && _length == 0)
            {
                int n = Math.Min(data.Length, _readBuffer.Length);
                data.Slice(0, n).CopyTo(_readBuffer.Span);
                data = data.Slice(n);
                CompleteReadLocked(n, null);
                wake = this;
                creditDue = TakeLocked(n);
            }

            Append(data);
            wake ??= _pipeWaiter;
        }

        Wake(wake, wakes);
    }

    /// <summary>The peer ended its data, or the channel closed cleanly: end of stream once the held bytes are read.</summary>
    public void End(WakeBatch? wakes, out bool creditDue)
    {
        IWakeable? wake = null;
        lock (Lock)
        {
            if (_state == State.Open)
            {
                _state = State.Ended;
                if (_reading && _length == 0)
                {
                    CompleteReadLocked(0, null);
                    wake = this;
                }

                wake ??= _pipeWaiter;
            }

            // Everything read and nothing more to come: the credit owed lets the channel complete.
            creditDue = _length == 0 && _taken > 0;
        }

        Wake(wake, wakes);
    }

    /// <summary>The channel failed (reset, refused, the session ended): held bytes go, reads throw <paramref name="failure"/>.</summary>
    public void Fail(Exception failure, WakeBatch? wakes) => Stop(State.Failed, failure, wakes);

    /// <summary>The stream was disposed: held bytes go, reads throw <see cref="ObjectDisposedException"/>.</summary>
    public void Close() => Stop(State.Closed, null, null);

    // ---- the stream's reads --------------------------------------------------------------

    /// <summary>Copies held bytes into <paramref name="buffer"/>, or waits for some; 0 at the end of the peer's data.</summary>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        bool creditDue;
        int n;
        lock (Lock)
        {
            switch (_state)
            {
                case State.Closed:
                    return ValueTask.FromException<int>(new ObjectDisposedException(nameof(TcpChanStream)));
                case State.Failed:
                    return ValueTask.FromException<int>(Rethrow(_failure!));
            }

            if (_pipeView)
            {
                return ValueTask.FromException<int>(new InvalidOperationException("This channel is read through its pipe view (AsDuplexPipe)."));
            }

            if (_reading)
            {
                return ValueTask.FromException<int>(new InvalidOperationException("A read is already waiting; this stream allows one read and one write at a time."));
            }

            if (_length == 0 && _state == State.Open)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return ValueTask.FromCanceled<int>(cancellationToken);
                }

                _reading = true;
                _readBuffer = buffer;
                _read.Reset();
                short version = _read.Version;

                // Under the lock: a delivery cannot complete this read before the registration is stored.
                if (cancellationToken.CanBeCanceled)
                {
                    _readCancel = cancellationToken.UnsafeRegister(static (state, token) => ((ChannelInbox)state!).CancelRead(token), this);
                }

                return new ValueTask<int>(this, version);
            }

            n = CopyOut(buffer.Span);
            creditDue = TakeLocked(n) || (_length == 0 && _state == State.Ended && _taken > 0);
        }

        if (creditDue)
        {
            GiveCreditBack();
        }

        return new ValueTask<int>(n);
    }

    int IValueTaskSource<int>.GetResult(short token)
    {
        _readCancel.Dispose();
        _readCancel = default;
        return _read.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _read.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _read.OnCompleted(continuation, state, token, flags);

    /// <summary>Wakes the read completed by a delivery, the end or a failure (<see cref="WakeBatch"/>).</summary>
    void IWakeable.Wake(object? argument, bool inline)
    {
        _read.RunContinuationsAsynchronously = !inline;
        if (_readError is { } error)
        {
            _readError = null;
            _read.SetException(error);
        }
        else
        {
            _read.SetResult(_readResult);
        }
    }

    // ---- the pipe view ---------------------------------------------------------------------

    /// <summary>From now on the pipe view reads; stream reads are refused.</summary>
    public void AttachPipeView()
    {
        lock (Lock)
        {
            if (_pipeView)
            {
                throw new InvalidOperationException("This channel already has a pipe view.");
            }

            _pipeView = true;
            _pipeWaiter = new AsyncSignal();
        }
    }

    /// <summary>
    /// Everything held, in place (valid until the next <see cref="Advance"/>), and whether
    /// nothing more will come: false for <paramref name="ended"/> while the channel is open.
    /// </summary>
    /// <exception cref="TcpChanException">The channel failed.</exception>
    public ReadOnlySequence<byte> TryPeek(out bool ended)
    {
        lock (Lock)
        {
            if (_state == State.Failed)
            {
                throw Rethrow(_failure!);
            }

            ended = _state != State.Open;
            if (_length == 0)
            {
                return ReadOnlySequence<byte>.Empty;
            }

            return new ReadOnlySequence<byte>(_head!, _headStart, _tail!, _tailEnd);
        }
    }

    /// <summary>The pipe view consumed <paramref name="count"/> bytes from the start: their blocks go back, their credit too (in batches).</summary>
    public void Advance(long count)
    {
        bool creditDue;
        lock (Lock)
        {
            if (count > _length)
            {
                throw new ArgumentOutOfRangeException(nameof(count));
            }

            Skip(count);
            creditDue = TakeLocked((int)count) || (_length == 0 && _state == State.Ended && _taken > 0);
        }

        if (creditDue)
        {
            GiveCreditBack();
        }
    }

    /// <summary>The pipe view's reader completed: what is held and what still arrives is dropped, and its credit given back.</summary>
    public void Discard()
    {
        lock (Lock)
        {
            _discarding = true;
            TakeLocked((int)_length);
            Skip(_length);
        }

        GiveCreditBack();
    }

    /// <summary>Waits until more than <paramref name="examined"/> bytes are held, or the channel ended or failed.</summary>
    public ValueTask WaitForDataAsync(long examined, CancellationToken cancellationToken)
    {
        lock (Lock)
        {
            if (_length > examined || _state != State.Open)
            {
                return default;
            }
        }

        // A delivery in between sets the signal, which remembers it: no wake-up is missed.
        return _pipeWaiter!.WaitAsync(cancellationToken);
    }

    /// <summary>Wakes the pipe view's wait without data (its CancelPendingRead).</summary>
    public void WakePipeView() => _pipeWaiter?.Set();

    // ---- credit ----------------------------------------------------------------------------

    /// <summary>Gives the peer credit for everything taken so far (one session lock for a batch of reads).</summary>
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
            Skip(_length);
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

    private void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_tail is null || _tailEnd == _tail.Block.Length)
            {
                var block = _pool.Rent();
                if (_tail is null)
                {
                    block.Reset(0);
                    _head = block;
                    _headStart = 0;
                }
                else
                {
                    _tail.Append(block);
                }

                _tail = block;
                _tailEnd = 0;
            }

            int n = Math.Min(data.Length, _tail.Block.Length - _tailEnd);
            data.Slice(0, n).CopyTo(_tail.Block.AsSpan(_tailEnd));
            _tailEnd += n;
            _length += n;
            data = data.Slice(n);
        }
    }

    private int CopyOut(Span<byte> destination)
    {
        int total = 0;
        while (!destination.IsEmpty && _head is { } head)
        {
            int end = ReferenceEquals(head, _tail) ? _tailEnd : head.Block.Length;
            int n = Math.Min(destination.Length, end - _headStart);
            head.Block.AsSpan(_headStart, n).CopyTo(destination);
            destination = destination.Slice(n);
            total += n;
            Skip(n);
        }

        return total;
    }

    /// <summary>Drops <paramref name="count"/> bytes from the start, handing back emptied blocks.</summary>
    private void Skip(long count)
    {
        _length -= count;
        while (count > 0)
        {
            var head = _head!;
            bool last = ReferenceEquals(head, _tail);
            int inHead = (last ? _tailEnd : head.Block.Length) - _headStart;
            if (count < inHead)
            {
                _headStart += (int)count;
                return;
            }

            count -= inHead;
            _headStart = 0;
            _head = last ? null : head.NextSegment;
            if (last)
            {
                _tail = null;
                _tailEnd = 0;
            }

            _pool.Return(head);
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
