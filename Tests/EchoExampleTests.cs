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
            Assert.Equal(1, version);
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
            Assert.All(await Task.WhenAll(runs).WaitAsync(Timeout), version => Assert.Equal(1, version));
        });
    }

    [Theory]
    [InlineData(1, 1, 1)] // two of ours
    [InlineData(0, 1, 0)] // a version-0 client (like the reference's) against our server
    [InlineData(1, 0, 0)] // our client against a version-0 server
    [InlineData(0, 0, 0)]
    public async Task Client_and_server_settle_on_a_version_and_move_the_data_intact(byte clientMaxVersion, byte serverMaxVersion, byte expected)
    {
        // 300,000 bytes a channel: more than a channel's 256 KiB window, so version 1 waits for credit.
        await WithServerAsync(
            async (port, token) =>
            {
                byte version = await EchoClient.RunAsync("127.0.0.1", port, 4, 300_000, token, clientMaxVersion).WaitAsync(Timeout);
                Assert.Equal(expected, version);
            },
            serverMaxVersion);
    }

    [Theory]
    [InlineData(new string[0], 1)]
    [InlineData(new[] { "--max-version", "0" }, 0)]
    [InlineData(new[] { "--client-max-version", "0" }, 0)]
    [InlineData(new[] { "--server-max-version", "0" }, 0)]
    [InlineData(new[] { "--max-version", "1", "--size", "70000", "--channels", "3" }, 1)]
    public async Task Demo_prints_the_version_in_use_and_ok(string[] options, int expected)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = await EchoProgram.RunAsync(["demo", .. options], output, error, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(exit == 0, $"exit {exit}: {error}");
        Assert.Contains($"protocol version {expected}\n", output.ToString().Replace("\r\n", "\n"), StringComparison.Ordinal);
        Assert.EndsWith("ok\n", output.ToString().Replace("\r\n", "\n"), StringComparison.Ordinal);
        Assert.Equal("", error.ToString());
    }

    [Theory]
    [InlineData("demo", "--max-version", "2")]
    [InlineData("client", "--port", "1", "--max-version", "x")]
    [InlineData("server", "--port", "1", "--max-version", "-1")]
    [InlineData("demo", "--server-max-version")]
    public async Task Program_rejects_a_bad_max_version(params string[] args)
    {
        var error = new StringWriter();
        Assert.Equal(2, await EchoProgram.RunAsync(args, TextWriter.Null, error, CancellationToken.None).WaitAsync(Timeout));
        Assert.Contains("--max-version 0|1", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_logs_the_version_of_each_client()
    {
        var log = new StringWriter();
        using var server = new EchoServer(IPAddress.Loopback, 0, TextWriter.Synchronized(log));
        using var stop = new CancellationTokenSource(Timeout);
        Task serving = server.RunAsync(stop.Token);
        Assert.Equal(1, await EchoClient.RunAsync("127.0.0.1", server.Port, 1, 10, stop.Token).WaitAsync(Timeout));
        Assert.Equal(0, await EchoClient.RunAsync("127.0.0.1", server.Port, 1, 10, stop.Token, maxVersion: 0).WaitAsync(Timeout));
        stop.Cancel();
        await serving.WaitAsync(Timeout);

        string text = log.ToString();
        Assert.Contains(": protocol version 1", text, StringComparison.Ordinal);
        Assert.Contains(": protocol version 0", text, StringComparison.Ordinal);
        Assert.Contains(": going away (NoError)", text, StringComparison.Ordinal); // the version-1 client's Close
    }

    [Fact]
    public async Task Driver_ends_a_version_1_connection_whose_peer_goes_silent_with_a_keepalive_timeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var cancel = new CancellationTokenSource(Timeout);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancel.Token).AsTask().WaitAsync(Timeout);
        using var peer = await listener.AcceptTcpClientAsync(cancel.Token).AsTask().WaitAsync(Timeout);

        var options = new ConnectionOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(100), KeepAliveTimeout = TimeSpan.FromMilliseconds(400) };
        var events = new List<ConnectionEvent>();
        var driver = new SocketDriver(tcp, new ClientConnection(() => new CorruptingEchoChannel(-1), options), events.Add);
        Task running = driver.RunAsync(cancel.Token);

        // A peer that completes the version-1 handshake (reply and empty settings), then reads
        // whatever comes (the client's settings and pings) and never answers again.
        var stream = peer.GetStream();
        await stream.ReadExactlyAsync(new byte[6], cancel.Token).AsTask().WaitAsync(Timeout);
        await stream.WriteAsync(Convert.FromHexString("0102feedbacc" + "010800"), cancel.Token).AsTask().WaitAsync(Timeout);
        Task draining = Task.Run(async () =>
        {
            while (await stream.ReadAsync(new byte[256], cancel.Token) > 0)
            {
            }
        });

        await running.WaitAsync(Timeout);
        Assert.Matches(@"^keepalive timeout: nothing from the peer for \d+(\.\d)? s$", driver.EndReason);
        Assert.IsType<KeepAliveTimedOut>(events[^1]);
        await draining.WaitAsync(Timeout); // the driver closed its side of the socket
    }

    [Fact]
    public async Task Driver_fails_a_handshake_that_never_completes()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var cancel = new CancellationTokenSource(Timeout);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancel.Token).AsTask().WaitAsync(Timeout);
        using var peer = await listener.AcceptTcpClientAsync(cancel.Token).AsTask().WaitAsync(Timeout);

        var options = new ConnectionOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(200) };
        var driver = new SocketDriver(tcp, new ClientConnection(() => new CorruptingEchoChannel(-1), options), _ => { });
        await driver.RunAsync(cancel.Token).WaitAsync(Timeout);
        Assert.StartsWith("handshake failed: The handshake did not complete within", driver.EndReason);
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

            Assert.Equal(1, await EchoClient.RunAsync("127.0.0.1", port, 2, 1000, token).WaitAsync(Timeout));
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
        Assert.StartsWith("handshake failed: The server did not answer as TcpChan: it sent 28 bytes, 48 54 54 50 ", error.Message);
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
    public async Task Client_reports_a_protocol_error_on_version_1()
    {
        var error = await Assert.ThrowsAsync<EchoException>(() => AgainstAsync(async stream =>
        {
            await stream.ReadExactlyAsync(new byte[6]);
            await stream.WriteAsync(Convert.FromHexString("0102feedbacc" + "010800" + "01ff"));
            while (await stream.ReadAsync(new byte[256]) > 0)
            {
                // Keeps the socket open until the client closes its side.
            }
        }));
        Assert.Equal("protocol error (UnknownFrameType): Unknown op 255 (version byte 1).", error.Message);
    }

    [Fact]
    public async Task Client_reports_a_channel_the_server_resets()
    {
        var error = await Assert.ThrowsAsync<EchoException>(() => AgainstAsync(async stream =>
        {
            await stream.ReadExactlyAsync(new byte[6]);
            await stream.WriteAsync(Convert.FromHexString("0102feedbacc" + "010800"));

            // The client's settings (4 entries), its first ping, and the open of channel 1 ("echo 0"); then reset it.
            await stream.ReadExactlyAsync(new byte[23 + 11 + 13]);
            await stream.WriteAsync(Convert.FromHexString("0107" + "00000001" + "00000101"));
            while (await stream.ReadAsync(new byte[256]) > 0)
            {
            }
        }));
        Assert.Matches(@"^channel 1: closed \(RemoteReset, code 257\) after 0 of 100 bytes came back$", error.Message);
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

    private static async Task WithServerAsync(Func<int, CancellationToken, Task> body, byte maxVersion = ConnectionOptions.LatestVersion)
    {
        using var server = new EchoServer(IPAddress.Loopback, 0, maxVersion: maxVersion);
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
