using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
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

/// <summary>
/// A TCP server that reads everything a connection sends until the sender ends its side
/// (half-close), then answers with the SHA-256 of what it read followed by
/// <see cref="ReplySize"/> deterministic bytes, and closes. Counts the connections it accepted.
/// </summary>
internal sealed class HashingTarget : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _accepted;

    public HashingTarget(long replySize)
    {
        ReplySize = replySize;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        _accepting = AcceptAsync();
    }

    public long ReplySize { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public string HostPort => $"127.0.0.1:{Port}";

    public int Accepted => Volatile.Read(ref _accepted);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
                _ = ServeAsync(socket);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[64 * 1024];
                int n;
                while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                }

                await SendAllAsync(socket, hash.GetHashAndReset());
                foreach (var block in Data.Blocks(ReplySize, seed: 2))
                {
                    await SendAllAsync(socket, block);
                }

                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[await socket.SendAsync(data, SocketFlags.None, _stop.Token)..];
        }
    }
}

/// <summary>Deterministic pseudo-random data in blocks, and its hash, without holding it all.</summary>
internal static class Data
{
    public const int BlockSize = 1024 * 1024;

    public static IEnumerable<byte[]> Blocks(long size, int seed)
    {
        var random = new Random(seed);
        for (long left = size; left > 0; left -= BlockSize)
        {
            var block = new byte[(int)Math.Min(BlockSize, left)];
            random.NextBytes(block);
            yield return block;
        }
    }

    public static byte[] Sha256(long size, int seed)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var block in Blocks(size, seed))
        {
            hash.AppendData(block);
        }

        return hash.GetHashAndReset();
    }
}

/// <summary>Loopback sockets for tests.</summary>
internal static class Loopback
{
    /// <summary>A port that was free a moment ago (bound to 0 and released).</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>A bound socket that does not listen: connections to its port are refused, and no one else can take the port while it is held.</summary>
    public static Socket ClosedPort()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    public static int Port(this Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    public static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(CliProcess.Timeout);
        return socket;
    }

    /// <summary>
    /// Connects, sends <paramref name="data"/>, and reads until the peer ends or resets the
    /// connection. A connection refused at once may be reset before the connect is even seen
    /// to complete, or while sending: that counts as a reset too.
    /// </summary>
    public static async Task<(int Bytes, bool Reset)> ExchangeAsync(int port, byte[] data)
    {
        try
        {
            using var socket = await ConnectAsync(port);
            if (data.Length > 0)
            {
                await socket.SendAsync(data, SocketFlags.None).WaitAsync(CliProcess.Timeout);
            }

            return await ReadToEndAsync(socket);
        }
        catch (SocketException)
        {
            return (0, true);
        }
    }

    /// <summary>Reads until the peer ends or resets the connection; returns the bytes read, and whether it was a reset.</summary>
    public static async Task<(int Bytes, bool Reset)> ReadToEndAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        int total = 0;
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(CliProcess.Timeout)) > 0)
            {
                total += n;
            }

            return (total, false);
        }
        catch (SocketException)
        {
            return (total, true);
        }
    }
}
