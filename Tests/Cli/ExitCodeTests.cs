using System.Net;
using System.Net.Sockets;
using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>Distinct exit codes with a clear message: bad usage 2, port in use 3, server unreachable 4.</summary>
public class ExitCodeTests
{
    [Fact]
    public async Task A_port_in_use_is_exit_code_3_for_serve_and_forward()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        await using var serve = CliProcess.Start("serve", "serve", "--listen", $"127.0.0.1:{port}");
        await using var forward = CliProcess.Start("forward", "forward", "--server", "127.0.0.1:1", "-L", $"{port}:127.0.0.1:80");

        Assert.Equal(3, await serve.WaitForExitAsync());
        Assert.Contains($"Cannot listen on 127.0.0.1:{port} (--listen): the port is in use.", serve.Output, StringComparison.Ordinal);
        Assert.Equal(3, await forward.WaitForExitAsync());
        Assert.Contains($"Cannot listen on 127.0.0.1:{port}", forward.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_is_exit_code_4()
    {
        using var closed = Loopback.ClosedPort();
        int nobody = closed.Port();
        await using var forward = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{nobody}", "-L", "0:127.0.0.1:80");

        Assert.Equal(4, await forward.WaitForExitAsync());
        Assert.Contains($"cannot reach the server 127.0.0.1:{nobody}: connection refused", forward.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_usage_is_exit_code_2()
    {
        await using var badSpec = CliProcess.Start("forward", "forward", "--server", "127.0.0.1:7000", "-L", "nonsense");
        await using var publicNoToken = CliProcess.Start("serve", "serve", "--listen", "0.0.0.0:0");
        await using var unknown = CliProcess.Start("tcpchan", "serve", "--no-such-option");

        Assert.Equal(2, await badSpec.WaitForExitAsync());
        Assert.Contains("-L: expected [BIND:]LOCALPORT:HOST:PORT", badSpec.Output, StringComparison.Ordinal);
        Assert.Equal(2, await publicNoToken.WaitForExitAsync());
        Assert.Contains("refusing to listen on 0.0.0.0:0 without a token", publicNoToken.Output, StringComparison.Ordinal);
        Assert.Equal(2, await unknown.WaitForExitAsync());
    }
}
