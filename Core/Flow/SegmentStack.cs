using System.Buffers;

namespace TcpChan.Core.Flow;

/// <summary>
/// The 16 KiB segments of one connection's send queues (<see cref="ByteQueue"/>). While any
/// channel has bytes queued, segments sent are kept here for the next (up to 8 MiB): many
/// channels queueing at once reuse the same arrays instead of renting from, and overflowing,
/// the shared pool. When nothing is queued any more the connection is not busy sending on
/// credit, and everything kept goes back to the shared pool, so an idle connection holds
/// nothing. Used by one connection, under its caller's serialization, like the rest of the core.
/// </summary>
internal sealed class SegmentStack
{
    public const int SegmentSize = 16 * 1024;
    private const int MaxFree = (8 * 1024 * 1024) / SegmentSize;

    private readonly Stack<byte[]> _free = new();
    private long _queued;

    /// <summary>Segments kept for reuse (for tests).</summary>
    public int FreeCount => _free.Count;

    public byte[] Rent() => _free.Count > 0 ? _free.Pop() : ArrayPool<byte>.Shared.Rent(SegmentSize);

    public void Return(byte[] segment)
    {
        if (_free.Count < MaxFree)
        {
            _free.Push(segment);
        }
        else
        {
            ArrayPool<byte>.Shared.Return(segment);
        }
    }

    /// <summary>Bytes queued in all the connection's queues went up or down by <paramref name="delta"/>; at zero, what is kept goes back.</summary>
    public void Queued(long delta)
    {
        _queued += delta;
        if (_queued == 0)
        {
            while (_free.Count > 0)
            {
                ArrayPool<byte>.Shared.Return(_free.Pop());
            }
        }
    }
}
