using System.Net.Sockets;
using System.Text;
using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>forward survives its server: it reports the lost session, keeps its local port, and reconnects with backoff.</summary>
public class ReconnectTests
{
    [Fact]
    public async Task Forward_reconnects_to_a_restarted_serve_and_relays_again()
    {
        await using var http = await HttpTarget.StartAsync();
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", http.HostPort);
        var (forward, local) = await CliProcess.StartForwardAsync(port, http.HostPort, "--wait-for-session", "30");
        await using var _ = forward;
        Assert.Equal(["hello 1"], await HttpTarget.GetAsync(local, [1]));

        // The server dies.
        await using (serve)
        {
            await serve.KillAsync();
        }

        await forward.WaitForAsync("session lost: .*; reconnecting in");
        await forward.WaitForAsync("cannot reach the server .*: connection refused; retrying in");

        // A connection made while there is no session waits for the next one.
        using var early = await Loopback.ConnectAsync(local);
        await early.SendAsync(Encoding.ASCII.GetBytes("GET /hello/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), SocketFlags.None);

        // A new server on the same port: forward finds it.
        var (again, samePort) = await CliProcess.StartServeAsync(port, "--allow", http.HostPort);
        await using var __ = again;
        Assert.Equal(port, samePort);
        await forward.WaitForAsync("session up", occurrence: 2);
        await again.WaitForAsync("session #1 from .* established");

        var (_, reply) = await ReadAllAsync(early);
        Assert.Contains("hello 2", reply, StringComparison.Ordinal);
        Assert.Equal(["hello 3", "hello 4"], await HttpTarget.GetAsync(local, [3, 4]));
    }

    private static async Task<(int Bytes, string Text)> ReadAllAsync(Socket socket)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(CliProcess.Timeout)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        return ((int)received.Length, Encoding.ASCII.GetString(received.ToArray()));
    }
}
