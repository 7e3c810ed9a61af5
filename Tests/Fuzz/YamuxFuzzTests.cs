using TcpChan.Core;
using TcpChan.Core.Yamux;
using TcpChan.Fuzz;
using Xunit;

namespace TcpChan.Tests.Fuzz;

/// <summary>
/// The fuzzer on yamux (Fuzz/YamuxFrames.cs, Fuzz/YamuxOutputChecker.cs): a short fixed pass of
/// yamux inputs finds no failure and reaches each class of bad yamux input with its defined
/// error; the golden seeds are Go's frames; the output checker catches what Go would not take.
/// </summary>
public class YamuxFuzzTests
{
    [Fact]
    public void Three_thousand_yamux_inputs_find_no_failure_and_reach_every_defined_yamux_error()
    {
        var engine = new FuzzEngine(new FuzzSettings
        {
            Seed = 20261202,
            MaxInputs = 3_000,
            Seconds = 60, // a guard only
            Minimize = false,
            HangSeconds = 30,
            YamuxOnly = true,
        });

        var summary = engine.Run();

        Assert.True(summary.Passed, summary.ToString());
        Assert.Equal(3_000, summary.Inputs);
        var features = engine.SeenFeatures;
        string[] expected =
        [
            "ev:ProtocolError:UnknownFrameType:Unknown yamux type #.",
            "ev:ProtocolError:ProtocolError:Yamux version byte #.",
            "ev:ProtocolError:FlowControlError:Credit of channel # above #^#-#.",
            "ev:ProtocolError:FlowControlError:# bytes on channel # with # bytes of credit.",
            "ev:ProtocolError:ProtocolError:The peer opened stream #, an id of this side.",
            "ev:ProtocolError:ChannelIdInUse:The peer opened stream #, which is already open.",
            "ev:DataDiscarded",
            "ev:ChannelClosed:LocalReset:ProtocolError:InvalidDataException",
            "ev:ChannelClosed:Refused:Refused:-",
            "ev:GoAwayReceived:NoError",
            "act:create:label-refused",
            "out:yamux:WindowUpdate:Syn",
            "out:yamux:WindowUpdate:Ack",
            "out:yamux:WindowUpdate:Fin",
            "out:yamux:WindowUpdate:Rst",
            "out:yamux:Data:None",
            "out:yamux:Ping:Ack",
            "out:yamux:GoAway:None",
            "pair:equal",
        ];
        Assert.All(expected, f => Assert.True(features.Contains(f), $"not reached: {f}"));
    }

