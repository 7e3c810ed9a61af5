using System.Buffers;

namespace TcpChan.Core.Flow;

/// <summary>
/// One connection's free send-queue blocks (<see cref="ByteQueue"/>), kept for reuse up to a
/// limit: many channels queueing at once would otherwise drain the shared pool and turn every
/// block into garbage. Used under the connection's owner only (not thread-safe).
/// </summary>
internal sealed class BlockPool
{
    private readonly byte[]?[] _free;
    private int _count;

    public BlockPool(int keep) => _free = new byte[]?[keep];

    /// <summary>Blocks kept (for tests and diagnostics).</summary>
    public int FreeCount => _count;

    public byte[] Rent() => _count > 0 ? Take() : ArrayPool<byte>.Shared.Rent(ByteQueue.BlockSize);

    public void Return(byte[] block)
    {
        if (_count < _free.Length)
        {
            _free[_count++] = block;
        }
        else
        {
            ArrayPool<byte>.Shared.Return(block);
        }
    }

    /// <summary>Hands every kept block back to the shared pool (the connection ended).</summary>
    public void Clear()
    {
        while (_count > 0)
        {
            ArrayPool<byte>.Shared.Return(Take());
        }
    }

    private byte[] Take()
    {
        var block = _free[--_count]!;
        _free[_count] = null;
        return block;
    }
}
