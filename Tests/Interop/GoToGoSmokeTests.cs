using Xunit;

namespace TcpChan.Tests.Interop;

/// <summary>
/// The Go interop program against itself, Go client to Go server over loopback, in every
/// scenario the yamux interop tests use: proves the harness (install, build, processes,
/// result lines) and each scenario's Go side before this implementation takes one of the two
/// places. The reset scenario needs a side that sends a reset, which Go's yamux cannot; it
/// runs against raw frames in <see cref="GoYamuxBehaviourTests"/>.
/// </summary>
public sealed class GoToGoSmokeTests
{
    [GoYamuxTheory]
    [InlineData("client")]
    [InlineData("server")]
    public async Task Echo_100_streams_up_to_8_MiB_with_sha256_checked(string opener)
    {
        var (server, client) = await RunPairAsync("echo", serverOpens: opener == "server");

        var active = opener == "client" ? client : server;
        Assert.Equal("100", active["streams"]);
        Assert.Equal(server["bytes"], client["bytes"]);
        Assert.True(long.Parse(active["bytes"]) > 16L << 20, active.Line); // two 8 MiB streams and the rest
    }

    [GoYamuxTheory]
    [InlineData("client")]
    [InlineData("server")]
    public async Task Half_close_first_from_either_side_then_the_other_side_still_writes(string opener)
    {
        var (server, client) = await RunPairAsync("halfclose", serverOpens: opener == "server");

        var passive = opener == "client" ? server : client;
        Assert.Single(passive.Events("halfclose-peer-first"));
        Assert.Equal("1048576", Assert.Single(passive.Events("halfclose-self-first"))["received_after_fin"]);
    }

    [GoYamuxFact]
    public async Task Opens_past_the_accept_backlog_are_reset()
    {
        var (server, client) = await RunPairAsync("backlog");

        Assert.Equal("257", client["opened"]);
        Assert.Equal("513", client["reset_stream"]); // the 257th odd id
        Assert.Equal("256", server["pending"]);
        Assert.Contains("backlog exceeded", server.Stderr, StringComparison.Ordinal);
    }

    [GoYamuxFact]
    public async Task Ping_from_each_side()
    {
        var (server, client) = await RunPairAsync("ping");

        Assert.Equal(3, client.Events("ping").Count());
        Assert.Equal(3, server.Events("ping").Count());
    }

    [GoYamuxTheory]
    [InlineData("passive")]
    [InlineData("active")]
    public async Task Go_away_with_streams_in_flight_lets_them_finish_and_refuses_new_opens(string by)
    {
        var (server, client) = await RunPairAsync("goaway", arguments: ["-streams", "8", "-goaway-by", by]);

        var sender = by == "passive" ? server : client;
        var receiver = by == "passive" ? client : server;
        Assert.Single(sender.Events("goaway-sent"));
        Assert.Single(receiver.Events("open-refused-after-goaway"));
        Assert.Equal("8", client["streams"]);
    }

    [GoYamuxTheory]
    [InlineData("active")]
    [InlineData("passive")]
    public async Task A_64_MiB_writer_to_a_slow_reader_completes(string writer)
    {
        var (server, client) = await RunPairAsync("flood", arguments: ["-flood-writer", writer]);

        Assert.Equal((64L << 20).ToString(), client["bytes"]);
        Assert.Equal(writer == "active" ? "true" : "false", client["writer"]);
        Assert.Equal(writer == "active" ? "false" : "true", server["writer"]);
    }

    /// <summary>
    /// Runs the scenario with the Go server and the Go client, the client opening the streams
    /// unless <paramref name="serverOpens"/>; both must report ok.
    /// </summary>
    private static async Task<(GoResult Server, GoResult Client)> RunPairAsync(string scenario, bool serverOpens = false, string[]? arguments = null)
    {
        arguments ??= [];
        using var server = await GoYamux.StartServerAsync(scenario, [.. arguments, $"-active={serverOpens}".ToLowerInvariant()]);
        using var client = GoYamux.StartClient(server.EndPoint!, scenario, [.. arguments, $"-active={!serverOpens}".ToLowerInvariant()]);
        var clientResult = await client.WaitForResultAsync(GoYamux.ProcessTimeout);
        var serverResult = await server.WaitForResultAsync(GoYamux.ProcessTimeout);
        Assert.True(clientResult.Ok, clientResult.ToString());
        Assert.True(serverResult.Ok, serverResult.ToString());
        return (serverResult, clientResult);
    }
}
