using System.Net;
using System.Net.Sockets;
using TcpChan.Core;
using TcpChan.Examples.Echo;
using Xunit;

namespace TcpChan.Tests;

/// <summary>The echo example end to end, in process, over loopback TCP.</summary>
public class EchoExampleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Client_gets_every_channel_echoed()
    {
        await WithServerAsync(async (port, token) =>
        {
            byte version = await EchoClient.RunAsync("127.0.0.1", port, 8, 100_000, token).WaitAsync(Timeout);
            Assert.Equal(0, version);
        });
    }

    [Fact]
    public async Task Server_serves_many_clients_at_once()
    {
        // Sizes around the 65,535-byte frame limit and the client's 16 KiB writes.
        int[] sizes = [0, 1, 16 * 1024, 65_535, 65_536, 200_001];
        await WithServerAsync(async (port, token) =>
        {
            var runs = sizes.Select(size => EchoClient.RunAsync("127.0.0.1", port, 5, size, token));
            Assert.All(await Task.WhenAll(runs).WaitAsync(Timeout), version => Assert.Equal(0, version));
        });
    }

    [Fact]
    public async Task Server_survives_garbage_and_keeps_serving()
    {
        await WithServerAsync(async (port, token) =>
        {
            using (var http = new TcpClient())
            {
                await http.ConnectAsync(IPAddress.Loopback, port, token).AsTask().WaitAsync(Timeout);
                await http.GetStream().WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), token).AsTask().WaitAsync(Timeout);

                // The handshake fails: the server closes without a byte of reply.
                Assert.Equal(0, await http.GetStream().ReadAsync(new byte[16], token).AsTask().WaitAsync(Timeout));
            }

            Assert.Equal(0, await EchoClient.RunAsync("127.0.0.1", port, 2, 1000, token).WaitAsync(Timeout));
        });
    }

    [Fact]
    public async Task Server_stops_on_cancel_while_a_client_is_connected()
    {
        using var server = new EchoServer(IPAddress.Loopback, 0);
        using var stop = new CancellationTokenSource();
        Task serving = server.RunAsync(stop.Token);

        using var idle = new TcpClient();
        await idle.ConnectAsync(IPAddress.Loopback, server.Port).WaitAsync(Timeout);
        var stream = idle.GetStream();
        await stream.WriteAsync(Convert.FromHexString("0001feedbacc")).AsTask().WaitAsync(Timeout);
        var reply = new byte[6];
        await stream.ReadExactlyAsync(reply).AsTask().WaitAsync(Timeout);
        Assert.Equal(Convert.FromHexString("0002feedbacc"), reply);

        stop.Cancel();
        await serving.WaitAsync(Timeout);
        Assert.Equal(0, await stream.ReadAsync(new byte[16]).AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public async Task Client_reports_a_failed_handshake()
    {
        var error = await Assert.ThrowsAsync<EchoException>(() => AgainstAsync(async stream =>
        {
            await stream.ReadExactlyAsync(new byte[6]);
            await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
        }));
        Assert.Equal("handshake failed: Not a TCPChan handshake: first bytes 0x48 0x54.", error.Message);
    }

    [Fact]
    public async Task Client_reports_a_wrong_magic()
    {
        var error = await Assert.ThrowsAsync<EchoException>(() => AgainstAsync(async stream =>
        {
            await stream.ReadExactlyAsync(new byte[6]);
            await stream.WriteAsync(Convert.FromHexString("0002deadbeef"));
        }));
        Assert.StartsWith("handshake failed: Mismatched magic", error.Message);
    }

    [Fact]
    public async Task Client_reports_a_connection_closed_before_the_handshake()
    {
        var error = await Assert.ThrowsAsync<EchoException>(() => AgainstAsync(
            stream => stream.ReadExactlyAsync(new byte[6]).AsTask()));
        Assert.Equal("the peer closed the connection", error.Message);
    }

    [Fact]
    public async Task Client_reports_a_protocol_error()
    {
        var error = await Assert.ThrowsAsync<EchoException>(() => AgainstAsync(async stream =>
        {
            await stream.ReadExactlyAsync(new byte[6]);
            await stream.WriteAsync(Convert.FromHexString("0002feedbacc" + "00ff"));
            while (await stream.ReadAsync(new byte[256]) > 0)
            {
                // Keeps the socket open until the client closes its side.
            }
        }));
        Assert.Equal("protocol error (UnknownFrameType): Unknown op 255 (version byte 0).", error.Message);
    }

    [Fact]
    public async Task Client_reports_a_corrupted_echo()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        Task serving = Task.Run(async () =>
        {
            // An echo server, driven like the example's, whose channels flip byte 1000.
            using var tcp = await listener.AcceptTcpClientAsync(stop.Token);
            var driver = new SocketDriver(tcp, new ServerConnection(() => new CorruptingEchoChannel(1000)), _ => { });
            await driver.RunAsync(stop.Token);
        });

        var error = await Assert.ThrowsAsync<EchoException>(
            () => EchoClient.RunAsync("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port, 3, 5000, stop.Token).WaitAsync(Timeout));
        Assert.Matches(@"^channel \d+: echo differs at byte 1000: sent 0x[0-9A-F]{2}, got 0x[0-9A-F]{2}$", error.Message);

        stop.Cancel();
        await serving.WaitAsync(Timeout);
    }

    [Fact]
    public void Patterns_differ_per_channel_and_repeat_per_run()
    {
        Assert.Equal(EchoClient.Pattern(3, 1000), EchoClient.Pattern(3, 1000));
        Assert.NotEqual(EchoClient.Pattern(3, 1000), EchoClient.Pattern(4, 1000));
    }

    private static async Task WithServerAsync(Func<int, CancellationToken, Task> body)
    {
        using var server = new EchoServer(IPAddress.Loopback, 0);
        using var stop = new CancellationTokenSource(Timeout);
        Task serving = server.RunAsync(stop.Token);
        try
        {
            await body(server.Port, stop.Token);
        }
        finally
        {
            stop.Cancel();
            await serving.WaitAsync(Timeout);
        }
    }

    // Runs the echo client against a fake server that does what peer does, then closes.
    private static async Task AgainstAsync(Func<NetworkStream, Task> peer)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var cancel = new CancellationTokenSource(Timeout);
        Task client = EchoClient.RunAsync("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port, 2, 100, cancel.Token);
        using (var tcp = await listener.AcceptTcpClientAsync(cancel.Token).AsTask().WaitAsync(Timeout))
        {
            await peer(tcp.GetStream()).WaitAsync(Timeout);
        }

        await client.WaitAsync(Timeout);
    }

    private sealed class CorruptingEchoChannel(int flipAt) : Channel
    {
        private int _seen;

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            byte[] copy = data.ToArray();
            if (_seen <= flipAt && flipAt < _seen + copy.Length)
            {
                copy[flipAt - _seen] ^= 0xFF;
            }

            _seen += copy.Length;
            Write(copy);
        }
    }
}
