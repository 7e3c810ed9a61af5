using System.Buffers;

namespace TcpChan.Internal;

/// <summary>
/// The 16 KiB segments of one session's receive buffers. Free segments are kept for reuse up to
/// the session budget (the most that can ever be buffered), so a session that buffers up to its
/// budget over and over allocates nothing; the driver's timer trims what an idle session keeps
/// down to 256 KiB (<see cref="Trim"/>). Segments are taken under the session's gate and handed
/// back by readers outside it (see <see cref="FreeList{T}"/>).
/// </summary>
internal sealed class SegmentPool
{
    public const int SegmentSize = 16 * 1024;

    /// <summary>What an idle pool keeps: 256 KiB.</summary>
    public const int KeptWhenIdle = (256 * 1024) / SegmentSize;

    private readonly FreeList<byte[]> _free;

    public SegmentPool(int maxBytes) =>
        _free = new FreeList<byte[]>(maxBytes / SegmentSize, KeptWhenIdle, static segment => ArrayPool<byte>.Shared.Return(segment));

    /// <summary>Segments kept for reuse (for tests and diagnostics).</summary>
    public int FreeCount => _free.Count;

    public byte[] Rent() => _free.TryTake() ?? ArrayPool<byte>.Shared.Rent(SegmentSize);

    public void Return(byte[] segment) => _free.Give(segment);

    /// <summary>On each timer tick: a pool unused since the last tick gives back half of what it keeps above 256 KiB.</summary>
    public void Trim() => _free.Trim();
}
