using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>forward -R: the server listens on an allowed port and carries each connection back to a target on the client's side.</summary>
public class ReverseForwardTests
{
    [Fact]
    public async Task A_connection_to_the_servers_port_reaches_a_target_on_the_client_side()
    {
        await using var http = await HttpTarget.StartAsync();
        int remotePort = Loopback.FreePort();
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow-listen", remotePort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var _ = serve;

        await using var forward = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{port}", "-R", $"{remotePort}:{http.HostPort}");
        await forward.WaitForAsync($"the server listens on 127.0.0.1:{remotePort}");
        await forward.WaitForAsync("session up");

        Assert.Equal(["hello 5", "hello 6"], await HttpTarget.GetAsync(remotePort, [5, 6]));
        await serve.WaitForAsync($"listening on 127.0.0.1:{remotePort} for the client's -R");
    }

    [Fact]
    public async Task A_port_the_server_does_not_allow_is_refused_with_exit_code_5()
    {
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow-listen", "1");
        await using var _ = serve;
        int notAllowed = Loopback.FreePort();

        await using var forward = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{port}", "-R", $"{notAllowed}:127.0.0.1:80");

        Assert.Equal(5, await forward.WaitForExitAsync());
        Assert.Contains($"port {notAllowed} is not on its --allow-listen list", forward.Output, StringComparison.Ordinal);
        await serve.WaitForAsync($"refused -R listen on port {notAllowed}");
    }
}
