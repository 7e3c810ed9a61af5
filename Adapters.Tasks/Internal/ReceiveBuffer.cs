using System.Buffers;

namespace TcpChan.Internal;

/// <summary>
/// Bytes a channel received and its reader has not taken yet: a pooled ring that grows by
/// doubling (bounded by the channel's window) and goes back to the pool when empty.
/// </summary>
internal sealed class ReceiveBuffer
{
    private byte[] _buffer = Array.Empty<byte>();
    private int _start;
    private int _length;

    public int Length => _length;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_buffer.Length - _length < data.Length)
        {
            Grow(_length + data.Length);
        }

        int tail = (_start + _length) % Math.Max(1, _buffer.Length);
        int first = Math.Min(data.Length, _buffer.Length - tail);
        data.Slice(0, first).CopyTo(_buffer.AsSpan(tail));
        data.Slice(first).CopyTo(_buffer);
        _length += data.Length;
    }

    public int Read(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _length);
        int first = Math.Min(n, _buffer.Length - _start);
        _buffer.AsSpan(_start, first).CopyTo(destination);
        _buffer.AsSpan(0, n - first).CopyTo(destination.Slice(first));
        _start = (_start + n) % _buffer.Length;
        _length -= n;
        if (_length == 0)
        {
            Clear();
        }

        return n;
    }

    public void Clear()
    {
        _start = 0;
        _length = 0;
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = Array.Empty<byte>();
        }
    }

    private void Grow(int needed)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(4096, _buffer.Length * 2)));
        int n = _length;
        if (n > 0)
        {
            int first = Math.Min(n, _buffer.Length - _start);
            _buffer.AsSpan(_start, first).CopyTo(bigger);
            _buffer.AsSpan(0, n - first).CopyTo(bigger.AsSpan(first));
        }

        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = bigger;
        _start = 0;
    }
}
