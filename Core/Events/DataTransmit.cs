using System.Buffers;

namespace TcpChan.Core;

/// <summary>
/// Bytes the driver must write to the transport, in order. All frames the connection
/// produced since the previous <see cref="DataTransmit"/> was taken are in one payload, so
/// one event is one transport write.
/// </summary>
/// <remarks>
/// The payload lives in a buffer the connection reuses. Disposing the event after the
/// write hands the buffer back, which makes the steady state allocation-free; not
/// disposing is safe and only costs a new buffer. Do not read <see cref="Payload"/> after
/// disposing. Dispose may be called from any thread. A transmit can also refer to bytes it
/// does not hold (<see cref="Channel.TryWriteReferenced"/>, <see cref="HasReferences"/>): a
/// driver then writes <see cref="GetSegments"/> (a gathered write), and disposing it tells their
/// owners they are free.
/// </remarks>
public sealed class DataTransmit : ConnectionEvent, IDisposable
{
    // Buffers larger than this are not kept for reuse after a burst. A transmit that outgrows
    // it is regrown from InitialSize next time, copying at every doubling, so it sits above what
    // a driver usually batches (Adapters.Tasks holds writers at 1 MiB unsent).
    private const int RetainLimit = 2 << 20;
    private const int InitialSize = 4096;

    private readonly Connection? _owner;
    private byte[] _buffer;
    private int _length;
    private int _disposed;

    // Bytes referred to, not held: each inserted at a buffer offset; their owners are told on Dispose.
    private List<(int At, ReadOnlyMemory<byte> Data)>? _references;
    private List<IReferencedWrite>? _referenceOwners;
    private int _referencedLength;

    /// <summary>Creates an event over bytes the caller owns (not pooled).</summary>
    public DataTransmit(ReadOnlyMemory<byte> payload)
    {
        _buffer = payload.ToArray();
        _length = _buffer.Length;
    }

    internal DataTransmit(Connection owner)
    {
        _owner = owner;
        _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
    }

    /// <summary>
    /// The bytes to write. When the transmit refers to bytes it does not hold
    /// (<see cref="HasReferences"/>), this copies everything into a new array: write
    /// <see cref="GetSegments"/> instead.
    /// </summary>
    public ReadOnlyMemory<byte> Payload => HasReferences ? Gathered() : new(_buffer, 0, _length);

    /// <summary>True when some of the bytes are referred to, not held (see <see cref="GetSegments"/>).</summary>
    public bool HasReferences => _references is { Count: > 0 };

    /// <summary>How many bytes there are to write.</summary>
    public int ByteCount => _length + _referencedLength;

    /// <summary>The bytes to write, in order, as the pieces they are in (buffer pieces and referred bytes), for a gathered write.</summary>
    public void GetSegments(ICollection<ReadOnlyMemory<byte>> segments)
    {
        int at = 0;
        if (HasReferences && _references is { } references)
        {
            foreach (var (position, data) in references)
            {
                if (position > at)
                {
                    segments.Add(new ReadOnlyMemory<byte>(_buffer, at, position - at));
                    at = position;
                }

                segments.Add(data);
            }
        }

        if (_length > at)
        {
            segments.Add(new ReadOnlyMemory<byte>(_buffer, at, _length - at));
        }
    }

    /// <summary>Returns the buffer for reuse and releases the bytes it referred to. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || _owner is null)
        {
            return;
        }

        ReleaseReferences();
        _length = 0;
        if (_buffer.Length > RetainLimit)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
        }

        _owner.ReturnTransmit(this);
    }

    /// <summary>Hands the buffer back to the pool for good: this disposed transmit is dropped, not reused.</summary>
    internal void ReleaseBuffer()
    {
        var buffer = _buffer;
        _buffer = Array.Empty<byte>();
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"DataTransmit({ByteCount} bytes)";

    internal int Length => _length + _referencedLength;

    /// <summary>Refers to <paramref name="data"/> as the next bytes, without copying them; <paramref name="owner"/> is told on Dispose.</summary>
    internal void AddReference(ReadOnlyMemory<byte> data, IReferencedWrite owner)
    {
        (_references ??= new()).Add((_length, data));
        (_referenceOwners ??= new()).Add(owner);
        _referencedLength += data.Length;
    }

    private void ReleaseReferences()
    {
        if (!HasReferences)
        {
            return;
        }

        // The lists stay for the transmit's next use (it is pooled): nothing allocated per write.
        _references!.Clear();
        _referencedLength = 0;
        var owners = _referenceOwners!;
        for (int i = 0; i < owners.Count; i++)
        {
            owners[i].Released();
        }

        owners.Clear();
    }

    private ReadOnlyMemory<byte> Gathered()
    {
        var segments = new List<ReadOnlyMemory<byte>>();
        GetSegments(segments);
        var all = new byte[ByteCount];
        int at = 0;
        foreach (var segment in segments)
        {
            segment.Span.CopyTo(all.AsSpan(at));
            at += segment.Length;
        }

        return all;
    }

    internal void Reopen() => Volatile.Write(ref _disposed, 0);

    internal Span<byte> GetSpan(int size)
    {
        if (_buffer.Length - _length < size)
        {
            Grow(size);
        }

        return _buffer.AsSpan(_length);
    }

    internal void Advance(int count) => _length += count;

    private void Grow(int size)
    {
        int needed = checked(_length + size);
        int newSize = Math.Max(needed, _buffer.Length * 2);
        byte[] bigger = ArrayPool<byte>.Shared.Rent(newSize);
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
