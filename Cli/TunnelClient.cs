using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using TcpChan.Core;

namespace TcpChan.Cli;

/// <summary>
/// <c>tcpchan forward</c>: keeps one session to the server (reconnecting with exponential
/// backoff when it dies), listens locally for -L and relays each connection as a
/// <c>connect</c> channel, and asks the server to listen for -R, relaying each channel the server
/// opens to the -R target. Local listeners stay open while the session is down; their
/// connections wait for the next session, or are refused after <see cref="ClientSettings.WaitForSession"/>.
/// </summary>
internal sealed class TunnelClient
{
    private readonly ClientSettings _settings;
    private readonly Log _log;
    private readonly List<(Socket Socket, ForwardSpec Spec)> _listeners = new();
    private readonly ConcurrentDictionary<Task, bool> _handlers = new();
    private readonly object _gate = new();
    private TcpChanSession? _current;
    private readonly TaskCompletionSource _firstSession = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<TcpChanSession> _next = NewWaiter();

    public TunnelClient(ClientSettings settings, Log log, Counters counters)
    {
        _settings = settings;
        _log = log;
        Counters = counters;
        counters.RoundTripTimes = () => _current?.SmoothedRtt is { } rtt ? [rtt] : [];
        counters.Refresh = () => _current is { } session ? Sessions.PingAsync(session) : Task.CompletedTask;
    }

    public Counters Counters { get; }

    /// <summary>Sessions established so far (1 after the first, 2 after a reconnect, ...).</summary>
    public int SessionsEstablished { get; private set; }

    /// <summary>Completes when the first session is up.</summary>
    public Task FirstSession => _firstSession.Task;

    /// <summary>The local listening addresses of -L, in order, with their real ports.</summary>
    public IReadOnlyList<IPEndPoint> LocalEndPoints => _listeners.Select(l => (IPEndPoint)l.Socket.LocalEndPoint!).ToList();

    /// <summary>Binds the -L listeners; <see cref="ExitCodes.PortInUse"/> when one cannot.</summary>
    public void Start()
    {
        try
        {
            foreach (var spec in _settings.Local)
            {
                var socket = Net.Listen(Net.BindEndPoint(spec.BindHost, spec.ListenPort, "-L"), $"-L {spec.Text}");
                _listeners.Add((socket, spec));
                _log.Info($"forwarding {HostPort.Format((IPEndPoint)socket.LocalEndPoint!)} -> {spec.Target} (reached by the server)");
            }
        }
        catch
        {
            StopListeners();
            throw;
        }

        foreach (var spec in _settings.Remote)
        {
            _log.Info($"reverse forwarding server port {spec.ListenPort} -> {spec.Target} (reached from here)");
        }

        if (_settings.Tls is null)
        {
            _log.Warn("the link is plaintext: anyone on the path can read and change the forwarded data (use --tls)");
        }
    }

