namespace TcpChan.Internal;

/// <summary>
/// The 16 KiB segments of one session's receive buffers. Free segments are kept for reuse up to
/// the session budget (the most that can ever be buffered), so a session that buffers up to its
/// budget over and over allocates nothing; the driver's timer trims what an idle session keeps
/// (<see cref="Trim"/>). Segments are taken under the session's gate and handed back by
/// readers outside it, so the pool has a lock of its own (held for a push or a pop).
/// </summary>
internal sealed class SegmentPool
{
    public const int SegmentSize = 16 * 1024;
    private const int KeptWhenIdle = (256 * 1024) / SegmentSize;

    private readonly Stack<byte[]> _free = new();
    private readonly int _maxFree;
    private bool _used;

    public SegmentPool(int maxBytes) => _maxFree = Math.Max(KeptWhenIdle, maxBytes / SegmentSize);

    /// <summary>Segments kept for reuse (for tests and diagnostics).</summary>
    public int FreeCount
    {
        get
        {
            lock (_free)
            {
                return _free.Count;
            }
        }
    }

    public byte[] Rent()
    {
        lock (_free)
        {
            _used = true;
            if (_free.Count > 0)
            {
                return _free.Pop();
            }
        }

        return System.Buffers.ArrayPool<byte>.Shared.Rent(SegmentSize);
    }

    public void Return(byte[] segment)
    {
        lock (_free)
        {
            if (_free.Count < _maxFree)
            {
                _free.Push(segment);
                return;
            }
        }

        System.Buffers.ArrayPool<byte>.Shared.Return(segment);
    }

    /// <summary>On each timer tick: a pool unused since the last tick gives back half of what it keeps above 256 KiB.</summary>
    public void Trim()
    {
        lock (_free)
        {
            if (!_used)
            {
                for (int n = (_free.Count - KeptWhenIdle + 1) / 2; n > 0; n--)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(_free.Pop());
                }
            }

            _used = false;
        }
    }
}
