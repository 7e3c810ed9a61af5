using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>serve connects only to --allow targets; a refusal closes the forwarded connection and both sides say why.</summary>
public class RefusedTargetTests
{
    [Fact]
    public async Task A_target_not_on_the_allow_list_is_refused_and_never_connected()
    {
        await using var allowed = await HttpTarget.StartAsync();
        await using var other = new HashingTarget(replySize: 0);
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", allowed.HostPort);
        await using var _ = serve;
        var (forward, local) = await CliProcess.StartForwardAsync(port, other.HostPort);
        await using var __ = forward;

        var (bytes, _) = await Loopback.ExchangeAsync(local, "hello?"u8.ToArray());

        Assert.Equal(0, bytes);
        await forward.WaitForAsync($@"connection from .* to {other.HostPort} closed: refused by the server: target not allowed");
        await serve.WaitForAsync($"refused connect to {other.HostPort}: not on the --allow list");
        Assert.Equal(0, other.Accepted);

        // The session goes on: an allowed target still works through it.
        Assert.Equal(["hello 7"], await ForwardAgainAsync(port, allowed));
    }

    [Fact]
    public async Task An_allowed_target_that_is_down_is_reported_unreachable()
    {
        using var closed = Loopback.ClosedPort();
        string down = $"127.0.0.1:{closed.Port()}";
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", down);
        await using var _ = serve;
        var (forward, local) = await CliProcess.StartForwardAsync(port, down);
        await using var __ = forward;

        var (bytes, _) = await Loopback.ExchangeAsync(local, []);

        Assert.Equal(0, bytes);
        await forward.WaitForAsync($"to {down} closed: refused by the server: target unreachable");
        await serve.WaitForAsync($"cannot connect to {down}: connection refused");
    }

    private static async Task<string[]> ForwardAgainAsync(int serverPort, HttpTarget target)
    {
        var (forward, local) = await CliProcess.StartForwardAsync(serverPort, target.HostPort);
        await using (forward)
        {
            return await HttpTarget.GetAsync(local, [7]);
        }
    }
}
