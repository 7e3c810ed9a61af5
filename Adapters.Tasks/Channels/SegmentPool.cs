namespace TcpChan.Internal;

/// <summary>
/// The 16 KiB blocks of one session's channel inboxes. Free blocks are kept for reuse up to the
/// session budget (the most that can ever be buffered), so a session that buffers up to its
/// budget over and over allocates nothing; the session's timer trims what an idle session
/// keeps down to 256 KiB (<see cref="Trim"/>). Blocks are taken by the input pump and handed
/// back by readers, on any threads (see <see cref="FreeList{T}"/>).
/// </summary>
internal sealed class SegmentPool
{
    public const int SegmentSize = 16 * 1024;

    /// <summary>What an idle pool keeps: 256 KiB.</summary>
    public const int KeptWhenIdle = (256 * 1024) / SegmentSize;

    private readonly FreeList<InboxSegment> _free;

    public SegmentPool(int maxBytes) => _free = new FreeList<InboxSegment>(maxBytes / SegmentSize, KeptWhenIdle, release: null);

    /// <summary>Blocks kept for reuse (for tests and diagnostics).</summary>
    public int FreeCount => _free.Count;

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public InboxSegment Rent() => _free.TryTake() ?? new InboxSegment(new byte[SegmentSize]);

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Return(InboxSegment segment) => _free.Give(segment);

    /// <summary>On each timer tick: a pool unused since the last tick lets half of what it keeps above 256 KiB go.</summary>
    public void Trim() => _free.Trim();
}