    [Fact]
    public void The_yamux_golden_frames_are_embedded_whole_and_their_conversations_run_clean()
    {
        // The fuzzer's copy is the file Go's output is checked against (Tests/Interop).
        using (var embedded = new StreamReader(typeof(YamuxFrames).Assembly.GetManifestResourceStream("yamux-go.txt")!))
        {
            Assert.Equal(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "yamux-go.txt")), embedded.ReadToEnd());
        }

        var golden = YamuxFrames.GoldenFrames();
        Assert.Equal(21, golden.Count);
        Assert.Equal(12 + (192 * 1024), golden.Single(g => g.Name == "data_192k").Bytes.Length);
        var seeds = YamuxFrames.GoldenSeeds();
        Assert.All(seeds, seed => Assert.True(seed.Side.Yamux));
        Assert.All(seeds, seed => Assert.Empty(CaseRunner.Run(seed).Failures));
    }

    [Fact]
    public void A_yamux_pair_keeps_its_protocol_through_json_and_the_byte_form()
    {
        var pair = Generators.RandomPair(new Random(5), "yamux pair", yamuxOnly: true);
        Assert.True(pair.Side.Yamux && pair.Peer!.Yamux);
        var decoded = AflInput.Decode(AflInput.Encode(pair));
        Assert.True(decoded.Side.Yamux && decoded.Peer!.Yamux);
        Assert.True(FuzzCase.FromJson(pair.ToJson()).Side.Yamux);

        // One side of yamux, the other TcpChan, is no conversation: the byte form keeps one protocol.
        pair.Peer.Yamux = false;
        Assert.True(AflInput.Decode(AflInput.Encode(pair)).Peer!.Yamux);
        var result = CaseRunner.Run(decoded, record: true);
        Assert.Empty(result.Failures);
        Assert.All(result.Recordings, r => Assert.True(r.Side.Yamux));
    }

    [Theory]
    [InlineData("a second SYN for the same id", false, "output-yamux-syn")]
    [InlineData("a SYN of the other side's parity", false, "output-yamux-syn")]
    [InlineData("an empty data frame", false, "output-yamux-data")]
    [InlineData("a window update of 0 without a flag", false, "output-yamux-window")]
    [InlineData("a go-away with code 3", false, "output-yamux-goaway")]
    [InlineData("a type that is none", false, "output-unknown-frame")]
    [InlineData("a frame cut at the end of the transmit", false, "output-cut-frame")]
    [InlineData("a second FIN", true, "output-yamux-stream")]
    [InlineData("data after FIN", true, "output-yamux-stream")]
    [InlineData("a second ACK", true, "output-yamux-stream")]
    public void The_yamux_output_checker_catches_what_Go_would_not_take(string what, bool pair, string key)
    {
        var failures = new List<FuzzFailure>();
        var side = new SideHarness(new SideConfig { Client = true, Yamux = true }, failures, []) { CheckStreamLives = pair };
        var checker = new YamuxOutputChecker(side);
        byte[] Window(YamuxFlags flags, uint id, uint delta) => YamuxFrames.Frame(YamuxFrameType.WindowUpdate, flags, id, delta);
        byte[] output = what switch
        {
            "a second SYN for the same id" => [.. Window(YamuxFlags.Syn, 1, 0), .. Window(YamuxFlags.Syn, 1, 0)],
            "a SYN of the other side's parity" => Window(YamuxFlags.Syn, 2, 0),
            "an empty data frame" => YamuxFrames.Data(YamuxFlags.None, 1, []),
            "a window update of 0 without a flag" => Window(YamuxFlags.None, 1, 0),
            "a go-away with code 3" => YamuxFrames.Frame(YamuxFrameType.GoAway, YamuxFlags.None, 0, 3),
            "a type that is none" => [0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
            "a frame cut at the end of the transmit" => Window(YamuxFlags.Syn, 1, 0)[..7],
            "a second FIN" => [.. Window(YamuxFlags.Fin, 2, 0), .. Window(YamuxFlags.Fin, 2, 0)],
            "data after FIN" => [.. Window(YamuxFlags.Fin, 2, 0), .. YamuxFrames.Data(YamuxFlags.None, 2, [1])],
            _ => [.. Window(YamuxFlags.Ack, 2, 0), .. Window(YamuxFlags.Ack, 2, 0)],
        };

        checker.Check(output);

        Assert.Equal([key], failures.Select(f => f.Key));
    }

    [Fact]
    public void The_yamux_output_checker_passes_what_Go_takes()
    {
        var failures = new List<FuzzFailure>();
        var side = new SideHarness(new SideConfig { Client = true, Yamux = true }, failures, []) { CheckStreamLives = true };
        var checker = new YamuxOutputChecker(side);
        // Go's client frames of one session (not its 192 KiB frame: this side sends at most
        // MaxFramePayload), whole frames in each transmit, as the connection writes them.
        var frames = YamuxFrames.GoldenFrames().Where(g => g.Sender == "client" && g.Name is not ("open_syn_window_1m" or "server_open_ack" or "data_192k")).Select(g => g.Bytes).ToList();
        Assert.True(frames.Count > 4, $"{frames.Count} frames");
        checker.Check(frames[0]);
        checker.Check([.. frames[1], .. frames[2]]);
        checker.Check(frames.Skip(3).SelectMany(f => f).ToArray());

        Assert.Equal(string.Empty, string.Join("; ", failures));
        Assert.Equal(ConnectionState.Idle, side.Conn.State);
    }
}