    /// <summary>
    /// Runs until <paramref name="stop"/> fires (then closes gracefully and returns) or an error
    /// that retrying cannot fix (thrown as <see cref="CliException"/>).
    /// </summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var accepting = _listeners.Select(l => AcceptLocalAsync(l.Socket, l.Spec, stop)).ToList();
        try
        {
            await ConnectLoopAsync(stop).ConfigureAwait(false);
        }
        finally
        {
            StopListeners();
            await Task.WhenAll(accepting).ConfigureAwait(false);
            await Task.WhenAll(_handlers.Keys).WaitAsync(_settings.DrainTimeout + TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _log.Info("stopped");
    }

    private async Task ConnectLoopAsync(CancellationToken stop)
    {
        int attempt = 0;
        while (!stop.IsCancellationRequested)
        {
            TcpChanSession session;
            List<TcpChanStream> controls;
            try
            {
                (session, controls) = await EstablishAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (CliException ex) when (IsRetryable(ex))
            {
                var delay = Backoff(attempt++);
                _log.Warn($"{ex.Message}; retrying in {Seconds(delay)}");
                if (!await DelayAsync(delay, stop).ConfigureAwait(false))
                {
                    return;
                }

                continue;
            }

            var upSince = DateTime.UtcNow;
            SessionsEstablished++;
            Counters.SessionUp();
            Publish(session);
            string rtt = session.SmoothedRtt is { } r ? $", rtt {Units.Millis(r)}" : string.Empty;
            _log.Info($"session up: connected to {_settings.Server} ({_settings.Tls?.Describe() ?? "plaintext"}){rtt}");
            var reverse = AcceptReverseAsync(session);
            try
            {
                await session.Completion.WaitAsync(stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            finally
            {
                Unpublish(session);
            }

            if (stop.IsCancellationRequested)
            {
                StopListeners();

                // Ending the -R control channels has the server stop listening for them.
                foreach (var control in controls)
                {
                    await control.DisposeAsync().ConfigureAwait(false);
                }

                _log.Info($"shutting down: {Counters.OpenChannels} channel(s) open; draining for up to {_settings.DrainTimeout.TotalSeconds:F0} s");
                await session.CloseAsync(_settings.DrainTimeout).ConfigureAwait(false);
                await reverse.ConfigureAwait(false);
                Counters.SessionDown();
                return;
            }

            await reverse.ConfigureAwait(false);
            Counters.SessionDown();
            var end = session.EndError;
            string why = end is null ? "closed" : end.Reason == SessionEndReason.Closed ? "the server closed it" : end.Message.TrimEnd('.');
            if (DateTime.UtcNow - upSince >= _settings.MaxBackoff)
            {
                attempt = 0; // a session that lasted starts the backoff over; a flapping one does not
            }

            var wait = Backoff(attempt++);
            _log.Warn($"session lost: {why}; reconnecting in {Seconds(wait)}");
            if (!await DelayAsync(wait, stop).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Failures that the next attempt may not have: the server not up (yet, or again), a failed
    /// handshake, the server's -R port still held. A wrong token or a refused -R port is final.
    /// The very first attempt is final too, unless --keep-trying.
    /// </summary>
    private bool IsRetryable(CliException ex) =>
        (SessionsEstablished > 0 || _settings.KeepTrying)
        && ex.ExitCode is ExitCodes.ServerUnreachable or ExitCodes.HandshakeFailed or ExitCodes.PortInUse;

    private TimeSpan Backoff(int attempt)
    {
        double seconds = Math.Min(_settings.MaxBackoff.TotalSeconds, _settings.MinBackoff.TotalSeconds * Math.Pow(2, Math.Min(attempt, 30)));
        seconds *= 0.75 + (0.5 * Random.Shared.NextDouble()); // jitter: +-25 %
        return TimeSpan.FromSeconds(Math.Min(seconds, _settings.MaxBackoff.TotalSeconds));
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) + " s";

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One session, set up as forward sets it up (TCP, TLS, handshake, token); failures are <see cref="CliException"/>s.</summary>
    public async Task<TcpChanSession> ConnectOnceAsync(CancellationToken stop) => (await EstablishAsync(stop).ConfigureAwait(false)).Session;

    private async Task<(TcpChanSession Session, List<TcpChanStream> Controls)> EstablishAsync(CancellationToken stop)
    {
        var server = _settings.Server;
        Socket socket;
        try
        {
            socket = await Net.ConnectAsync(server, Net.ConnectTimeout, stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException)
        {
            throw new CliException(ExitCodes.ServerUnreachable, $"cannot reach the server {server}: {Net.Describe(ex)}", ex);
        }

        // TLS, the TcpChan handshake, the token and the -R requests share one time limit.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop);
        limit.CancelAfter(_settings.HandshakeTimeout);

        ITcpChanTransport transport;
        if (_settings.Tls is { } tls)
        {
            try
            {
                var ssl = await tls.AuthenticateAsync(new NetworkStream(socket, ownsSocket: true), server.Host, limit.Token).ConfigureAwait(false);
                transport = DuplexPipeTransport.Create(ssl);
            }
            catch (AuthenticationException ex)
            {
                throw new CliException(ExitCodes.HandshakeFailed, $"TLS handshake with {server} failed: {ex.Message}", ex);
            }
            catch (IOException ex)
            {
                throw new CliException(ExitCodes.HandshakeFailed, $"TLS handshake with {server} failed: {ex.Message} (is the server plaintext? then drop --tls)", ex);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                throw new CliException(ExitCodes.HandshakeFailed, $"TLS handshake with {server} failed: no answer within {_settings.HandshakeTimeout.TotalSeconds:F0} s (is the server plaintext? then drop --tls)");
            }
        }
        else
        {
            transport = new SocketTransport(socket);
        }

        // The TcpChan handshake is timed by the library, not by us: its failure says whether the
        // server sent nothing (another protocol's server, or TLS) or what it sent instead.
        var options = Sessions.Options(_log);
        options.Connection.HandshakeReplyTimeout = _settings.HandshakeTimeout;
        options.Connection.HandshakeTimeout = _settings.HandshakeTimeout;
        TcpChanSession session;
        string tlsHint = _settings.Tls is null ? " (does the server need --tls?)" : string.Empty;
        try
        {
            session = await TcpChanSession.ConnectAsync(transport, options, stop).ConfigureAwait(false);
        }
        catch (TcpChanSessionException ex)
        {
            // A connection that ends during the handshake is reported as a failed handshake by
            // the session (HandshakeFailure ConnectionClosed); here it most often means TLS on one
            // side only. Silence or bytes that are not TcpChan can be a TLS server too; a TcpChan
            // server that answered with another magic or version cannot.
            bool closed = ex.Reason == SessionEndReason.ConnectionLost
                || ex.HandshakeFailure == HandshakeFailureReason.ConnectionClosed;
            string hint = ex.HandshakeFailure is HandshakeFailureReason.MagicMismatch or HandshakeFailureReason.VersionMismatch
                or HandshakeFailureReason.SettingsRejected ? string.Empty : tlsHint;
            throw new CliException(ExitCodes.HandshakeFailed, closed
                ? $"the server {server} closed the connection during the handshake{hint}"
                : $"{server} is not a tcpchan server: {ex.Message}{hint}", ex);
        }

        try
        {
            if (session.Version < 1)
            {
                throw new CliException(ExitCodes.HandshakeFailed, $"{server} speaks TcpChan protocol version 0, which has no channel labels: is it a tcpchan serve?");
            }

            await AuthenticateAsync(session, limit.Token).ConfigureAwait(false);
            return (session, await RequestReverseAsync(session, limit.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw new CliException(ExitCodes.HandshakeFailed, $"no answer to the session setup from {server} within {_settings.HandshakeTimeout.TotalSeconds:F0} s");
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task AuthenticateAsync(TcpChanSession session, CancellationToken cancellationToken)
    {
        var server = _settings.Server;
        await using var channel = await session.OpenChannelAsync(Protocol.AuthLabel(_settings.Token), cancellationToken).ConfigureAwait(false);
        channel.CompleteWrites();
        string line;
        try
        {
            line = await Protocol.ReadLineAsync(channel, cancellationToken).ConfigureAwait(false);
        }
        catch (TcpChanChannelException ex) when (ex.Code == TunnelError.WrongToken.Code())
        {
            throw new CliException(ExitCodes.WrongToken, _settings.Token is null
                ? $"the server {server} needs a token (--token, --token-file or {Token.EnvironmentVariable})"
                : $"the server {server} rejected the token: wrong token", ex);
        }
        catch (TcpChanException ex)
        {
            throw new CliException(ExitCodes.HandshakeFailed, $"the server {server} ended the session during authentication: {ex.Message}", ex);
        }

        if (line != Protocol.Ok)
        {
            throw new CliException(ExitCodes.HandshakeFailed, $"unexpected answer from {server} to auth: '{line}' (is it a tcpchan serve?)");
        }
    }

    private async Task<List<TcpChanStream>> RequestReverseAsync(TcpChanSession session, CancellationToken cancellationToken)
    {
        var controls = new List<TcpChanStream>();
        foreach (var spec in _settings.Remote)
        {
            // The control channel stays open for the session: the server's listener lives as long.
            var control = await session.OpenChannelAsync(Protocol.ListenLabel(spec.ListenPort, spec.Target), cancellationToken).ConfigureAwait(false);
            controls.Add(control);
            string line;
            try
            {
                line = await Protocol.ReadLineAsync(control, cancellationToken).ConfigureAwait(false);
            }
            catch (TcpChanChannelException ex) when (ex.Code == TunnelError.ListenNotAllowed.Code())
            {
                throw new CliException(ExitCodes.Refused, $"the server refused -R {spec.Text}: port {spec.ListenPort} is not on its --allow-listen list", ex);
            }
            catch (TcpChanChannelException ex) when (ex.Code == TunnelError.ListenFailed.Code())
            {
                throw new CliException(ExitCodes.PortInUse, $"the server cannot listen on port {spec.ListenPort} for -R {spec.Text} (in use?)", ex);
            }
            catch (TcpChanException ex)
            {
                throw new CliException(ExitCodes.HandshakeFailed, $"-R {spec.Text}: {ex.Message}", ex);
            }

            if (!line.StartsWith(Protocol.Ok + " ", StringComparison.Ordinal))
            {
                throw new CliException(ExitCodes.HandshakeFailed, $"unexpected answer from the server to -R {spec.Text}: '{line}'");
            }

            _log.Info($"-R {spec.Text}: the server listens on {line[3..]}");
        }

        return controls;
    }

    private void Publish(TcpChanSession session)
    {
        lock (_gate)
        {
            _current = session;
            _next.TrySetResult(session);
        }

        _firstSession.TrySetResult();
    }

    private void Unpublish(TcpChanSession session)
    {
        lock (_gate)
        {
            if (_current == session)
            {
                _current = null;
                _next = NewWaiter();
            }
        }
    }

    private async Task<TcpChanSession?> WaitForSessionAsync(DateTime deadline, CancellationToken stop)
    {
        Task<TcpChanSession> next;
        lock (_gate)
        {
            if (_current is { } current)
            {
                return current;
            }

            next = _next.Task;
        }

        var left = deadline - DateTime.UtcNow;
        if (left <= TimeSpan.Zero)
        {
            return null;
        }

        try
        {
            return await next.WaitAsync(left, stop).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    private static TaskCompletionSource<TcpChanSession> NewWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void StopListeners()
    {
        foreach (var (socket, _) in _listeners)
        {
            socket.Dispose();
        }
    }

    private void Track(Task task)
    {
        _handlers.TryAdd(task, true);
        _ = task.ContinueWith(t => _handlers.TryRemove(t, out _), TaskScheduler.Default);
    }

    private async Task AcceptLocalAsync(Socket listener, ForwardSpec spec, CancellationToken stop)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (SocketException ex) when (!stop.IsCancellationRequested && ex.SocketErrorCode != SocketError.OperationAborted)
            {
                // Out of descriptors, a connection aborted before it was accepted: keep going.
                _log.Warn($"-L {spec.Text}: accepting a connection failed: {ex.Message}");
                await DelayAsync(TimeSpan.FromMilliseconds(100), stop).ConfigureAwait(false);
                continue;
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Track(HandleLocalAsync(socket, spec, stop));
        }
    }

    private async Task HandleLocalAsync(Socket socket, ForwardSpec spec, CancellationToken stop)
    {
        string remote = Net.Peer(socket);
        socket.NoDelay = true;
        var deadline = DateTime.UtcNow + _settings.WaitForSession;
        TcpChanStream? channel = null;
        try
        {
            while (channel is null)
            {
                var session = await WaitForSessionAsync(deadline, stop).ConfigureAwait(false);
                if (session is null)
                {
                    _log.Warn($"connection from {remote} to {spec.Target} refused: no session to the server (waited {_settings.WaitForSession.TotalSeconds:F0} s)");
                    Relay.Reset(socket);
                    return;
                }

                try
                {
                    channel = await session.OpenChannelAsync(Protocol.ConnectLabel(spec.Target), stop).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is TcpChanSessionException or InvalidOperationException)
                {
                    // Going away or gone: wait for the next session.
                    Unpublish(session);
                }
            }
        }
        catch (OperationCanceledException)
        {
            Relay.Reset(socket);
            return;
        }

        Counters.ChannelOpened();
        _log.Debug($"connection from {remote} to {spec.Target}: channel {channel.ChannelId}");
        try
        {
            var result = await Relay.RunAsync(socket, channel, Counters, CancellationToken.None).ConfigureAwait(false);
            if (result.ResetCode is { } code && (code >= ErrorCode.ApplicationBase || code == ErrorCode.Refused))
            {
                _log.Warn($"connection from {remote} to {spec.Target} closed: refused by the server: {TunnelErrors.Describe(code)}");
            }
            else if (result.ChannelError is TcpChanSessionException lost)
            {
                _log.Debug($"connection from {remote} to {spec.Target} closed: the session ended ({lost.Message})");
            }
            else
            {
                _log.Debug($"connection from {remote} to {spec.Target} done: {Units.Bytes(result.BytesOut)} sent, {Units.Bytes(result.BytesIn)} received{(result.IsClean ? string.Empty : " (reset)")}");
            }
        }
        finally
        {
            Counters.ChannelClosed();
        }
    }

    private async Task AcceptReverseAsync(TcpChanSession session)
    {
        try
        {
            await foreach (var channel in session.AcceptChannelsAsync().ConfigureAwait(false))
            {
                Track(HandleReverseAsync(channel));
            }
        }
        catch (TcpChanSessionException)
        {
            // The session ended; the connect loop says why.
        }
    }

    private async Task HandleReverseAsync(TcpChanStream channel)
    {
        var (verb, argument) = Protocol.Split(channel.Label);
        if (verb != Protocol.Connect || !HostPort.TryParse(argument, out var target))
        {
            _log.Warn($"the server opened an unknown channel '{channel.Label}'; refused");
            channel.Abort(TunnelError.BadRequest.Code());
            return;
        }

        if (!_settings.Remote.Any(r => r.Target.Matches(target)))
        {
            _log.Warn($"the server asked for a connection to {target}, which is not a -R target here; refused");
            channel.Abort(TunnelError.TargetNotAllowed.Code());
            return;
        }

        var relayed = await Relay.ConnectAndRunAsync(channel, target, Counters, ex => _log.Warn($"-R connection to {target} refused: cannot connect: {Net.Describe(ex)}"), CancellationToken.None).ConfigureAwait(false);
        if (relayed is { } result)
        {
            _log.Debug($"-R connection to {target} done: {Units.Bytes(result.BytesOut)} sent, {Units.Bytes(result.BytesIn)} received{(result.IsClean ? string.Empty : " (reset)")}");
        }
    }
}
