namespace TcpChan.Internal;

/// <summary>
/// Items kept for reuse (a session's inbox blocks, <see cref="SegmentPool"/>; its input pump's
/// wake-up batches): up to a bound, and trimmed on the driver's timer when idle (a list unused since the last
/// tick lets half of what it keeps above a floor go). Thread-safe: items are taken under the
/// session's gate and given back outside it, so it has a lock of its own (held for a push or a pop).
/// </summary>
internal sealed class FreeList<T>
    where T : class
{
    private readonly Stack<T> _free = new();
    private readonly int _max;
    private readonly int _keptWhenIdle;
    private readonly Action<T>? _release;
    private bool _used;

    /// <param name="max">The most kept.</param>
    /// <param name="keptWhenIdle">What trimming leaves.</param>
    /// <param name="release">What happens to an item not kept (dropped when null).</param>
    public FreeList(int max, int keptWhenIdle, Action<T>? release)
    {
        _max = Math.Max(max, keptWhenIdle);
        _keptWhenIdle = keptWhenIdle;
        _release = release;
    }

    /// <summary>Items kept (for tests and diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_free)
            {
                return _free.Count;
            }
        }
    }

    /// <summary>A kept item, or null when there is none (the caller makes one).</summary>
    public T? TryTake()
    {
        lock (_free)
        {
            _used = true;
            return _free.Count > 0 ? _free.Pop() : null;
        }
    }

    public void Give(T item)
    {
        lock (_free)
        {
            if (_free.Count < _max)
            {
                _free.Push(item);
                return;
            }
        }

        _release?.Invoke(item);
    }

    /// <summary>On each timer tick: unused since the last one, half of what is kept above the floor goes.</summary>
    public void Trim()
    {
        lock (_free)
        {
            if (!_used)
            {
                for (int n = (_free.Count - _keptWhenIdle + 1) / 2; n > 0; n--)
                {
                    var item = _free.Pop();
                    _release?.Invoke(item);
                }
            }

            _used = false;
        }
    }
}
