using TcpChan.Bench.Link;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// <c>tcpchan</c> and <c>tcpchan-tls</c> over the emulated link: ONE link connection (for TLS an
/// <see cref="System.Net.Security.SslStream"/> over it), a TcpChan session each side over a
/// <see cref="StreamTransport"/>, every stream of the run a channel of it. Default options, as
/// <see cref="TcpChanSessionHost"/>. Setting up the connection and the session is not timed.
/// Owns the link.
/// </summary>
internal sealed class LinkSessionHost : IStreamHost
{
    private readonly EmulatedLink _link;
    private readonly bool _tls;
    private readonly int _expectedStreams;
    private TcpChanSession? _client;
    private TcpChanSession? _server;

    public LinkSessionHost(EmulatedLink link, bool tls, int expectedStreams)
    {
        _link = link;
        _tls = tls;
        _expectedStreams = expectedStreams;
    }

    /// <summary>The client session (for its measured round-trip time), once started.</summary>
    public TcpChanSession? Client => _client;

    public async Task StartAsync(Func<Stream, Task> handler, CancellationToken cancellationToken)
    {
        var accept = _link.AcceptAsync(cancellationToken).AsTask();
        Stream client = await _link.ConnectAsync(cancellationToken).ConfigureAwait(false);
        Stream server = await accept.ConfigureAwait(false);
        if (_tls)
        {
            var serverTls = BenchTls.ServerAsync(server, cancellationToken);
            client = await BenchTls.ClientAsync(client, cancellationToken).ConfigureAwait(false);
            server = await serverTls.ConfigureAwait(false);
        }

        var serverSession = TcpChanSession.AcceptAsync(new StreamTransport(server), BenchTuning.Session(_expectedStreams), cancellationToken);
        _client = await TcpChanSession.ConnectAsync(new StreamTransport(client), BenchTuning.Session(), cancellationToken).ConfigureAwait(false);
        _server = await serverSession.ConfigureAwait(false);
        TcpChanSessionHost.ServeChannels(_server, handler, cancellationToken);
    }

    public async Task<Stream> OpenAsync(CancellationToken cancellationToken) =>
        await _client!.OpenChannelAsync(null, cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        await TcpChanSessionHost.DisposeSessionsAsync(_client, _server).ConfigureAwait(false);
        await _link.DisposeAsync().ConfigureAwait(false);
    }
}
