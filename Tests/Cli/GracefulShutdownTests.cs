using System.Net.Sockets;
using System.Text;
using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>Ctrl+C (SIGINT): stop listening, let open connections finish (drain), exit 0.</summary>
public class GracefulShutdownTests
{
    [Fact]
    public async Task Ctrl_c_lets_an_open_connection_finish_and_exits_0()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // SIGINT to another process is a Unix thing.
        }

        await using var http = await HttpTarget.StartAsync();
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", http.HostPort);
        await using var _ = serve;
        var (forward, local) = await CliProcess.StartForwardAsync(port, http.HostPort, "--drain-timeout", "20", "--verbose");
        await using var __ = forward;

        // A connection is open (but has sent nothing yet) when Ctrl+C comes.
        using var open = await Loopback.ConnectAsync(local);
        await forward.WaitForAsync(@"connection from .*: channel \d+");
        forward.Interrupt();
        await forward.WaitForAsync("shutting down: 1 channel\\(s\\) open; draining");

        // The open connection still works, and forward ends as soon as it is done.
        await open.SendAsync(Encoding.ASCII.GetBytes("GET /hello/9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), SocketFlags.None);
        var buffer = new byte[4096];
        var reply = new StringBuilder();
        int n;
        while ((n = await open.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(CliProcess.Timeout)) > 0)
        {
            reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        Assert.Contains("hello 9", reply.ToString(), StringComparison.Ordinal);
        open.Close();
        Assert.Equal(0, await forward.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Contains("stopped", forward.Output, StringComparison.Ordinal);

        serve.Interrupt();
        Assert.Equal(0, await serve.WaitForExitAsync());
    }
}
