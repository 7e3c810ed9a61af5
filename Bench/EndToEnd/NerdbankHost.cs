using System.Net.Sockets;
using Nerdbank.Streams;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// The <c>nerdbank</c> row: Nerdbank.Streams' <see cref="MultiplexingStream"/>, the C#
/// multiplexer .NET users pick today, as the closest peer. One multiplexing stream each side
/// over ONE TCP connection (a <see cref="NetworkStream"/>, <c>NoDelay</c>), every stream of the
/// run a channel of it, used as a <see cref="Stream"/> through <c>AsStream()</c>, as the
/// library's documentation shows; the workloads are TcpChan's session rows' code verbatim.
/// </summary>
internal sealed class NerdbankHost : IStreamHost
{
    private MultiplexingStream? _client;
    private MultiplexingStream? _server;

    /// <summary>
    /// Nerdbank's recommended settings for throughput: protocol version 3, the one its
    /// documentation creates streams with (2.14's default is still version 1, which has no
    /// per-channel flow control), and the default channel receiving window, 1,024,000 bytes:
    /// its maintainers raised it to that from 100 KB (five 20 KB frames) to fix their
    /// throughput issue 505.
    /// </summary>
    public static MultiplexingStream.Options Settings() => new() { ProtocolMajorVersion = 3 };

    public async Task StartAsync(Func<Stream, Task> handler, CancellationToken cancellationToken)
    {
        var (clientSocket, serverSocket) = await LoopbackSockets.ConnectAsync(cancellationToken).ConfigureAwait(false);
        var server = MultiplexingStream.CreateAsync(new NetworkStream(serverSocket, ownsSocket: true), Settings(), cancellationToken);
        _client = await MultiplexingStream.CreateAsync(new NetworkStream(clientSocket, ownsSocket: true), Settings(), cancellationToken).ConfigureAwait(false);
        _server = await server.ConfigureAwait(false);

        var mx = _server;
        _ = Task.Run(async () =>
        {
            try
            {
                // Offers of one name queue up until accepted, one per call.
                while (true)
                {
                    var channel = await mx.AcceptChannelAsync(string.Empty, cancellationToken).ConfigureAwait(false);
                    _ = Task.Run(() => handler(channel.AsStream()), CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or MultiplexingProtocolException or EndOfStreamException)
            {
            }
        }, CancellationToken.None);
    }

    public async Task<Stream> OpenAsync(CancellationToken cancellationToken) =>
        (await _client!.OfferChannelAsync(string.Empty, cancellationToken).ConfigureAwait(false)).AsStream();

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }

        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
