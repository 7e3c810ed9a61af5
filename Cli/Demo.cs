using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace TcpChan.Cli;

/// <summary>
/// <c>tcpchan demo</c>: an HTTP server (Kestrel), a serve and a forward in this process, on
/// loopback ephemeral ports, run by the same code as the commands; concurrent HTTP requests
/// through the tunnel and straight to the server, every body checked, and a comparison.
/// </summary>
internal static class Demo
{

    public static Command Command()
    {
        var requests = new Option<int>("--requests", "-n") { Description = "HTTP requests per run.", DefaultValueFactory = _ => 500 };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Requests in flight at once.", DefaultValueFactory = _ => 100 };
        var size = new Option<int>("--size") { Description = "Bytes in each response body.", DefaultValueFactory = _ => 64 * 1024 };
        var command = new Command("demo", "Start an HTTP server, a serve and a forward in this process; send concurrent HTTP requests through the tunnel (one TCP connection) and directly; check every response and compare.")
        {
            requests, concurrency, size,
        };
        command.SetAction(async (parse, _) =>
        {
            int n = parse.GetValue(requests), c = parse.GetValue(concurrency), s = parse.GetValue(size);
            if (n < 1 || c < 1 || s < 0 || s > 16 * 1024 * 1024)
            {
                await Console.Error.WriteLineAsync("demo: --requests and --concurrency must be at least 1, --size 0 to 16 MiB.").ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            try
            {
                return await RunAsync(n, c, s).ConfigureAwait(false);
            }
            catch (CliException ex)
            {
                await Console.Error.WriteLineAsync($"demo: {ex.Message}").ConfigureAwait(false);
                return ex.ExitCode;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(int requests, int concurrency, int size)
    {
        var console = Output.Stdout;
        console.MarkupLine("[bold]tcpchan demo[/]: an HTTP server, [blue]tcpchan serve[/] and [blue]tcpchan forward[/] in one process, on loopback.");

        // 1. The HTTP server: GET /blob/{i} answers `size` bytes that depend on i.
        await using var web = await StartWebServerAsync(size).ConfigureAwait(false);
        var http = web.EndPoint;
        console.WriteLine($"HTTP server      http://{HostPort.Format(http)}/blob/{{i}} ({Units.Bytes(size)} per response)");

        // 2. serve, allowing only the HTTP server; 3. forward -L 0:HTTP, as the commands run them.
        var target = new HostPort(http.Address.ToString(), http.Port);
        var serverCounters = new Counters();
        var server = new TunnelServer(
            new ServerSettings(new IPEndPoint(IPAddress.Loopback, 0), [target], [], Certificate: null),
            new Log("serve", LogLevel.Error),
            serverCounters);
        server.Start();
        using var stop = new CancellationTokenSource();
        var serving = server.RunAsync(stop.Token);

        var clientCounters = new Counters();
        var client = new TunnelClient(
            new ClientSettings
            {
                Server = new HostPort("127.0.0.1", server.LocalEndPoint.Port),
                Local = [ForwardSpec.ParseLocal($"0:{target}")],
            },
            new Log("forward", LogLevel.Error),
            clientCounters);
        client.Start();
        var forwarding = client.RunAsync(stop.Token);
        await client.FirstSession.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        var local = client.LocalEndPoints[0];
        console.WriteLine($"tcpchan serve    {HostPort.Format(server.LocalEndPoint)} --allow {target}");
        console.WriteLine($"tcpchan forward  -L {HostPort.Format(local)}:{target} (one session to the serve)");
        console.WriteLine($"{requests} GET requests per run, {concurrency} at once, each on a new connection (Connection: close).");
        console.WriteLine();

        var direct = new Uri($"http://{HostPort.Format(http)}/");
        var tunnel = new Uri($"http://{HostPort.Format(local)}/");
        RunResult directRun, tunnelRun;
        long channelsBefore;
        if (console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi)
        {
            (directRun, tunnelRun, channelsBefore) = await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    var warm = context.AddTask("warm-up", maxValue: 2 * WarmUp(requests));
                    var d = context.AddTask("direct", autoStart: false, maxValue: requests);
                    var t = context.AddTask("through tcpchan", autoStart: false, maxValue: requests);
                    await WarmUpAsync(direct, tunnel, requests, concurrency, size, () => warm.Increment(1)).ConfigureAwait(false);
                    web.TakeConnectionCount();
                    d.StartTask();
                    var dr = await LoadAsync(direct, requests, concurrency, size, () => d.Increment(1)).ConfigureAwait(false);
                    dr = dr with { HttpConnections = web.TakeConnectionCount() };
                    t.StartTask();
                    long before = clientCounters.Channels;
                    var tr = await LoadAsync(tunnel, requests, concurrency, size, () => t.Increment(1)).ConfigureAwait(false);
                    tr = tr with { HttpConnections = web.TakeConnectionCount() };
                    return (dr, tr, before);
                }).ConfigureAwait(false);
        }
        else
        {
            console.WriteLine($"warm-up: {WarmUp(requests)} requests each way");
            await WarmUpAsync(direct, tunnel, requests, concurrency, size, () => { }).ConfigureAwait(false);
            web.TakeConnectionCount();
            directRun = await LoadAsync(direct, requests, concurrency, size, PlainProgress(console, "direct", requests)).ConfigureAwait(false);
            directRun = directRun with { HttpConnections = web.TakeConnectionCount() };
            channelsBefore = clientCounters.Channels;
            tunnelRun = await LoadAsync(tunnel, requests, concurrency, size, PlainProgress(console, "through tcpchan", requests)).ConfigureAwait(false);
            tunnelRun = tunnelRun with { HttpConnections = web.TakeConnectionCount() };
        }

        long channels = clientCounters.Channels - channelsBefore;
        long tunnelConnections = serverCounters.TunnelConnectionsAccepted;

        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(forwarding, serving).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);

        console.WriteLine();
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn(new TableColumn("direct").RightAligned()).AddColumn(new TableColumn("through tcpchan").RightAligned());
        table.AddRow("requests ok", $"{directRun.Ok}/{requests}", $"{tunnelRun.Ok}/{requests}");
        table.AddRow("connections the HTTP server accepted", Count(directRun.HttpConnections), $"{Count(tunnelRun.HttpConnections)} (from serve)");
        table.AddRow("channels opened", "-", Count(channels));
        table.AddRow("TCP connections serve accepted", "-", Count(tunnelConnections));
        table.AddRow("time", Seconds(directRun.Elapsed), Seconds(tunnelRun.Elapsed));
        table.AddRow("requests/s", directRun.RequestsPerSecond.ToString("F0", CultureInfo.InvariantCulture), tunnelRun.RequestsPerSecond.ToString("F0", CultureInfo.InvariantCulture));
        table.AddRow("MB/s (bodies)", directRun.MegabytesPerSecond.ToString("F1", CultureInfo.InvariantCulture), tunnelRun.MegabytesPerSecond.ToString("F1", CultureInfo.InvariantCulture));
        table.AddRow("latency p50", Millis(directRun.Percentile(50)), Millis(tunnelRun.Percentile(50)));
        table.AddRow("latency p99", Millis(directRun.Percentile(99)), Millis(tunnelRun.Percentile(99)));
        console.Write(table);

        bool ok = directRun.Ok == requests && tunnelRun.Ok == requests && tunnelConnections == 1 && channels == requests;
        if (ok)
        {
            console.MarkupLine($"[green]ok[/]: all {requests} tunnelled requests answered with the right bodies, as {channels} channels of 1 TCP connection.");
            return ExitCodes.Ok;
        }

        console.MarkupLine($"[red]FAILED[/]: {Markup.Escape(string.Join("; ", new[] { directRun.FirstError, tunnelRun.FirstError }.OfType<string>()))} " +
            $"(tunnel TCP connections: {tunnelConnections}, channels: {channels})");
        return ExitCodes.DemoFailed;
    }

    private static Action PlainProgress(IAnsiConsole console, string name, int total)
    {
        int done = 0, step = Math.Max(1, total / 4);
        return () =>
        {
            int now = Interlocked.Increment(ref done);
            if (now % step == 0 || now == total)
            {
                console.WriteLine($"{name}: {now}/{total}");
            }
        };
    }

    /// <summary>Requests each way before measuring, so that neither run pays for JIT compilation.</summary>
    private static int WarmUp(int requests) => Math.Min(requests, 100);

    private static async Task WarmUpAsync(Uri direct, Uri tunnel, int requests, int concurrency, int size, Action progress)
    {
        await LoadAsync(direct, WarmUp(requests), concurrency, size, progress).ConfigureAwait(false);
        await LoadAsync(tunnel, WarmUp(requests), concurrency, size, progress).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="requests"/> GETs, <paramref name="concurrency"/> at once, each on a new connection, and checks each body.</summary>
    private static async Task<RunResult> LoadAsync(Uri baseUri, int requests, int concurrency, int size, Action progress)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(10) };
        using var http = new HttpClient(handler) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        var latencies = new double[requests];
        int ok = 0;
        string? firstError = null;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, token) =>
        {
            long start = Stopwatch.GetTimestamp();
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"blob/{i}");
                request.Headers.ConnectionClose = true;
                using var response = await http.SendAsync(request, token).ConfigureAwait(false);
                byte[] body = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.CompareExchange(ref firstError, $"request {i}: HTTP {(int)response.StatusCode}", null);
                }
                else if (!body.AsSpan().SequenceEqual(Body(i, size)))
                {
                    Interlocked.CompareExchange(ref firstError, $"request {i}: wrong body ({body.Length} bytes)", null);
                }
                else
                {
                    Interlocked.Increment(ref ok);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
            {
                Interlocked.CompareExchange(ref firstError, $"request {i}: {ex.Message}", null);
            }

            latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            progress();
        }).ConfigureAwait(false);
        return new RunResult(requests, ok, clock.Elapsed, latencies, (long)requests * size, firstError);
    }

    /// <summary>The body of /blob/{i}: <paramref name="size"/> pseudo-random bytes seeded by i.</summary>
    public static byte[] Body(int i, int size)
    {
        var body = new byte[size];
        uint x = (uint)i * 2654435761u + 1;
        for (int j = 0; j < size; j++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            body[j] = (byte)x;
        }

        return body;
    }

    private static async Task<WebServer> StartWebServerAsync(int size)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var web = new WebServer(app);
        app.Use(async (context, next) =>
        {
            web.Saw(context.Connection.Id);
            await next(context).ConfigureAwait(false);
        });
        app.MapGet("/blob/{i:int}", (int i) => Results.Bytes(Body(i, size), "application/octet-stream"));
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(address);
        web.EndPoint = new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port);
        return web;
    }

    private static string Count(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan time) => $"{time.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)} s";

    private static string Millis(double ms) => $"{ms.ToString("F1", CultureInfo.InvariantCulture)} ms";

    private sealed class WebServer(WebApplication app) : IAsyncDisposable
    {
        private readonly HashSet<string> _connections = new();

        public IPEndPoint EndPoint { get; set; } = new(IPAddress.Loopback, 0);

        public void Saw(string connectionId)
        {
            lock (_connections)
            {
                _connections.Add(connectionId);
            }
        }

        /// <summary>Distinct connections seen since the last call, which starts a new count.</summary>
        public int TakeConnectionCount()
        {
            lock (_connections)
            {
                int count = _connections.Count;
                _connections.Clear();
                return count;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed record RunResult(int Requests, int Ok, TimeSpan Elapsed, double[] Latencies, long Bytes, string? FirstError)
    {
        public int HttpConnections { get; init; }

        public double RequestsPerSecond => Requests / Elapsed.TotalSeconds;

        public double MegabytesPerSecond => Bytes / 1e6 / Elapsed.TotalSeconds;

        public double Percentile(int p)
        {
            var sorted = Latencies.Order().ToArray();
            int index = (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1;
            return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
        }
    }
}
