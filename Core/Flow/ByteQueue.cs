using System.Buffers;

namespace TcpChan.Core.Flow;

/// <summary>
/// Bytes a channel was asked to send but has no credit for yet, in order. One pooled array,
/// grown by doubling and handed back to the pool when the queue empties, so an idle channel
/// holds no buffer.
/// </summary>
internal sealed class ByteQueue
{
    private byte[] _buffer = Array.Empty<byte>();
    private int _start;
    private int _length;

    public int Length => _length;

    public bool IsEmpty => _length == 0;

    public ReadOnlySpan<byte> Peek(int max) => _buffer.AsSpan(_start, Math.Min(max, _length));

    public void Enqueue(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        if (_buffer.Length - _start - _length < data.Length)
        {
            int needed = checked(_length + data.Length);
            if (_buffer.Length >= needed && _start > 0)
            {
                _buffer.AsSpan(_start, _length).CopyTo(_buffer);
            }
            else
            {
                byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(4096, _buffer.Length * 2)));
                _buffer.AsSpan(_start, _length).CopyTo(bigger);
                Release();
                _buffer = bigger;
            }

            _start = 0;
        }

        data.CopyTo(_buffer.AsSpan(_start + _length));
        _length += data.Length;
    }

    public void Dequeue(int count)
    {
        _start += count;
        _length -= count;
        if (_length == 0)
        {
            Clear();
        }
    }

    public void Clear()
    {
        _start = 0;
        _length = 0;
        Release();
    }

    private void Release()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = Array.Empty<byte>();
        }
    }
}
