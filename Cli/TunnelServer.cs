using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using TcpChan.Core;

namespace TcpChan.Cli;

/// <summary>
/// <c>tcpchan serve</c>: accepts session connections (plaintext or TLS), checks the token, and
/// serves each channel by its label (see <see cref="Protocol"/>): <c>connect</c> to targets on
/// the allow list, <c>listen</c> on allowed ports for reverse forwards.
/// </summary>
internal sealed class TunnelServer : IAsyncDisposable
{
    private readonly ServerSettings _settings;
    private readonly Log _log;
    private readonly ConcurrentDictionary<int, ServerSession> _sessions = new();
    private readonly ConcurrentDictionary<Task, bool> _handlers = new();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private int _nextSessionId;

    public TunnelServer(ServerSettings settings, Log log, Counters counters)
    {
        _settings = settings;
        _log = log;
        Counters = counters;
        counters.RoundTripTimes = () => _sessions.Values.Select(s => s.Session?.SmoothedRtt).OfType<TimeSpan>().ToList();
        counters.Refresh = () => Task.WhenAll(_sessions.Values.Select(s => s.Session).OfType<TcpChanSession>().Select(Sessions.PingAsync));
    }

    public Counters Counters { get; }

    /// <summary>Where it listens, with the real port once started.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? _settings.Listen);

    /// <summary>Binds the listening socket; <see cref="ExitCodes.PortInUse"/> when it cannot.</summary>
    public void Start()
    {
        _listener = Net.Listen(_settings.Listen, "--listen");
        string security = _settings.Certificate is null ? "plaintext" : "TLS";
        string auth = _settings.Token is null ? "no token" : "token required";
        _log.Info($"listening on {HostPort.Format(LocalEndPoint)} ({security}, {auth})");
        if (_settings.Certificate is null)
        {
            _log.Warn("the link is plaintext: anyone on the path can read and change the forwarded data (use --tls --cert --key)");
        }

        _log.Info(_settings.Allow.Count == 0
            ? "allowed targets: none (every connect is refused; add --allow HOST:PORT)"
            : $"allowed targets: {string.Join(", ", _settings.Allow)}");
        if (_settings.AllowListen.Count > 0)
        {
            _log.Info($"allowed -R listen addresses: {string.Join(", ", _settings.AllowListen.Select(HostPort.Format))}");
        }
    }

