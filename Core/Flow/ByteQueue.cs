namespace TcpChan.Core.Flow;

/// <summary>
/// Bytes a channel was asked to send and has not sent yet, in order: a chain of blocks of
/// <see cref="BlockSize"/> from the connection's <see cref="BlockPool"/>, each handed back as
/// soon as its bytes are sent, so an idle channel holds no buffer and a long queue never needs
/// one large array (a doubling array left a trail of 128 KiB to 2 MiB arrays in the shared pool).
/// </summary>
internal sealed class ByteQueue
{
    /// <summary>The largest block; the first block of a queue is smaller when its first write is.</summary>
    public const int BlockSize = 16 * 1024;

    private readonly BlockPool _pool;
    private byte[][] _blocks = new byte[4][]; // a ring: _count blocks from _first
    private int _first;
    private int _count;
    private int _readAt;   // in the first block
    private int _writeAt;  // in the last block
    private int _length;

    public ByteQueue(BlockPool pool) => _pool = pool;

    public int Length => _length;

    public bool IsEmpty => _length == 0;

    /// <summary>Blocks held (for tests and diagnostics).</summary>
    public int BlockCount => _count;

    public void Enqueue(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_count == 0 || _writeAt == Block(_count - 1).Length)
            {
                AddBlock();
            }

            var room = Block(_count - 1).AsSpan(_writeAt);
            int n = Math.Min(room.Length, data.Length);
            data.Slice(0, n).CopyTo(room);
            _writeAt += n;
            _length += n;
            data = data.Slice(n);
        }
    }

    /// <summary>Copies the first <c>destination.Length</c> bytes (at most <see cref="Length"/>) into <paramref name="destination"/>, leaving them queued.</summary>
    public void CopyTo(Span<byte> destination)
    {
        if (destination.Length > _length)
        {
            throw new ArgumentOutOfRangeException(nameof(destination), "More bytes than are queued.");
        }

        int at = _readAt;
        for (int i = 0; !destination.IsEmpty; i++)
        {
            var block = Block(i);
            int end = i == _count - 1 ? _writeAt : block.Length;
            int n = Math.Min(end - at, destination.Length);
            block.AsSpan(at, n).CopyTo(destination);
            destination = destination.Slice(n);
            at = 0;
        }
    }

    public void Dequeue(int count)
    {
        if ((uint)count > (uint)_length)
        {
            throw new ArgumentOutOfRangeException(nameof(count), "More bytes than are queued.");
        }

        _length -= count;
        while (count > 0)
        {
            int end = _count == 1 ? _writeAt : Block(0).Length;
            int n = Math.Min(end - _readAt, count);
            _readAt += n;
            count -= n;
            if (_readAt == end)
            {
                RemoveFirstBlock();
            }
        }
    }

    public void Clear()
    {
        while (_count > 0)
        {
            RemoveFirstBlock();
        }

        _length = 0;
    }

    private byte[] Block(int i) => _blocks[(_first + i) & (_blocks.Length - 1)];

    private void AddBlock()
    {
        if (_count == _blocks.Length)
        {
            var bigger = new byte[_blocks.Length * 2][];
            for (int i = 0; i < _count; i++)
            {
                bigger[i] = Block(i);
            }

            _blocks = bigger;
            _first = 0;
        }

        byte[] block = _pool.Rent();
        _blocks[(_first + _count) & (_blocks.Length - 1)] = block;
        _count++;
        _writeAt = 0;
    }

    private void RemoveFirstBlock()
    {
        ref byte[] slot = ref _blocks[_first];
        _pool.Return(slot);
        slot = null!;
        _first = (_first + 1) & (_blocks.Length - 1);
        _count--;
        _readAt = 0;
        if (_count == 0)
        {
            _first = 0;
            _writeAt = 0;
        }
    }
}
