using System.Threading.Tasks.Sources;

namespace TcpChan.Internal;

/// <summary>
/// A reusable wake-up for one waiter at a time, allocation-free: <see cref="Set()"/> wakes the
/// waiter, or the next wait if none is waiting; <see cref="Fail"/> makes every wait from now on
/// throw, <see cref="Complete"/> makes every wait from now on return at once (the waiter then
/// looks at the state it waits on, which says why). A continuation runs on the thread pool,
/// or on the setting thread when it asks for that (<see cref="Set(bool)"/>: the input pump's
/// wake-ups, run once it no longer holds any lock); never under the setter's lock.
/// </summary>
internal sealed class AsyncSignal : IValueTaskSource, IWakeable, TcpChan.Core.IReferencedWrite
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _registration;
    private bool _waiting;
    private bool _signaled;
    private bool _completed;
    private Exception? _error;

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        short version;
        lock (this)
        {
            if (_signaled || _completed)
            {
                _signaled = false;
                return default;
            }

            if (_error is not null)
            {
                return ValueTask.FromException(_error);
            }

            if (_waiting)
            {
                return ValueTask.FromException(new InvalidOperationException("Another operation is already waiting here; this stream allows one read and one write at a time."));
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled(cancellationToken);
            }

            _waiting = true;
            _core.Reset();
            version = _core.Version;

            // Registered under the lock: a Set racing in after it cannot complete this wait
            // before the registration is stored, which would leave it registered to cancel a later wait.
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(static (state, token) => ((AsyncSignal)state!).Cancel(token), this);
            }
        }

        return new ValueTask(this, version);
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Set() => Set(inline: false);

    /// <summary>Wakes the waiter (its continuation on this thread when <paramref name="inline"/>), or the next wait if none is waiting.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Set(bool inline)
    {
        lock (this)
        {
            if (!_waiting)
            {
                _signaled = true;
                return;
            }

            _waiting = false;
            _core.RunContinuationsAsynchronously = !inline;
        }

        // Outside the lock: an inline continuation may wait here again.
        _core.SetResult(true);
    }

    void IWakeable.Wake(object? argument, bool inline) => Set(inline);

    /// <summary>The output no longer refers to a write's bytes (possibly under the session's gate: the waiter wakes on the thread pool).</summary>
    void TcpChan.Core.IReferencedWrite.Released() => Set();

    /// <summary>Wakes the waiter and lets every later wait through; cheaper than <see cref="Fail"/> where the waiter can tell why by itself.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Complete()
    {
        lock (this)
        {
            _completed = true;
            ReleaseWaiterLocked(null);
        }
    }

    public void Fail(Exception error)
    {
        lock (this)
        {
            _error ??= error;
            ReleaseWaiterLocked(_error);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Cancel(CancellationToken token)
    {
        lock (this)
        {
            ReleaseWaiterLocked(new OperationCanceledException(token));
        }
    }

    /// <summary>Ends the wait in progress, if any, on the thread pool: a result, or <paramref name="error"/>.</summary>
    private void ReleaseWaiterLocked(Exception? error)
    {
        if (!_waiting)
        {
            return;
        }

        _waiting = false;
        _core.RunContinuationsAsynchronously = true;
        if (error is null)
        {
            _core.SetResult(true);
        }
        else
        {
            _core.SetException(error);
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        _registration.Dispose();
        _registration = default;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
