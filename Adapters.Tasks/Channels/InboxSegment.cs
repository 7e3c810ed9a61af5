using System.Buffers;

namespace TcpChan.Internal;

/// <summary>
/// One 16 KiB block of a channel's received bytes, linked into the chain a
/// <see cref="ReadOnlySequence{T}"/> walks (a pipe reader reads the blocks in place). Blocks
/// come from, and go back to, their session's <see cref="SegmentPool"/>.
/// </summary>
internal sealed class InboxSegment : ReadOnlySequenceSegment<byte>
{
    public InboxSegment(byte[] block)
    {
        Block = block;
        Memory = block;
    }

    public byte[] Block { get; }

    public InboxSegment? NextSegment => (InboxSegment?)Next;

    /// <summary>Makes the block the last of a chain whose bytes before it number <paramref name="runningIndex"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Reset(long runningIndex)
    {
        RunningIndex = runningIndex;
        Next = null;
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Append(InboxSegment next)
    {
        next.Reset(RunningIndex + Block.Length);
        Next = next;
    }
}
