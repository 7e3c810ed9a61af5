using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TcpChan.Tests.Cli;

/// <summary>An HTTP server on a loopback ephemeral port: GET /hello/{n} answers "hello n".</summary>
internal sealed class HttpTarget : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpTarget(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public string HostPort => $"127.0.0.1:{Port}";

    public static async Task<HttpTarget> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapGet("/hello/{n:int}", (int n) => $"hello {n}");
        await app.StartAsync().WaitAsync(CliProcess.Timeout);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new HttpTarget(app, new Uri(address).Port);
    }

    /// <summary>GETs /hello/{n} for each n through <paramref name="port"/>, each on its own connection.</summary>
    public static async Task<string[]> GetAsync(int port, IEnumerable<int> numbers)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 64 })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}/"),
            Timeout = CliProcess.Timeout,
        };
        return await Task.WhenAll(numbers.Select(async n =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"hello/{n}");
            request.Headers.ConnectionClose = true;
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadAsStringAsync();
        }));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
