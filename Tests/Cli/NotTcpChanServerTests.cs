using System.Text;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>
/// forward pointed at a server that is not TcpChan exits with code 6 and the library's account
/// of what the server sent: an SSH banner at once, silence after the 10 s reply timeout.
/// </summary>
public class NotTcpChanServerTests
{
    [Fact]
    public async Task Forward_to_an_ssh_server_exits_6_at_once_showing_the_banner()
    {
        await using var ssh = BannerServer.Start(s => s.WriteAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.2p1\r\n")).AsTask());
        await using var forward = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{ssh.EndPoint.Port}", "-L", "0:127.0.0.1:1");

        Assert.Equal(6, await forward.WaitForExitAsync());
        Assert.Contains(
            $"127.0.0.1:{ssh.EndPoint.Port} is not a tcpchan server: The handshake failed: The server did not answer as TcpChan: it sent 23 bytes, 53 53 48 2D",
            forward.Output,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_to_a_silent_server_exits_6_after_the_reply_timeout_asking_about_tls()
    {
        await using var silent = BannerServer.Start(_ => Task.CompletedTask);
        await using var forward = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{silent.EndPoint.Port}", "-L", "0:127.0.0.1:1");

        Assert.Equal(6, await forward.WaitForExitAsync());
        Assert.Contains("The server did not answer as TcpChan: nothing came back within 10 s of the handshake request", forward.Output, StringComparison.Ordinal);
        Assert.Contains("(does the server need --tls?)", forward.Output, StringComparison.Ordinal);
    }
}
