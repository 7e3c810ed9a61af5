namespace TcpChan;

/// <summary>A transport over any <see cref="Stream"/>: <c>NetworkStream</c>, <c>SslStream</c>, a named pipe.</summary>
public sealed class StreamTransport : ITcpChanTransport
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;

    /// <summary>Wraps <paramref name="stream"/>; disposing the transport disposes it unless <paramref name="leaveOpen"/>.</summary>
    public StreamTransport(Stream stream, bool leaveOpen = false)
    {
        _stream = stream ?? throw new ArgumentNullException(nameof(stream));
        _leaveOpen = leaveOpen;
    }

    /// <inheritdoc />
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _stream.ReadAsync(buffer, cancellationToken);

    /// <inheritdoc />
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Every buffer written, then one flush.</remarks>
    public async ValueTask SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        for (int i = 0; i < buffers.Count; i++)
        {
            await _stream.WriteAsync(buffers[i], cancellationToken).ConfigureAwait(false);
        }

        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _leaveOpen ? default : _stream.DisposeAsync();
}
