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
}
