using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary><c>tcpchan serve</c> and <c>tcpchan forward -L</c>, as processes, relay HTTP over one session.</summary>
public class ForwardHttpTests
{
    [Fact]
    public async Task Http_requests_through_forward_and_serve_each_get_their_answer_over_one_session()
    {
        await using var http = await HttpTarget.StartAsync();
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", http.HostPort, "--token", "s3cret");
        await using var _ = serve;
        var (forward, local) = await CliProcess.StartForwardAsync(port, http.HostPort, "--token", "s3cret");
        await using var __ = forward;

        // 60 requests, each on its own TCP connection to forward: 60 channels of one session.
        var numbers = Enumerable.Range(0, 60).ToList();
        var answers = await HttpTarget.GetAsync(local, numbers);

        Assert.Equal(numbers.Select(n => $"hello {n}"), answers);
        await serve.WaitForAsync(@"session #1 from .* established");
        await serve.WaitForAsync("token accepted");
        Assert.DoesNotContain("session #2", serve.Output, StringComparison.Ordinal);
        Assert.Contains("plaintext", forward.Output, StringComparison.Ordinal);
    }
}
