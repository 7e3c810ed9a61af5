using TcpChan.Bench.Link;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// <c>dotnet-tcp</c> and <c>dotnet-tls</c> over the emulated link: one link connection per
/// stream, as a new TCP connection (its connect costs the client one round trip), and for TLS an
/// <see cref="System.Net.Security.SslStream"/> handshake over it (its round trips come out of the
/// protocol itself). Owns the link.
/// </summary>
internal sealed class LinkConnectionHost : IStreamHost
{
    private readonly EmulatedLink _link;
    private readonly bool _tls;

    public LinkConnectionHost(EmulatedLink link, bool tls)
    {
        _link = link;
        _tls = tls;
    }

    public Task StartAsync(Func<Stream, Task> handler, CancellationToken cancellationToken)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    Stream accepted = await _link.AcceptAsync(cancellationToken).ConfigureAwait(false);
                    _ = Task.Run(async () => await handler(_tls ? await BenchTls.ServerAsync(accepted, cancellationToken).ConfigureAwait(false) : accepted).ConfigureAwait(false), CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // the link closed
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task<Stream> OpenAsync(CancellationToken cancellationToken)
    {
        Stream s = await _link.ConnectAsync(cancellationToken).ConfigureAwait(false);
        return _tls ? await BenchTls.ClientAsync(s, cancellationToken).ConfigureAwait(false) : s;
    }

    public ValueTask DisposeAsync() => _link.DisposeAsync();
}
