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
/// disposing. Dispose may be called from any thread.
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

    /// <summary>The bytes to write.</summary>
    public ReadOnlyMemory<byte> Payload => new(_buffer, 0, _length);

    /// <summary>Returns the buffer for reuse. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || _owner is null)
        {
            return;
        }

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
    public override string ToString() => $"DataTransmit({_length} bytes)";

    internal int Length => _length;

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
