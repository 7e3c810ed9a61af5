using System.Buffers;

namespace TcpChan.Internal;

/// <summary>
/// A session's <see cref="MemoryPool{T}"/> for the pipes of its channels (Adapters.Pipelines):
/// 16 KiB blocks whose owner objects and arrays are both reused, kept up to the session budget
/// (the most its channels can buffer) and trimmed when idle, so pipes that buffer over and
/// over allocate nothing (the shared pool makes a new owner per block and keeps few arrays).
/// Thread-safe: pipe writers rent under the session's gate, readers return outside it.
/// </summary>
internal sealed class SegmentMemoryPool : MemoryPool<byte>
{
    private readonly FreeList<Block> _free;

    public SegmentMemoryPool(int maxBytes) => _free = new FreeList<Block>(maxBytes / SegmentPool.SegmentSize, SegmentPool.KeptWhenIdle, release: null);

    public override int MaxBufferSize => SegmentPool.SegmentSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > SegmentPool.SegmentSize)
        {
            // Larger than a block (a pipe never asks: MaxBufferSize says so); a one-off array.
            return new OneOff(new byte[minBufferSize]);
        }

        var block = _free.TryTake() ?? new Block(this);
        block.Rented = true;
        return block;
    }

    /// <summary>On each timer tick: a pool unused since the last tick lets half of what it keeps above 256 KiB go.</summary>
    public void Trim() => _free.Trim();

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Block(SegmentMemoryPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = new byte[SegmentPool.SegmentSize];

        public bool Rented { get; set; }

        public Memory<byte> Memory => _array;

        public void Dispose()
        {
            if (Rented)
            {
                Rented = false;
                pool._free.Give(this);
            }
        }
    }

    private sealed class OneOff(byte[] array) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory => array;

        public void Dispose()
        {
        }
    }
}
