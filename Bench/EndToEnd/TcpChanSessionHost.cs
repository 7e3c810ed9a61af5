using System.Net;
using System.Net.Sockets;
using TcpChan.Core;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// TcpChan's session API with channels as <see cref="TcpChanStream"/>s: one session each side,
/// over ONE TCP connection, every stream of the run a channel of it. Default options.
/// </summary>
/// <remarks>
/// Two ways to carry the session, as two rows: <c>tcpchan</c> uses Adapters.Sockets
/// (<see cref="TcpChanListener"/>, <see cref="TcpChanClient"/>, <see cref="SocketTransport"/>),
/// what a user picks first; <c>tcpchan-tasks</c> uses Adapters.Tasks alone, its
/// <see cref="StreamTransport"/> over a <see cref="NetworkStream"/> on each end. A third row,
/// <c>tcpchan-yamux</c>, is <c>tcpchan</c> speaking yamux (<see cref="WireProtocol.Yamux"/>).
/// </remarks>
internal sealed class TcpChanSessionHost : IStreamHost
{
    private readonly bool _useSocketsAdapter;
    private readonly int _expectedStreams;
    private readonly WireProtocol _protocol;
    private TcpChanListener? _listener;
    private TcpChanSession? _client;
    private TcpChanSession? _server;

    public TcpChanSessionHost(bool useSocketsAdapter, int expectedStreams, WireProtocol protocol = WireProtocol.TcpChan)
    {
        _useSocketsAdapter = useSocketsAdapter;
        _expectedStreams = expectedStreams;
        _protocol = protocol;
    }

    public async Task StartAsync(Func<Stream, Task> handler, CancellationToken cancellationToken)
    {
        // Defaults, except that the accept backlog must hold every stream the run opens at once.
        var serverOptions = BenchTuning.Session(_expectedStreams, _protocol);
        if (_useSocketsAdapter)
        {
            _listener = TcpChanListener.Start(new IPEndPoint(IPAddress.Loopback, 0), serverOptions);
            var accept = _listener.AcceptSessionAsync(cancellationToken).AsTask();
            _client = await TcpChanClient.ConnectAsync(_listener.LocalEndPoint, BenchTuning.Session(protocol: _protocol), cancellationToken).ConfigureAwait(false);
            _server = await accept.ConfigureAwait(false);
        }
        else
        {
            var (clientSocket, serverSocket) = await LoopbackSockets.ConnectAsync(cancellationToken).ConfigureAwait(false);
            var serverSession = TcpChanSession.AcceptAsync(new StreamTransport(new NetworkStream(serverSocket, ownsSocket: true)), serverOptions, cancellationToken);
            _client = await TcpChanSession.ConnectAsync(new StreamTransport(new NetworkStream(clientSocket, ownsSocket: true)), BenchTuning.Session(), cancellationToken).ConfigureAwait(false);
            _server = await serverSession.ConfigureAwait(false);
        }

        ServeChannels(_server, handler, cancellationToken);
    }

    /// <summary>Runs <paramref name="handler"/> on every channel <paramref name="server"/> accepts, each in a task of its own, until the session ends.</summary>
    public static void ServeChannels(TcpChanSession server, Func<Stream, Task> handler, CancellationToken cancellationToken) =>
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var stream = await server.AcceptChannelAsync(cancellationToken).ConfigureAwait(false);
                    _ = Task.Run(() => handler(stream), CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is TcpChanSessionException or OperationCanceledException)
            {
            }
        }, CancellationToken.None);

    public async Task<Stream> OpenAsync(CancellationToken cancellationToken) =>
        await _client!.OpenChannelAsync(null, cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        await DisposeSessionsAsync(_client, _server).ConfigureAwait(false);
        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Disposes both ends' sessions, the client's first (either may not have started).</summary>
    public static async ValueTask DisposeSessionsAsync(TcpChanSession? client, TcpChanSession? server)
    {
        if (client is not null)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }

        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
