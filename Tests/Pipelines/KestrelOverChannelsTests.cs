using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace TcpChan.Tests.Pipelines;

public class KestrelOverChannelsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task An_aspnetcore_app_is_served_over_the_channels_of_one_tcp_connection()
    {
        // The "device" accepts one TcpChan session over TCP and serves its web app on it.
        await using var listener = TcpChanListener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var accepting = listener.AcceptSessionAsync().AsTask();
        await using var clientSession = await TcpChanClient.ConnectAsync(listener.LocalEndPoint).WaitAsync(Timeout);
        await using var deviceSession = await accepting.WaitAsync(Timeout);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTcpChan();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(new TcpChanEndPoint(deviceSession));
        });
        await using var app = builder.Build();
        int requests = 0;
        app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref requests);
            await next(context);
        });
        app.MapGet("/hello/{n:int}", (int n) => $"hello {n}");
        app.MapPost("/sha256", async (HttpRequest request) => Convert.ToHexString(await SHA256.HashDataAsync(request.Body)));
        await app.StartAsync().WaitAsync(Timeout);

        // The other side's HttpClient: every HTTP connection is a channel of the one session.
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) => await clientSession.OpenChannelAsync("http", token),
            MaxConnectionsPerServer = 1000,
        })
        { BaseAddress = new Uri("http://device/"), Timeout = Timeout };

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(n => http.GetStringAsync($"hello/{n}"))).WaitAsync(Timeout);
        for (int n = 0; n < 200; n++)
        {
            Assert.Equal($"hello {n}", responses[n]);
        }

        // One request with a 100 MB body, checksummed on the far side.
        const long size = 100L * 1024 * 1024;
        using var body = new DeterministicStream(size, seed: 7);
        var response = await http.PostAsync("sha256", new StreamContent(body, 64 * 1024)).WaitAsync(Timeout);
        response.EnsureSuccessStatusCode();
        var expected = Convert.ToHexString(SHA256.HashData(new DeterministicStream(size, seed: 7)));
        Assert.Equal(expected, (await response.Content.ReadAsStringAsync()).Trim('"'));

        Assert.Equal(201, requests);
        Assert.Equal(1, clientSession.IsClient ? 1 : 0); // one session: one TCP connection carried all of it
        Assert.True(deviceSession.OpenChannelCount <= 201);
        await app.StopAsync().WaitAsync(Timeout);
    }

    /// <summary>A readable stream of pseudo-random bytes, the same for the same seed, without holding them.</summary>
    private sealed class DeterministicStream(long length, int seed) : Stream
    {
        private readonly Random _random = new(seed);
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - _position);
            _random.NextBytes(buffer.AsSpan(offset, n));
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
