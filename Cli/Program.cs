using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;

namespace TcpChan.Cli;

/// <summary>The <c>tcpchan</c> command line: serve, forward, demo.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand(
            "tcpchan: forwards TCP ports over one TcpChan connection, like ssh -L and -R: every forwarded " +
            "connection is one channel of the session. Start with 'tcpchan demo'.\n\n" + ExitCodes.Help)
        {
            ServeCommand(),
            ForwardCommand(),
            ConnectCommandLine(),
            Demo.Command(),
        };

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync($"tcpchan: {error.Message}").ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync("Try 'tcpchan --help'.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        // Ctrl+C and SIGTERM are handled here (graceful shutdown), not by System.CommandLine.
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
    }

    private static readonly Option<bool> Stats = new("--stats") { Description = "Show a live line: sessions, open channels, bytes each way, round-trip time." };
    private static readonly Option<bool> Verbose = new("--verbose", "-v") { Description = "Log every connection and the sessions' own lines." };
    private static readonly Option<bool> Quiet = new("--quiet", "-q") { Description = "Log only warnings and errors." };
    private static readonly Option<string?> TokenOption = new("--token") { HelpName = "TOKEN", Description = $"The shared secret (also: --token-file, or the {Token.EnvironmentVariable} environment variable)." };
    private static readonly Option<FileInfo?> TokenFile = new("--token-file") { HelpName = "FILE", Description = "Read the shared secret from the first line of FILE." };
    private static readonly Option<bool> TlsOption = new("--tls") { Description = "Run the session connection over TLS." };
    private static readonly Option<double> DrainTimeout = new("--drain-timeout")
    {
        Description = "On Ctrl+C, seconds to let open connections finish before closing.",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => 5,
    };

    /// <summary>An option that may be given any number of times.</summary>
    private static Option<string[]> Repeated(string[] names, string helpName, string description) =>
        new(names[0], names[1..]) { Description = description, HelpName = helpName, Arity = ArgumentArity.ZeroOrMore };

    private static Command ServeCommand()
    {
        var listen = new Option<string>("--listen", "-l") { HelpName = "ADDR:PORT", Description = "Address to accept sessions on, ADDR:PORT (port 0: any free port).", Required = true };
        var allow = Repeated(["--allow", "-a"], "HOST:PORT", "A target clients may connect to, HOST:PORT (repeat for more). Default: none.");
        var allowListen = Repeated(["--allow-listen"], "[ADDR:]PORT", "A port clients may have this server listen on for -R, PORT (on 127.0.0.1) or ADDR:PORT (repeat for more). Default: none.");
        var cert = new Option<FileInfo?>("--cert") { HelpName = "FILE", Description = "With --tls: the server certificate, PEM." };
        var key = new Option<FileInfo?>("--key") { HelpName = "FILE", Description = "With --tls: the certificate's private key, PEM." };
        var open = new Option<bool>("--public-without-token") { Description = "Allow a non-loopback --listen (or --allow-listen) address without a token." };

        var command = new Command("serve", "Accept sessions and connect their channels to allowed targets. Never an open proxy: only --allow targets are reached.\n\n" + ExitCodes.Help)
        {
            listen, allow, allowListen, TokenOption, TokenFile, TlsOption, cert, key, open, DrainTimeout, Stats, Verbose, Quiet,
        };
        command.SetAction((parse, _) => RunAsync("serve", parse, async (log, stop) =>
        {
            string? token = Token.Load(parse.GetValue(TokenOption), parse.GetValue(TokenFile));
            var drain = Seconds(parse.GetValue(DrainTimeout), "--drain-timeout");
            var address = HostPort.Parse(parse.GetValue(listen)!, "--listen");
            var endPoint = Net.BindEndPoint(address.Host, address.Port, "--listen");
            var listenAddresses = (parse.GetValue(allowListen) ?? []).Select(ParseAllowListen).ToList();
            bool publicOk = parse.GetValue(open);
            foreach (var where in listenAddresses.Prepend(endPoint))
            {
                if (token is null && !IPAddress.IsLoopback(where.Address) && !publicOk)
                {
                    throw new CliException(ExitCodes.Usage,
                        $"refusing to listen on {HostPort.Format(where)} without a token: anyone who can reach it could use the allowed targets. " +
                        "Give --token or --token-file, listen on 127.0.0.1, or pass --public-without-token.");
                }
            }

            bool tls = parse.GetValue(TlsOption);
            if (!tls && (parse.GetValue(cert) is not null || parse.GetValue(key) is not null))
            {
                throw new CliException(ExitCodes.Usage, "--cert and --key need --tls.");
            }

            var settings = new ServerSettings(
                endPoint,
                (parse.GetValue(allow) ?? []).Select(a => HostPort.Parse(a, "--allow")).ToList(),
                listenAddresses,
                tls ? Tls.LoadServerCertificate(parse.GetValue(cert), parse.GetValue(key)) : null)
            {
                Token = token,
                DrainTimeout = drain,
            };
            var counters = new Counters();
            await using var server = new TunnelServer(settings, log, counters);
            server.Start();
            using var stats = new CancellationTokenSource();
            var display = parse.GetValue(Stats) ? StatsDisplay.RunAsync(counters, stats.Token) : Task.CompletedTask;
            await server.RunAsync(stop).ConfigureAwait(false);
            await stats.CancelAsync().ConfigureAwait(false);
            await display.ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static TimeSpan Seconds(double value, string option) =>
        value is >= 0 and <= 86400 ? TimeSpan.FromSeconds(value) : throw new CliException(ExitCodes.Usage, $"{option}: 0 to 86400 seconds.");

    private static IPEndPoint ParseAllowListen(string text)
    {
        var parts = HostPort.SplitColons(text);
        return parts.Count switch
        {
            1 => new IPEndPoint(IPAddress.Loopback, HostPort.ParsePort(parts[0], text, "--allow-listen")),
            2 => Net.BindEndPoint(HostPort.ParseHost(parts[0], text, "--allow-listen"), HostPort.ParsePort(parts[1], text, "--allow-listen"), "--allow-listen"),
            _ => throw new CliException(ExitCodes.Usage, $"--allow-listen: expected PORT or ADDR:PORT, got '{text}'."),
        };
    }

    private static Command ForwardCommand()
    {
        var server = new Option<string>("--server", "-s") { HelpName = "HOST:PORT", Description = "The serve to connect to, HOST:PORT.", Required = true };
        var local = Repeated(["-L", "--local"], "[BIND:]LOCALPORT:HOST:PORT", "Listen here on [BIND:]LOCALPORT (BIND defaults to 127.0.0.1; port 0: any free port) and forward each connection to HOST:PORT as the server reaches it. Repeat for more.");
        var remote = Repeated(["-R", "--remote"], "REMOTEPORT:HOST:PORT", "Have the server listen on REMOTEPORT (it must allow it with --allow-listen) and forward each connection back here, to HOST:PORT as this side reaches it. Repeat for more.");
        var ca = new Option<FileInfo?>("--ca") { HelpName = "FILE", Description = "With --tls: trust the server certificate if it chains to a certificate in FILE (PEM), e.g. a self-signed one." };
        var insecure = new Option<bool>("--insecure-skip-verify") { Description = "With --tls: do not check the server's certificate (encrypts, but anyone in the middle can pose as the server)." };
        var serverName = new Option<string?>("--server-name") { HelpName = "NAME", Description = "With --tls: the name the server's certificate must carry (default: the --server host)." };
        var keepTrying = new Option<bool>("--keep-trying") { Description = "Retry when the first connection fails too (by default only a lost session is retried)." };
        var waitForSession = new Option<double>("--wait-for-session")
        {
            Description = "While the session is down, seconds a new local connection waits for it before it is refused.",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => 15,
        };

        var command = new Command("forward", "Keep one session to a serve and forward ports over it (-L like ssh -L, -R like ssh -R). Reconnects with backoff when the session dies.\n\n" + ExitCodes.Help)
        {
            server, local, remote, TokenOption, TokenFile, TlsOption, ca, insecure, serverName, keepTrying, waitForSession, DrainTimeout, Stats, Verbose, Quiet,
        };
        command.SetAction((parse, _) => RunAsync("forward", parse, async (log, stop) =>
        {
            var locals = (parse.GetValue(local) ?? []).Select(ForwardSpec.ParseLocal).ToList();
            var remotes = (parse.GetValue(remote) ?? []).Select(ForwardSpec.ParseRemote).ToList();
            if (locals.Count + remotes.Count == 0)
            {
                throw new CliException(ExitCodes.Usage, "nothing to forward: give -L and/or -R.");
            }

            bool tls = parse.GetValue(TlsOption);
            var caFile = parse.GetValue(ca);
            bool skip = parse.GetValue(insecure);
            string? name = parse.GetValue(serverName);
            if (!tls && (caFile is not null || skip || name is not null))
            {
                throw new CliException(ExitCodes.Usage, "--ca, --insecure-skip-verify and --server-name need --tls.");
            }

            if (caFile is not null && skip)
            {
                throw new CliException(ExitCodes.Usage, "give --ca or --insecure-skip-verify, not both.");
            }

            var settings = new ClientSettings
            {
                Server = HostPort.Parse(parse.GetValue(server)!, "--server"),
                Local = locals,
                Remote = remotes,
                Token = Token.Load(parse.GetValue(TokenOption), parse.GetValue(TokenFile)),
                Tls = tls ? new TlsClientSettings(caFile is null ? null : Tls.LoadAuthorities(caFile), skip, name) : null,
                KeepTrying = parse.GetValue(keepTrying),
                WaitForSession = Seconds(parse.GetValue(waitForSession), "--wait-for-session"),
                DrainTimeout = Seconds(parse.GetValue(DrainTimeout), "--drain-timeout"),
            };
            if (settings.Tls?.SkipVerify == true)
            {
                log.Warn("--insecure-skip-verify: the server's certificate is not checked");
            }

            var counters = new Counters();
            var client = new TunnelClient(settings, log, counters);
            client.Start();
            using var stats = new CancellationTokenSource();
            var display = parse.GetValue(Stats) ? StatsDisplay.RunAsync(counters, stats.Token) : Task.CompletedTask;
            try
            {
                await client.RunAsync(stop).ConfigureAwait(false);
            }
            finally
            {
                await stats.CancelAsync().ConfigureAwait(false);
                await display.ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ConnectCommandLine()
    {
        var server = new Option<string>("--server", "-s") { HelpName = "HOST:PORT", Description = "The serve to connect to, HOST:PORT.", Required = true };
        var target = new Argument<string>("target") { HelpName = "HOST:PORT", Description = "Where the server connects (it must be on its --allow list)." };
        var ca = new Option<FileInfo?>("--ca") { HelpName = "FILE", Description = "With --tls: trust the server certificate if it chains to a certificate in FILE (PEM)." };
        var insecure = new Option<bool>("--insecure-skip-verify") { Description = "With --tls: do not check the server's certificate." };
        var serverName = new Option<string?>("--server-name") { HelpName = "NAME", Description = "With --tls: the name the server's certificate must carry." };
        var command = new Command("connect", "Relay standard input and output to HOST:PORT through the server: one channel, like ssh -W (usable as an SSH ProxyCommand).\n\n" + ExitCodes.Help)
        {
            target, server, TokenOption, TokenFile, TlsOption, ca, insecure, serverName, Verbose,
        };
        command.SetAction((parse, _) => RunAsync("connect", parse, (log, stop) =>
        {
            bool tls = parse.GetValue(TlsOption);
            var caFile = parse.GetValue(ca);
            bool skip = parse.GetValue(insecure);
            if (!tls && (caFile is not null || skip || parse.GetValue(serverName) is not null))
            {
                throw new CliException(ExitCodes.Usage, "--ca, --insecure-skip-verify and --server-name need --tls.");
            }

            var settings = new ClientSettings
            {
                Server = HostPort.Parse(parse.GetValue(server)!, "--server"),
                Token = Token.Load(parse.GetValue(TokenOption), parse.GetValue(TokenFile)),
                Tls = tls ? new TlsClientSettings(caFile is null ? null : Tls.LoadAuthorities(caFile), skip, parse.GetValue(serverName)) : null,
            };
            return ConnectCommand.RunAsync(settings, HostPort.Parse(parse.GetValue(target)!, "target"), log, stop);
        }, quiet: true));
        return command;
    }

    /// <summary>
    /// Runs a command with its log, a stop token that the first Ctrl+C or SIGTERM fires (a second
    /// one ends the process at once), and errors turned into a message and an exit code.
    /// </summary>
    private static async Task<int> RunAsync(string name, ParseResult parse, Func<Log, CancellationToken, Task<int>> body, bool quiet = false)
    {
        var level = parse.GetValue(Verbose) ? LogLevel.Debug : quiet || parse.GetValue(Quiet) ? LogLevel.Warning : LogLevel.Info;
        var log = new Log(name, level);
        using var stop = new CancellationTokenSource();
        int signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            if (Interlocked.Increment(ref signals) == 1)
            {
                context.Cancel = true;
                log.Info($"{context.Signal}: stopping gracefully (again to quit at once)");
                stop.Cancel();
            }
            else
            {
                Environment.Exit(ExitCodes.Interrupted);
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        try
        {
            return await body(log, stop.Token).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            log.Error(ex.Message);
            return ex.ExitCode;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return ExitCodes.Ok;
        }
        catch (Exception ex)
        {
            log.Error($"unexpected: {ex}");
            return ExitCodes.Failure;
        }
    }
}
