using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary><c>tcpchan connect</c>: one channel on standard input and output (like ssh -W); a refused target is exit code 5.</summary>
public class ConnectCommandTests
{
    [Fact]
    public async Task Standard_input_and_output_are_relayed_to_the_target_and_a_refused_target_is_exit_code_5()
    {
        await using var http = await HttpTarget.StartAsync();
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", http.HostPort);
        await using var _ = serve;

        // Standard input stays open (Kestrel may drop a request whose client half-closes at
        // once); the server closing after its answer is what ends the command.
        await using var connect = CliProcess.Start("connect", "connect", "--server", $"127.0.0.1:{port}", http.HostPort);
        await connect.WriteInputAsync("GET /hello/42 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", close: false);
        await connect.WaitForAsync("hello 42");
        Assert.Equal(0, await connect.WaitForExitAsync());

        await using var refused = CliProcess.Start("connect", "connect", "--server", $"127.0.0.1:{port}", "127.0.0.1:9");
        await refused.WriteInputAsync("x", close: true);
        Assert.Equal(5, await refused.WaitForExitAsync());
        Assert.Contains("the server refused 127.0.0.1:9: target not allowed", refused.Output, StringComparison.Ordinal);
    }
}
