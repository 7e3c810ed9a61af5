using System.Buffers;

namespace TcpChan.Internal;

/// <summary>
/// The bytes a channel's inbox holds: a chain of 16 KiB blocks from the session's
/// <see cref="SegmentPool"/>, each handed back as soon as it has been read, so a channel holds
/// only what it buffers (bounded by its window) and an idle channel holds nothing. Blocks never
/// move and stay below the large-object threshold. Not thread-safe: the inbox's lock guards it.
/// </summary>
internal struct InboxBuffer
{
    private readonly SegmentPool _pool;
    private InboxSegment? _head;   // read from _headStart
    private InboxSegment? _tail;   // filled to _tailEnd
    private int _headStart;
    private int _tailEnd;

    public InboxBuffer(SegmentPool pool)
    {
        _pool = pool;
        _head = null;
        _tail = null;
        _headStart = 0;
        _tailEnd = 0;
        Length = 0;
    }

    public long Length { get; private set; }

    /// <summary>Everything held, in place: valid until bytes are skipped.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public readonly ReadOnlySequence<byte> AsSequence() =>
        Length == 0 ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_head!, _headStart, _tail!, _tailEnd);

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_tail is null || _tailEnd == _tail.Block.Length)
            {
                var block = _pool.Rent();
                if (_tail is null)
                {
                    block.Reset(0);
                    _head = block;
                    _headStart = 0;
                }
                else
                {
                    _tail.Append(block);
                }

                _tail = block;
                _tailEnd = 0;
            }

            int n = Math.Min(data.Length, _tail.Block.Length - _tailEnd);
            data.Slice(0, n).CopyTo(_tail.Block.AsSpan(_tailEnd));
            _tailEnd += n;
            Length += n;
            data = data.Slice(n);
        }
    }

    /// <summary>Copies from the start into <paramref name="destination"/> and drops what it copied.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public int CopyOut(Span<byte> destination)
    {
        int total = 0;
        while (!destination.IsEmpty && _head is { } head)
        {
            int end = ReferenceEquals(head, _tail) ? _tailEnd : head.Block.Length;
            int n = Math.Min(destination.Length, end - _headStart);
            head.Block.AsSpan(_headStart, n).CopyTo(destination);
            destination = destination.Slice(n);
            total += n;
            Skip(n);
        }

        return total;
    }

    /// <summary>Drops <paramref name="count"/> bytes from the start, handing back emptied blocks.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Skip(long count)
    {
        Length -= count;
        while (count > 0)
        {
            var head = _head!;
            bool last = ReferenceEquals(head, _tail);
            int inHead = (last ? _tailEnd : head.Block.Length) - _headStart;
            if (count < inHead)
            {
                _headStart += (int)count;
                return;
            }

            count -= inHead;
            _headStart = 0;
            _head = last ? null : head.NextSegment;
            if (last)
            {
                _tail = null;
                _tailEnd = 0;
            }

            _pool.Return(head);
        }
    }

    /// <summary>Drops everything held.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Clear() => Skip(Length);
}
