namespace TcpChan.Internal;

/// <summary>
/// Bytes a channel received and its reader has not taken yet: a queue of 16 KiB segments from
/// the session's <see cref="SegmentPool"/>, each handed back as soon as it has been read, so a
/// channel holds only what it buffers (bounded by its window) and an idle channel holds nothing.
/// </summary>
/// <remarks>
/// Segments stay below the large-object threshold and never move: many channels buffering at
/// once (fanin) reuse the same small arrays, instead of large ones regrown by doubling and
/// copying. The first segment has a field of its own, so a channel that never buffers more
/// than one segment allocates no queue. Written by the receive loop and read by the stream's
/// reader, neither holding the session's gate for the copy: a lock of its own guards it.
/// </remarks>
internal sealed class ReceiveBuffer
{
    private readonly SegmentPool _pool;
    private byte[]? _head;          // the first segment, being read
    private Queue<byte[]>? _rest;   // the segments after it, the last being _tail
    private byte[]? _tail;          // the last segment, being filled
    private int _tailUsed;          // bytes written into _tail
    private int _headRead;          // bytes already read from _head
    private int _length;
    private bool _closed;           // cleared for good, or handed over to a pipe view: writes are refused

    public ReceiveBuffer(SegmentPool pool) => _pool = pool;

    public int Length => Volatile.Read(ref _length);

    public void Write(ReadOnlySpan<byte> data) => TryWrite(data);

    /// <summary>Appends <paramref name="data"/>; false when the buffer was closed (<see cref="Clear"/>, <see cref="TakeAll"/>).</summary>
    public bool TryWrite(ReadOnlySpan<byte> data)
    {
        lock (this)
        {
            if (_closed)
            {
                return false;
            }

            while (!data.IsEmpty)
            {
                if (_tail is null || _tailUsed == _tail.Length)
                {
                    var segment = _pool.Rent();
                    if (_head is null)
                    {
                        _head = segment;
                    }
                    else
                    {
                        (_rest ??= new Queue<byte[]>()).Enqueue(segment);
                    }

                    _tail = segment;
                    _tailUsed = 0;
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
        lock (this)
        {
            int total = 0;
            while (!destination.IsEmpty && _head is { } head)
            {
                int end = ReferenceEquals(head, _tail) ? _tailUsed : head.Length;
                int n = Math.Min(destination.Length, end - _headRead);
                head.AsSpan(_headRead, n).CopyTo(destination);
                destination = destination.Slice(n);
                _headRead += n;
                _length -= n;
                total += n;
                if (_headRead == end)
                {
                    ReleaseHead();
                }
            }

            return total;
        }
    }

    /// <summary>Drops what is buffered and refuses later writes (the channel ended abnormally or was disposed).</summary>
    public void Clear()
    {
        lock (this)
        {
            _closed = true;
            while (_head is not null)
            {
                ReleaseHead();
            }

            _length = 0;
        }
    }

    /// <summary>Everything buffered, in a new array; later writes are refused (a pipe view takes over).</summary>
    public byte[] TakeAll()
    {
        lock (this)
        {
            var all = new byte[_length];
            Read(all);
            _closed = true;
            return all;
        }
    }

    private void ReleaseHead()
    {
        var head = _head!;
        _headRead = 0;
        if (ReferenceEquals(head, _tail))
        {
            _head = null;
            _tail = null;
            _tailUsed = 0;
        }
        else
        {
            _head = _rest!.Dequeue();
        }

        _pool.Return(head);
    }
}