    /// <summary>Accepts until <paramref name="stop"/> fires, then shuts down gracefully (go-away, drain, close).</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var listener = _listener ?? throw new InvalidOperationException("Start first.");
        try
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptAsync(stop).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    // Out of descriptors, a connection aborted before it was accepted: keep going.
                    _log.Warn($"accepting a connection failed: {ex.Message}");
                    await Task.Delay(100, stop).ConfigureAwait(false);
                    continue;
                }

                Counters.TunnelConnectionAccepted();
                Track(HandleConnectionAsync(socket));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        await ShutdownAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await ShutdownAsync().ConfigureAwait(false);

    private async Task ShutdownAsync()
    {
        if (_stopping.IsCancellationRequested || _listener is null)
        {
            return;
        }

        var sessions = _sessions.Values.Count(s => s.Session is not null);
        if (sessions > 0)
        {
            _log.Info($"shutting down: {sessions} session(s), {Counters.OpenChannels} channel(s) open; draining for up to {_settings.DrainTimeout.TotalSeconds:F0} s");
        }

        // Every session (even one whose handshake ends just now) closes gracefully on this:
        // go-away, its -R listeners closed, open channels drained, then closed.
        _stopping.Cancel();
        _listener?.Dispose();
        await Task.WhenAll(_handlers.Keys).ConfigureAwait(false);
        _log.Info("stopped");
    }

    private void Track(Task task)
    {
        _handlers.TryAdd(task, true);
        _ = task.ContinueWith(t => _handlers.TryRemove(t, out _), TaskScheduler.Default);
    }

    private async Task HandleConnectionAsync(Socket socket)
    {
        int id = Interlocked.Increment(ref _nextSessionId);
        string remote = Net.Peer(socket);
        var state = new ServerSession(id, remote);
        _sessions[id] = state;
        try
        {
            socket.NoDelay = true;
            TcpChanSession session;
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
            {
                handshake.CancelAfter(_settings.HandshakeTimeout);
                try
                {
                    ITcpChanTransport transport;
                    if (_settings.Certificate is { } certificate)
                    {
                        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
                        try
                        {
                            await ssl.AuthenticateAsServerAsync(Tls.ServerOptions(certificate), handshake.Token).ConfigureAwait(false);
                        }
                        catch
                        {
                            await ssl.DisposeAsync().ConfigureAwait(false);
                            throw;
                        }

                        transport = DuplexPipeTransport.Create(ssl);
                    }
                    else
                    {
                        transport = new SocketTransport(socket);
                    }

                    session = await TcpChanSession.AcceptAsync(transport, Sessions.Options(_log), handshake.Token).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    socket.Dispose();
                    string why = ex is OperationCanceledException ? $"no handshake within {_settings.HandshakeTimeout.TotalSeconds:F0} s" : ex.Message.TrimEnd('.');
                    string hint = _settings.Certificate is null ? " (a TLS client? this server is plaintext)" : " (a plaintext client? this server needs --tls)";
                    if (!_stopping.IsCancellationRequested)
                    {
                        _log.Warn($"connection #{id} from {remote}: handshake failed: {why}{hint}");
                    }

                    return;
                }
            }

            state.Session = session;
            using var stopping = _stopping.Token.Register(() =>
            {
                state.CloseReverseListeners();
                _ = session.CloseAsync(_settings.DrainTimeout);
            });
            if (session.Version < 1)
            {
                _log.Warn($"connection #{id} from {remote}: the client speaks protocol version 0, which has no channel labels; closing");
                await session.DisposeAsync().ConfigureAwait(false);
                return;
            }

            state.Authenticated = _settings.Token is null;
            Counters.SessionUp();
            _log.Info($"session #{id} from {remote} established ({(_settings.Certificate is null ? "plaintext" : "TLS")})");
            try
            {
                await ServeSessionAsync(state, session).ConfigureAwait(false);
            }
            finally
            {
                Counters.SessionDown();
                state.CloseReverseListeners();
                var end = session.EndError;
                if (end is null || end.Reason == SessionEndReason.Closed)
                {
                    _log.Info($"session #{id} from {remote} closed");
                }
                else if (end.Reason == SessionEndReason.ConnectionLost)
                {
                    _log.Info($"session #{id} from {remote} ended: {end.Message.TrimEnd('.')}");
                }
                else
                {
                    _log.Warn($"session #{id} from {remote} ended: {end.Message.TrimEnd('.')}");
                }
            }
        }
        finally
        {
            _sessions.TryRemove(id, out _);
        }
    }

    private async Task ServeSessionAsync(ServerSession state, TcpChanSession session)
    {
        var channels = new List<Task>();
        using var authTimer = new CancellationTokenSource();
        if (!state.Authenticated)
        {
            // A client has a few seconds to present its token; then it is dropped.
            authTimer.Token.Register(() =>
            {
                if (!state.Authenticated)
                {
                    _log.Warn($"session #{state.Id} from {state.Remote}: no token presented within {_settings.HandshakeTimeout.TotalSeconds:F0} s; closing");
                    _ = session.CloseAsync(TimeSpan.Zero);
                }
            });
            authTimer.CancelAfter(_settings.HandshakeTimeout);
        }

        try
        {
            await foreach (var channel in session.AcceptChannelsAsync().ConfigureAwait(false))
            {
                channels.Add(HandleChannelAsync(state, session, channel));
                channels.RemoveAll(t => t.IsCompleted);
            }
        }
        catch (TcpChanSessionException)
        {
            // The session ended abnormally; the caller logs why.
        }

        await session.Completion.ConfigureAwait(false);
        await Task.WhenAll(channels).ConfigureAwait(false);
    }

    private async Task HandleChannelAsync(ServerSession state, TcpChanSession session, TcpChanStream channel)
    {
        var (verb, argument) = Protocol.Split(channel.Label);
        try
        {
            switch (verb)
            {
                case Protocol.Auth:
                    await AuthenticateAsync(state, session, channel, argument).ConfigureAwait(false);
                    return;
                case Protocol.Connect when state.Authenticated:
                    await ConnectAsync(state, channel, argument).ConfigureAwait(false);
                    return;
                case Protocol.Listen when state.Authenticated:
                    await ListenAsync(state, session, channel, argument).ConfigureAwait(false);
                    return;
                case Protocol.Connect or Protocol.Listen:
                    _log.Warn($"session #{state.Id} from {state.Remote}: '{verb}' before authentication; closing the session");
                    channel.Abort(TunnelError.AuthRequired.Code());
                    await session.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                    return;
                default:
                    _log.Warn($"session #{state.Id} from {state.Remote}: unknown request '{Shorten(channel.Label)}'; refused");
                    channel.Abort(TunnelError.BadRequest.Code());
                    return;
            }
        }
        catch (TcpChanException ex)
        {
            _log.Debug($"session #{state.Id}: channel {channel.ChannelId} ({verb}): {ex.Message}");
            channel.Abort();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _log.Warn($"session #{state.Id}: channel {channel.ChannelId} ({verb}) failed: {ex.GetType().Name}: {ex.Message}");
            channel.Abort();
        }
    }

    private async Task AuthenticateAsync(ServerSession state, TcpChanSession session, TcpChanStream channel, string presented)
    {
        if (_settings.Token is { } token && !Token.Matches(token, presented))
        {
            _log.Warn(presented.Length == 0
                ? $"session #{state.Id} from {state.Remote}: the client presented no token, and this server needs one; closing the session"
                : $"session #{state.Id} from {state.Remote}: wrong token; closing the session");
            channel.Abort(TunnelError.WrongToken.Code());
            await session.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            return;
        }

        state.Authenticated = true;
        await Protocol.WriteLineAsync(channel, Protocol.Ok, CancellationToken.None).ConfigureAwait(false);
        channel.CompleteWrites();
        await channel.DisposeAsync().ConfigureAwait(false);
        if (_settings.Token is not null)
        {
            _log.Info($"session #{state.Id} from {state.Remote}: token accepted");
        }
    }

    private async Task ConnectAsync(ServerSession state, TcpChanStream channel, string argument)
    {
        if (!HostPort.TryParse(argument, out var target))
        {
            _log.Warn($"session #{state.Id}: bad connect target '{Shorten(argument)}'; refused");
            channel.Abort(TunnelError.BadRequest.Code());
            return;
        }

        if (!_settings.Allow.Any(a => a.Matches(target)))
        {
            _log.Warn($"session #{state.Id} from {state.Remote}: refused connect to {target}: not on the --allow list");
            channel.Abort(TunnelError.TargetNotAllowed.Code());
            return;
        }

        var relayed = await Relay.ConnectAndRunAsync(channel, target, Counters, ex => _log.Warn($"session #{state.Id} from {state.Remote}: cannot connect to {target}: {Net.Describe(ex)}"), _stopping.Token).ConfigureAwait(false);
        if (relayed is { } result)
        {
            _log.Debug($"session #{state.Id}: channel {channel.ChannelId} to {target} done: {Units.Bytes(result.BytesOut)} to the client, {Units.Bytes(result.BytesIn)} from it{Why(result)}");
        }
    }

    private async Task ListenAsync(ServerSession state, TcpChanSession session, TcpChanStream control, string argument)
    {
        var parts = argument.Split(' ', 2);
        if (parts.Length != 2 || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port)
            || !HostPort.TryParse(parts[1], out var target))
        {
            _log.Warn($"session #{state.Id}: bad listen request '{Shorten(argument)}'; refused");
            control.Abort(TunnelError.BadRequest.Code());
            return;
        }

        var allowed = _settings.AllowListen.FirstOrDefault(e => e.Port == port);
        if (allowed is null)
        {
            _log.Warn($"session #{state.Id} from {state.Remote}: refused -R listen on port {port}: not on the --allow-listen list");
            control.Abort(TunnelError.ListenNotAllowed.Code());
            return;
        }

        Socket listener;
        try
        {
            listener = Net.Listen(allowed, "-R");
        }
        catch (CliException ex)
        {
            _log.Warn($"session #{state.Id} from {state.Remote}: -R: {ex.Message}");
            control.Abort(TunnelError.ListenFailed.Code());
            return;
        }

        string where = HostPort.Format((IPEndPoint)listener.LocalEndPoint!);
        state.AddReverseListener(listener);
        try
        {
            await Protocol.WriteLineAsync(control, $"{Protocol.Ok} {where}", CancellationToken.None).ConfigureAwait(false);
            _log.Info($"session #{state.Id}: listening on {where} for the client's -R {port}:{target}");

            // The listener lives as long as the control channel: the client ends it, or the session ends.
            var controlEnded = DrainAsync(control);
            var connections = new List<Task>();
            while (true)
            {
                var accept = listener.AcceptAsync();
                if (await Task.WhenAny(accept, controlEnded).ConfigureAwait(false) != accept)
                {
                    break;
                }

                Socket socket;
                try
                {
                    socket = await accept.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    break;
                }

                connections.Add(ReverseConnectionAsync(state, session, socket, target));
                connections.RemoveAll(t => t.IsCompleted);
            }

            await Task.WhenAll(connections).ConfigureAwait(false);
        }
        finally
        {
            state.RemoveReverseListener(listener);
            listener.Dispose();
            control.Abort();
            _log.Info($"session #{state.Id}: stopped listening on {where}");
        }
    }

    private async Task ReverseConnectionAsync(ServerSession state, TcpChanSession session, Socket socket, HostPort target)
    {
        string remote = Net.Peer(socket);
        TcpChanStream channel;
        try
        {
            socket.NoDelay = true;
            channel = await session.OpenChannelAsync(Protocol.ConnectLabel(target)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TcpChanException or InvalidOperationException or SocketException)
        {
            _log.Warn($"session #{state.Id}: -R connection from {remote} closed: {ex.Message}");
            Relay.Reset(socket);
            return;
        }

        Counters.ChannelOpened();
        try
        {
            var result = await Relay.RunAsync(socket, channel, Counters, CancellationToken.None).ConfigureAwait(false);
            if (result.ResetCode is { } code && code >= ErrorCode.ApplicationBase)
            {
                _log.Warn($"session #{state.Id}: -R connection from {remote} to the client's {target} closed: refused by the client: {TunnelErrors.Describe(code)}");
            }
            else
            {
                _log.Debug($"session #{state.Id}: -R connection from {remote} to {target} done: {Units.Bytes(result.BytesOut)} to the client, {Units.Bytes(result.BytesIn)} from it{Why(result)}");
            }
        }
        finally
        {
            Counters.ChannelClosed();
        }
    }

    /// <summary>Reads a control channel until the peer ends it or it fails.</summary>
    private static async Task DrainAsync(TcpChanStream control)
    {
        var buffer = new byte[64];
        try
        {
            while (await control.ReadAsync(buffer).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is TcpChanException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private static string Why(RelayResult result) =>
        result.ChannelError is { } channel ? $" ({channel.Message})" : result.SocketError is { } socket ? $" ({socket.Message})" : string.Empty;

    private static string Shorten(string? text) => text is null ? string.Empty : text.Length <= 60 ? text : text[..60] + "...";

    private sealed class ServerSession(int id, string remote)
    {
        private readonly List<Socket> _reverseListeners = new();

        public int Id { get; } = id;

        public string Remote { get; } = remote;

        public TcpChanSession? Session { get; set; }

        public volatile bool Authenticated;

        public void AddReverseListener(Socket socket)
        {
            lock (_reverseListeners)
            {
                _reverseListeners.Add(socket);
            }
        }

        public void RemoveReverseListener(Socket socket)
        {
            lock (_reverseListeners)
            {
                _reverseListeners.Remove(socket);
            }
        }

        public void CloseReverseListeners()
        {
            lock (_reverseListeners)
            {
                foreach (var socket in _reverseListeners)
                {
                    socket.Dispose();
                }
            }
        }
    }
}

/// <summary>Session settings shared by serve and forward.</summary>
internal static class Sessions
{
    /// <summary>Measures the round trip again (for --stats); a session that is ending is left alone.</summary>
    public static async Task PingAsync(TcpChanSession session)
    {
        try
        {
            await session.PingAsync().WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TcpChanException or TimeoutException or InvalidOperationException)
        {
        }
    }

    public static TcpChanSessionOptions Options(Log log) => new()
    {
        Logger = log.IsEnabled(LogLevel.Debug) ? log.AsLogger() : null,
        Connection = new ConnectionOptions
        {
            // A dead peer is noticed within 45 s (the defaults: 90 s).
            KeepAliveInterval = TimeSpan.FromSeconds(15),
            KeepAliveTimeout = TimeSpan.FromSeconds(45),
        },
    };
}
