using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// The case this library exists for: an HttpClient whose every connection is a channel of one
/// TcpChan session; the far side relays each channel to a real HTTP server (Kestrel).
/// </summary>
public class HttpOverChannelsTests
{
    private const int Concurrent = 200;

    /// <summary>GET /echo/{n}'s body: depends only on n, from a few bytes to a few tens of KB.</summary>
    private static byte[] EchoBody(int n) => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat($"{n};", 1 + (n * 37 % 4000))));

    [Fact]
    public async Task Two_hundred_concurrent_requests_and_large_posts_go_through_one_connection()
    {
        // Kestrel, whose /echo requests wait until all of them have arrived: so 200 HTTP
        // connections, and so 200 channels, are really open at once.
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var kestrelConnections = new ConcurrentDictionary<string, IPEndPoint>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.Use(async (context, next) =>
        {
            kestrelConnections.TryAdd(context.Connection.Id, new IPEndPoint(context.Connection.RemoteIpAddress!, context.Connection.RemotePort));
            await next(context);
        });
        app.MapGet("/echo/{n:int}", async (int n) =>
        {
            if (Interlocked.Increment(ref arrived) == Concurrent)
            {
                allArrived.TrySetResult();
            }

            await allArrived.Task.WaitAsync(Loopback.Timeout);
            return Results.Bytes(EchoBody(n), "application/octet-stream");
        });
        app.MapPost("/sum", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            return Results.Text(Convert.ToHexString(SHA256.HashData(body.ToArray())));
        });
        await app.StartAsync().WaitAsync(Loopback.Timeout);
        var kestrel = new Uri(app.Urls.Single());
        var kestrelEndPoint = new IPEndPoint(IPAddress.Parse(kestrel.Host), kestrel.Port);

        // The far side: one TcpChan listener; every channel of every session is relayed to Kestrel.
        await using var listener = TcpChanListener.Start(Loopback.AnyPort);
        var sessions = new ConcurrentBag<TcpChanSession>();
        var relayPorts = new ConcurrentDictionary<int, bool>();
        var relays = new ConcurrentBag<Task>();
        int open = 0, peak = 0, channels = 0;
        using var stop = new CancellationTokenSource();
        var farSide = Task.Run(async () =>
        {
            try
            {
                await foreach (var session in listener.AcceptSessionsAsync(stop.Token))
                {
                    sessions.Add(session);
                    _ = Task.Run(async () =>
                    {
                        await foreach (var channel in session.AcceptChannelsAsync())
                        {
                            Interlocked.Increment(ref channels);
                            int now = Interlocked.Increment(ref open);
                            InterlockedMax(ref peak, now);
                            relays.Add(Task.Run(async () =>
                            {
                                try
                                {
                                    Assert.Equal("http", channel.Label);
                                    await RelayAsync(channel, kestrelEndPoint, relayPorts);
                                }
                                finally
                                {
                                    Interlocked.Decrement(ref open);
                                }
                            }));
                        }
                    });
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        // The near side: one session; every HTTP connection is a channel of it.
        await using var client = await TcpChanClient.ConnectAsync(listener.LocalEndPoint).WaitAsync(Loopback.Timeout);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) => await client.OpenChannelAsync("http", cancellationToken),
            MaxConnectionsPerServer = 1000,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
        };
        using (var http = new HttpClient(handler) { BaseAddress = new Uri("http://tcpchan.test/"), Timeout = Loopback.Timeout })
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, Concurrent).Select(async n =>
            {
                using var response = await http.GetAsync($"echo/{n}");
                response.EnsureSuccessStatusCode();
                return (n, Body: await response.Content.ReadAsByteArrayAsync());
            })).WaitAsync(Loopback.Timeout);
            Assert.All(responses, r => Assert.Equal(EchoBody(r.n), r.Body));

            for (int i = 0; i < 4; i++)
            {
                var body = new byte[1024 * 1024];
                new Random(i).NextBytes(body);
                using var response = await http.PostAsync("sum", new ByteArrayContent(body)).WaitAsync(Loopback.Timeout);
                response.EnsureSuccessStatusCode();
                Assert.Equal(Convert.ToHexString(SHA256.HashData(body)), await response.Content.ReadAsStringAsync());
            }
        }

        // Disposing the client closed its connections, so every relay finishes with a half-close each way.
        await Loopback.UntilAsync(() => relays.Count == channels && Volatile.Read(ref open) == 0, "every relay finished");
        await Task.WhenAll(relays).WaitAsync(Loopback.Timeout);

        Assert.Single(sessions);
        Assert.Equal(Concurrent, Volatile.Read(ref peak));
        Assert.InRange(channels, Concurrent, Concurrent + 4);
        Assert.Equal(channels, kestrelConnections.Count);
        Assert.All(kestrelConnections.Values, remote =>
        {
            Assert.True(IPAddress.IsLoopback(remote.Address));
            Assert.True(relayPorts.ContainsKey(remote.Port), $"Kestrel saw a connection from port {remote.Port}, which is not a relay's");
        });

        var far = sessions.Single();
        await Loopback.UntilAsync(() => far.OpenChannelCount == 0 && client.OpenChannelCount == 0, "every channel closed");
        await client.CloseAsync(TimeSpan.FromSeconds(5)).WaitAsync(Loopback.Timeout);
        await far.Completion.WaitAsync(Loopback.Timeout);
        Assert.Equal(SessionEndReason.Closed, far.EndError!.Reason);
        stop.Cancel();
        await farSide.WaitAsync(Loopback.Timeout);
        await app.StopAsync().WaitAsync(Loopback.Timeout);
    }

    /// <summary>Relays a channel to a TCP server both ways, passing each side's end on as a half-close.</summary>
    private static async Task RelayAsync(TcpChanStream channel, IPEndPoint server, ConcurrentDictionary<int, bool> relayPorts)
    {
        await using (channel)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(server);
            relayPorts[((IPEndPoint)socket.LocalEndPoint!).Port] = true;
            await using var tcp = new NetworkStream(socket, ownsSocket: false);
            var up = Task.Run(async () =>
            {
                await channel.CopyToAsync(tcp);
                socket.Shutdown(SocketShutdown.Send);
            });
            var down = Task.Run(async () =>
            {
                await tcp.CopyToAsync(channel);
                channel.CompleteWrites();
            });
            await Task.WhenAll(up, down);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
