using System.Text.RegularExpressions;
using TcpChan.Core;
using TcpChan.Tests.QuickStart;
using Xunit;

namespace TcpChan.Tests;

/// <summary>
/// The README's quick starts are the code of Tests/QuickStart, word for word, and that code
/// runs and does what the README says.
/// </summary>
public class ReadmeQuickStartTests
{
    private static readonly string[] QuickStartFiles =
    [
        "Tests/QuickStart/EchoChannelQuickStart.cs",
        "Tests/QuickStart/ByHandQuickStart.cs",
        "Tests/QuickStart/SessionQuickStart.cs",
        "Tests/QuickStart/ProtocolQuickStart.cs",
        "Tests/QuickStart/PipeQuickStart.cs",
        "Tests/QuickStart/KestrelQuickStart.cs",
    ];

    public static TheoryData<string> BlockNames() => new(MarkedBlocks(ReadRepoFile("README.md"), HtmlMarker).Keys);

    [Theory]
    [MemberData(nameof(BlockNames))]
    public void Readme_block_is_the_tested_source(string name)
    {
        var readme = MarkedBlocks(ReadRepoFile("README.md"), HtmlMarker)[name];
        var sources = QuickStartFiles
            .SelectMany(f => MarkedBlocks(ReadRepoFile(f), CommentMarker))
            .ToDictionary(b => b.Key, b => b.Value);
        Assert.True(sources.ContainsKey(name), $"README block '{name}' has no '// README:begin {name}' in Tests/QuickStart.");

        Assert.Equal("```csharp", readme[0]);
        Assert.Equal("```", readme[^1]);
        Assert.Equal(Dedent(sources[name]), Dedent(readme[1..^1]));
    }

    [Fact]
    public void Every_quick_start_source_is_in_the_readme()
    {
        var readme = MarkedBlocks(ReadRepoFile("README.md"), HtmlMarker);
        foreach (var file in QuickStartFiles)
        {
            var blocks = MarkedBlocks(ReadRepoFile(file), CommentMarker);
            Assert.NotEmpty(blocks);
            Assert.All(blocks.Keys, name => Assert.True(readme.ContainsKey(name), $"{file}: block '{name}' is not in README.md."));
        }
    }

    [Fact]
    public void Readme_test_command_is_what_CI_runs()
    {
        // .ci/run runs the README's command as written (and only pipes its output on).
        string ci = ReadRepoFile(".ci/run").Replace("\r\n", "\n").Split('\n').Single(l => l.StartsWith("dotnet test", StringComparison.Ordinal));
        string readme = ReadRepoFile("README.md").Replace("\r\n", "\n").Split('\n').Single(l => l.StartsWith("dotnet test", StringComparison.Ordinal));
        Assert.True(ci == readme || ci.StartsWith(readme + " 2>&1 |", StringComparison.Ordinal), $".ci/run runs '{ci}', the README says '{readme}'.");
    }

    [Fact]
    public void By_hand_pair_exchanges_hello()
    {
        Assert.Equal("hello", ByHand.Hello());
    }

    [Fact]
    public void Echo_server_echoes_every_channel()
    {
        var server = EchoService.CreateServer();
        var client = new ClientConnection(() => new CollectingChannel());
        server.ConnectionEstablished();
        client.ConnectionEstablished();
        ByHand.Pump(client, server);
        Assert.Equal(ConnectionState.Established, client.State);
        Assert.Equal(ConnectionState.Established, server.State);

        var data = new byte[150_000];
        new Random(7).NextBytes(data);
        var first = (CollectingChannel)client.CreateChannel();
        var second = (CollectingChannel)client.CreateChannel();
        first.Write(data);
        second.Write("ping"u8);
        ByHand.Pump(client, server);

        Assert.Equal(data, first.Received.ToArray());
        Assert.Equal("ping"u8.ToArray(), second.Received.ToArray());
        Assert.Equal(2, server.OpenChannelCount);

        // Closing ends the client's side; the echo channel ends its own, and both complete.
        first.Close();
        second.Close();
        ByHand.Pump(client, server);
        Assert.Equal(ChannelCloseReason.Completed, first.CloseReason);
        Assert.Equal(ChannelCloseReason.Completed, second.CloseReason);
        Assert.Equal(0, client.OpenChannelCount);
        Assert.Equal(0, server.OpenChannelCount);
    }

    [Fact]
    public void Echo_server_serves_a_version_0_client_too()
    {
        var server = EchoService.CreateServer();
        var client = new ClientConnection(() => new CollectingChannel(), new ConnectionOptions { MaxVersion = 0 });
        server.ConnectionEstablished();
        client.ConnectionEstablished();
        ByHand.Pump(client, server);
        Assert.Equal(0, server.Version);

        var channel = (CollectingChannel)client.CreateChannel();
        channel.Write("hello"u8);
        ByHand.Pump(client, server);
        Assert.Equal("hello"u8.ToArray(), channel.Received.ToArray());
    }

    private const string HtmlMarker = @"<!-- README:(begin|end) ([\w-]+) -->";
    private const string CommentMarker = @"// README:(begin|end) ([\w-]+)";

    // The lines strictly between each "begin name" and "end name" marker, by name.
    private static Dictionary<string, string[]> MarkedBlocks(string text, string markerPattern)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n');
        var blocks = new Dictionary<string, string[]>();
        string? open = null;
        int start = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            var m = Regex.Match(lines[i].Trim(), "^" + markerPattern + "$");
            if (!m.Success)
            {
                continue;
            }

            string name = m.Groups[2].Value;
            if (m.Groups[1].Value == "begin")
            {
                Assert.True(open is null, $"'{name}' begins inside '{open}'.");
                open = name;
                start = i + 1;
            }
            else
            {
                Assert.True(open == name, $"'end {name}' without its begin.");
                Assert.True(blocks.TryAdd(name, lines[start..i]), $"'{name}' is marked twice.");
                open = null;
            }
        }

        Assert.True(open is null, $"'{open}' is never ended.");
        return blocks;
    }

    // Drops leading and trailing blank lines, trailing spaces, and the indentation common to all lines.
    private static string Dedent(string[] lines)
    {
        var trimmed = lines.Select(l => l.TrimEnd()).SkipWhile(l => l.Length == 0).Reverse().SkipWhile(l => l.Length == 0).Reverse().ToArray();
        int indent = trimmed.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return string.Join("\n", trimmed.Select(l => l.Length == 0 ? l : l[indent..]));
    }

    private static string ReadRepoFile(string relativePath)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TcpChan.sln")))
        {
            dir = dir.Parent;
        }

        Assert.True(dir is not null, $"No folder above {AppContext.BaseDirectory} has TcpChan.sln.");
        return File.ReadAllText(Path.Combine(dir.FullName, relativePath));
    }
}
