using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>A client without the server's token gets no channel: both sides log it and forward exits with code 7.</summary>
public class WrongTokenTests
{
    [Fact]
    public async Task A_wrong_token_ends_forward_with_exit_code_7_and_both_sides_say_so()
    {
        await using var http = await HttpTarget.StartAsync();
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", http.HostPort, "--token", "right-token");
        await using var _ = serve;

        await using var forward = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{port}", "-L", $"0:{http.HostPort}", "--token", "wrong-token");

        Assert.Equal(7, await forward.WaitForExitAsync());
        Assert.Contains("rejected the token: wrong token", forward.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("session up", forward.Output, StringComparison.Ordinal);
        await serve.WaitForAsync(@"session #1 from .*: wrong token; closing the session");
    }

    [Fact]
    public async Task No_token_for_a_server_that_needs_one_is_exit_code_7()
    {
        var tokenFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(tokenFile, "from-a-file\n");
            var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", "127.0.0.1:1", "--token-file", tokenFile);
            await using var _ = serve;

            await using var forward = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{port}", "-L", "0:127.0.0.1:1");

            Assert.Equal(7, await forward.WaitForExitAsync());
            Assert.Contains("needs a token", forward.Output, StringComparison.Ordinal);
            await serve.WaitForAsync("the client presented no token");
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }
}
