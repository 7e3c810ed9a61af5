using System.Threading.Tasks.Sources;

namespace TcpChan.Internal;

// The stream's reads: copy out what is held, or wait with the buffer for the pump to fill.
internal sealed partial class ChannelInbox
{
    // ---- the stream's reads --------------------------------------------------------------

    /// <summary>Copies held bytes into <paramref name="buffer"/>, or waits for some; 0 at the end of the peer's data.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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

            if (_held.Length == 0 && _state == State.Open)
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

            n = _held.CopyOut(buffer.Span);
            creditDue = TakeLocked(n) || (_held.Length == 0 && _state == State.Ended && _taken > 0);
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
}
