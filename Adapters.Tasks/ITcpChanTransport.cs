namespace TcpChan;

/// <summary>
/// An ordered, reliable byte stream that a TcpChan session runs over: a socket, a TLS stream,
/// a pipe. One receive and one send may be in flight at once (never two of either).
/// </summary>
public interface ITcpChanTransport : IAsyncDisposable
{
    /// <summary>Receives at least one byte into <paramref name="buffer"/>; 0 means the peer closed its side.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Sends all of <paramref name="data"/>.</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// Sends all of <paramref name="buffers"/>, in order, as one gathered write where the
    /// transport can do one (a frame's header and a write's bytes, not copied together). The
    /// default sends them one after another.
    /// </summary>
    async ValueTask SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        for (int i = 0; i < buffers.Count; i++)
        {
            await SendAsync(buffers[i], cancellationToken).ConfigureAwait(false);
        }
    }
}
