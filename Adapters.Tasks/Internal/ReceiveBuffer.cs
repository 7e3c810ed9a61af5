namespace TcpChan.Internal;

/// <summary>
/// Bytes a channel received and its reader has not taken yet: a queue of 16 KiB segments from
/// the session's <see cref="SegmentPool"/>, each handed back as soon as it has been read, so a
/// channel holds only what it buffers (bounded by its window) and an idle channel holds nothing.
/// </summary>
/// <remarks>
/// Segments stay below the large-object threshold and never move: many channels buffering at
/// once (fanin) reuse the same small arrays, instead of large ones regrown by doubling and
/// copying. Written by the receive loop under the driver's gate and read by the stream's reader
/// outside it (so the reader's copy does not hold up the whole session): a lock of its own
/// guards the segments.
/// </remarks>
internal sealed class ReceiveBuffer
{
    private readonly SegmentPool _pool;
    private readonly Queue<byte[]> _segments = new();
    private byte[]? _tail;   // the last segment, being filled
    private int _tailUsed;   // bytes written into _tail
    private int _headRead;   // bytes already read from the first segment
    private int _length;
    private bool _closed;    // cleared for good, or handed over to a pipe view: writes are refused

    public ReceiveBuffer(SegmentPool pool) => _pool = pool;

    public int Length => Volatile.Read(ref _length);

    public void Write(ReadOnlySpan<byte> data) => TryWrite(data);

    /// <summary>Appends <paramref name="data"/>; false when the buffer was closed (<see cref="Clear"/>, <see cref="TakeAll"/>).</summary>
    public bool TryWrite(ReadOnlySpan<byte> data)
    {
        lock (_segments)
        {
            if (_closed)
            {
                return false;
            }

            while (!data.IsEmpty)
            {
                if (_tail is null || _tailUsed == _tail.Length)
                {
                    _tail = _pool.Rent();
                    _tailUsed = 0;
                    _segments.Enqueue(_tail);
                }

                int n = Math.Min(data.Length, _tail.Length - _tailUsed);
                data.Slice(0, n).CopyTo(_tail.AsSpan(_tailUsed));
                _tailUsed += n;
                _length += n;
                data = data.Slice(n);
            }

            return true;
        }
    }

    public int Read(Span<byte> destination)
    {
        lock (_segments)
        {
            int total = 0;
            while (!destination.IsEmpty && _length > 0)
            {
                var head = _segments.Peek();
                int end = ReferenceEquals(head, _tail) ? _tailUsed : head.Length;
                int n = Math.Min(destination.Length, end - _headRead);
                head.AsSpan(_headRead, n).CopyTo(destination);
                destination = destination.Slice(n);
                _headRead += n;
                _length -= n;
                total += n;
                if (_headRead == end)
                {
                    ReleaseHead(head);
                }
            }

            return total;
        }
    }

    /// <summary>Drops what is buffered and refuses later writes (the channel ended abnormally or was disposed).</summary>
    public void Clear()
    {
        lock (_segments)
        {
            _closed = true;
            while (_segments.Count > 0)
            {
                ReleaseHead(_segments.Peek());
            }

            _length = 0;
        }
    }

    /// <summary>Everything buffered, in a new array; later writes are refused (a pipe view takes over).</summary>
    public byte[] TakeAll()
    {
        lock (_segments)
        {
            var all = new byte[_length];
            Read(all);
            _closed = true;
            return all;
        }
    }

    private void ReleaseHead(byte[] head)
    {
        _segments.Dequeue();
        _headRead = 0;
        if (ReferenceEquals(head, _tail))
        {
            _tail = null;
            _tailUsed = 0;
        }

        _pool.Return(head);
    }
}
