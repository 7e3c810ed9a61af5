using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using TcpChan.Core;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests;

public enum FrameOpKind
{
    Create,
    Payload,
    Close,
}

/// <summary>One frame of a generated stream; the id is an index into a fixed pool.</summary>
public readonly record struct FrameOp(FrameOpKind Kind, int IdIndex, int Length, int Seed)
{
    public override string ToString() => Kind switch
    {
        FrameOpKind.Payload => $"Payload(#{IdIndex}, {Length}B, seed {Seed})",
        _ => $"{Kind}(#{IdIndex})",
    };
}

/// <summary>A valid stream of frames for one side, and where to cut it into DataReceived calls.</summary>
public sealed record SplitCase(bool ToServer, FrameOp[] Ops, int[] Cuts, bool OneByte)
{
    public override string ToString() =>
        $"SplitCase(to {(ToServer ? "server" : "client")}, ops [{string.Join(", ", Ops)}], cuts [{string.Join(", ", Cuts)}], oneByte {OneByte})";
}

public enum ActKind
{
    Open,
    Write,
    Close,
    Pump,
}

/// <summary>One step of traffic: on the client or the server, on the live channel at Index (mod count).</summary>
public readonly record struct Act(ActKind Kind, bool Client, int Index, int Length, int Seed)
{
    public override string ToString() => Kind switch
    {
        ActKind.Open => $"Open({Side})",
        ActKind.Write => $"Write({Side}, #{Index}, {Length}B)",
        ActKind.Close => $"Close({Side}, #{Index})",
        _ => "Pump",
    };

    private string Side => Client ? "client" : "server";
}

public sealed record TrafficCase(Act[] Acts, int ChunkSeed, int MaxChunk)
{
    public override string ToString() => $"TrafficCase(maxChunk {MaxChunk}, chunkSeed {ChunkSeed}, acts [{string.Join(", ", Acts)}])";
}

public class PropertyTests
{
    private const int Tests = 200;

    /// <summary>Channel ids the generated streams use; the factory refuses 258.</summary>
    private static readonly uint[] s_ids = [0, 1, 7, 258, 0x80000000, 0xFFFFFFFF];

    private const uint RefusedId = 258;

    // ---- (a) any split of a valid stream gives the same outcome ----------------------------

    private static Gen<int> PayloadLength { get; } = Gen.Frequency(
        (10, Gen.Choose(0, 20)),
        (4, Gen.Choose(21, 3000)),
        (1, Gen.Choose(60_000, 65_535)));

    private static Gen<FrameOp> FrameOpGen { get; } = Gen.Frequency(
        (2, Gen.Choose(0, s_ids.Length - 1).Select(i => new FrameOp(FrameOpKind.Create, i, 0, 0))),
        (4, from i in Gen.Choose(0, s_ids.Length - 1)
            from length in PayloadLength
            from seed in Gen.Choose(0, int.MaxValue)
            select new FrameOp(FrameOpKind.Payload, i, length, seed)),
        (1, Gen.Choose(0, s_ids.Length - 1).Select(i => new FrameOp(FrameOpKind.Close, i, 0, 0))));

    private static Gen<SplitCase> SplitCaseGen { get; } =
        from toServer in Gen.Elements(true, false)
        from ops in Gen.ArrayOf(FrameOpGen)
        from cuts in Gen.ArrayOf(Gen.Choose(0, int.MaxValue))
        from oneByte in Gen.Frequency((9, Gen.Constant(false)), (1, Gen.Constant(true)))
        select new SplitCase(toServer, ops, cuts, oneByte);

    private static IEnumerable<SplitCase> Shrink(SplitCase c)
    {
        if (c.OneByte)
        {
            yield return c with { OneByte = false };
        }

        for (int i = 0; i < c.Ops.Length; i++)
        {
            yield return c with { Ops = c.Ops.Where((_, j) => j != i).ToArray() };
        }

        for (int i = 0; i < c.Ops.Length; i++)
        {
            if (c.Ops[i].Length > 1)
            {
                var ops = c.Ops.ToArray();
                ops[i] = ops[i] with { Length = ops[i].Length / 2 };
                yield return c with { Ops = ops };
            }
        }

        for (int i = 0; i < c.Cuts.Length; i++)
        {
            yield return c with { Cuts = c.Cuts.Where((_, j) => j != i).ToArray() };
        }
    }

    /// <summary>The stream a case describes: a handshake frame for the side, then frames that a valid peer could send.</summary>
    private static byte[] BuildStream(SplitCase c)
    {
        var parts = new List<byte[]> { c.ToServer ? Wire.Request() : Wire.Reply() };
        var open = new HashSet<uint>();
        foreach (var op in c.Ops)
        {
            uint id = s_ids[op.IdIndex];
            switch (op.Kind)
            {
                case FrameOpKind.Create when !open.Contains(id):
                    parts.Add(Wire.Create(id));
                    open.Add(id);
                    break;
                case FrameOpKind.Create:
                case FrameOpKind.Close:
                    // A peer closes what it opened, or (harmlessly) what is not open.
                    parts.Add(Wire.CloseFrame(id));
                    open.Remove(id);
                    break;
                case FrameOpKind.Payload:
                    // To an open channel, or to one that is not: discarded, but valid.
                    parts.Add(Wire.Payload(id, Wire.Pattern(op.Length, op.Seed)));
                    break;
            }
        }

        return Wire.Concat(parts.ToArray());
    }

    private sealed record Outcome(List<string> Events, string Transmitted, List<string> Channels, ConnectionState State);

    private static Outcome Feed(bool toServer, byte[] stream, IReadOnlyList<int> cuts)
    {
        var channels = new List<RecordingChannel>();
        Func<ChannelOpenInfo, Channel> factory = info =>
        {
            if (info.ChannelId == RefusedId)
            {
                throw new InvalidOperationException("refused");
            }

            var channel = new RecordingChannel();
            channels.Add(channel);
            return channel;
        };
        Connection connection = toServer ? new ServerConnection(factory, V0.Options()) : new ClientConnection(factory, V0.Options());
        connection.ConnectionEstablished();
        Wire.Drain(connection); // a client's request

        int at = 0;
        foreach (int cut in cuts.Append(stream.Length))
        {
            connection.DataReceived(stream.AsSpan(at, cut - at));
            at = cut;
        }

        var events = Wire.Drain(connection);
        return new Outcome(
            Wire.DescribeNonTransmit(events),
            Wire.ToHex(Wire.Transmitted(events)),
            channels.Select(ch => $"{ch.ChannelId}:{ch.CreatedCount}:{Wire.ToHex(ch.Received)}:{string.Join(",", ch.CloseReasons)}").ToList(),
            connection.State);
    }

    private static void CheckSplit(SplitCase c)
    {
        var stream = BuildStream(c);
        var cuts = c.OneByte
            ? Enumerable.Range(1, stream.Length - 1).ToList()
            : c.Cuts.Select(x => 1 + (x % (stream.Length - 1))).Distinct().Order().ToList();

        var whole = Feed(c.ToServer, stream, []);
        var split = Feed(c.ToServer, stream, cuts);

        Assert.Equal(ConnectionState.Established, whole.State);
        Assert.Equal(whole.State, split.State);
        Assert.Equal(whole.Events, split.Events);
        Assert.Equal(whole.Transmitted, split.Transmitted);
        Assert.Equal(whole.Channels, split.Channels);
    }

    /// <summary>The cases the properties below draw from (FsCheck.Xunit finds them by type).</summary>
    public static class Cases
    {
        public static Arbitrary<SplitCase> Split() => Arb.From(SplitCaseGen, Shrink);

        public static Arbitrary<TrafficCase> Traffic() => Arb.From(TrafficCaseGen, Shrink);
    }

    [FsCheck.Xunit.Property(Arbitrary = [typeof(Cases)], MaxTest = Tests, QuietOnSuccess = true, Replay = "6769408108225969153,2787651735296542227")]
    public void Every_split_of_a_valid_stream_gives_the_same_events_and_bytes(SplitCase c) => CheckSplit(c);

    [Fact]
    public void Split_property_generator_reaches_the_interesting_cases()
    {
        // Guards the property above against a generator that stops producing what matters.
        var samples = SplitCaseGen.Sample(Tests, new Rnd(0x5EED_0001), 50);
        var outcomes = samples.Select(c => Feed(c.ToServer, BuildStream(c), [])).ToList();
        Assert.Contains(samples, c => c.OneByte);
        Assert.Contains(samples, c => !c.ToServer);
        Assert.Contains(samples, c => c.Ops.Any(op => op.Length >= 60_000));
        Assert.Contains(outcomes, o => o.Events.Any(e => e.StartsWith("DataDiscarded", StringComparison.Ordinal)));
        Assert.Contains(outcomes, o => o.Events.Any(e => e.Contains("RemoteClose", StringComparison.Ordinal)));
        Assert.Contains(outcomes, o => o.Events.Any(e => e.Contains("ApplicationError", StringComparison.Ordinal)));
        Assert.Contains(outcomes, o => o.Channels.Any(ch => ch.Split(':')[2].Length > 1000));
    }

    // ---- (b) random traffic through the pair delivers every byte once, in order ------------

    private static Gen<int> WriteLength { get; } = Gen.Frequency(
        (6, Gen.Choose(0, 100)),
        (3, Gen.Choose(0, 70_000)),
        (1, Gen.Choose(0, 300_000)));

    private static Gen<Act> ActGen { get; } = Gen.Frequency(
        (3, Gen.Elements(true, false).Select(client => new Act(ActKind.Open, client, 0, 0, 0))),
        (5, from client in Gen.Elements(true, false)
            from index in Gen.Choose(0, 1000)
            from length in WriteLength
            from seed in Gen.Choose(0, int.MaxValue)
            select new Act(ActKind.Write, client, index, length, seed)),
        (2, from client in Gen.Elements(true, false)
            from index in Gen.Choose(0, 1000)
            select new Act(ActKind.Close, client, index, 0, 0)),
        (2, Gen.Constant(new Act(ActKind.Pump, false, 0, 0, 0))));

    private static Gen<TrafficCase> TrafficCaseGen { get; } =
        from count in Gen.Sized(size => Gen.Choose(0, Math.Min(size, 40)))
        from acts in Gen.ArrayOf(ActGen, count)
        from chunkSeed in Gen.Choose(0, int.MaxValue)
        from maxChunk in Gen.Elements(1, 3, 64, 4096, 70_000, int.MaxValue)
        select new TrafficCase(acts, chunkSeed, maxChunk);

    private static IEnumerable<TrafficCase> Shrink(TrafficCase c)
    {
        if (c.MaxChunk != int.MaxValue)
        {
            yield return c with { MaxChunk = int.MaxValue };
        }

        for (int i = 0; i < c.Acts.Length; i++)
        {
            yield return c with { Acts = c.Acts.Where((_, j) => j != i).ToArray() };
        }

        for (int i = 0; i < c.Acts.Length; i++)
        {
            if (c.Acts[i].Length > 1)
            {
                var acts = c.Acts.ToArray();
                acts[i] = acts[i] with { Length = acts[i].Length / 2 };
                yield return c with { Acts = acts };
            }
        }
    }

    private static void CheckTraffic(TrafficCase c)
    {
        var pair = new InMemoryPair(chunker: Chunkers.Random(c.ChunkSeed, c.MaxChunk));
        pair.Handshake();
        var sent = new Dictionary<(uint Id, bool FromClient), MemoryStream>();

        List<RecordingChannel> Live(bool client) =>
            (client ? pair.ClientChannels : pair.ServerChannels).Where(ch => !ch.IsClosed).ToList();

        foreach (var act in c.Acts)
        {
            var live = Live(act.Client);
            switch (act.Kind)
            {
                case ActKind.Open:
                    (act.Client ? (Connection)pair.Client : pair.Server).CreateChannel();
                    break;
                case ActKind.Write when live.Count > 0:
                    var writer = live[act.Index % live.Count];
                    var data = Wire.Pattern(act.Length, act.Seed);
                    writer.Write(data);
                    var key = (writer.ChannelId, act.Client);
                    if (!sent.TryGetValue(key, out var stream))
                    {
                        sent[key] = stream = new MemoryStream();
                    }

                    stream.Write(data);
                    break;
                case ActKind.Close when live.Count > 0:
                    live[act.Index % live.Count].Close();
                    break;
                case ActKind.Pump:
                    pair.Pump();
                    break;
            }
        }

        // Settle, then close what is left from both sides, in turn.
        pair.Pump();
        foreach (var channel in Live(client: true))
        {
            channel.Close();
        }

        pair.Pump();
        foreach (var channel in Live(client: false))
        {
            channel.Close();
        }

        pair.Pump();

        Assert.Equal(0, pair.Client.OpenChannelCount);
        Assert.Equal(0, pair.Server.OpenChannelCount);
        Assert.Equal(ConnectionState.Established, pair.Client.State);
        Assert.Equal(ConnectionState.Established, pair.Server.State);
        Assert.Equal(
            pair.ClientChannels.Select(ch => ch.ChannelId).Order(),
            pair.ServerChannels.Select(ch => ch.ChannelId).Order());

        var allowed = new[] { "HandshakeSuccess", "ChannelCreated", "ChannelClosed", "DataDiscarded" };
        Assert.All(pair.ClientEvents.Concat(pair.ServerEvents), e => Assert.Contains(e.GetType().Name, allowed));

        foreach (bool receiverIsClient in new[] { true, false })
        {
            var events = receiverIsClient ? pair.ClientEvents : pair.ServerEvents;
            foreach (var channel in receiverIsClient ? pair.ClientChannels : pair.ServerChannels)
            {
                Assert.Equal(1, channel.CreatedCount);
                Assert.Equal(1, channel.ClosedCount);
                var reason = Assert.Single(channel.CloseReasons);
                Assert.True(reason is ChannelCloseReason.LocalClose or ChannelCloseReason.RemoteClose, $"channel {channel.ChannelId} closed with {reason}");

                byte[] expected = sent.TryGetValue((channel.ChannelId, !receiverIsClient), out var s) ? s.ToArray() : [];
                byte[] received = channel.Received;
                long discarded = events.OfType<DataDiscarded>().Where(d => d.ChannelId == channel.ChannelId).Sum(d => (long)d.ByteCount);

                // In order, on the right channel, nothing twice: what arrived is the start of what was sent,
                // and the rest was dropped (and reported) because this side had closed the channel first.
                Assert.True(received.Length <= expected.Length, $"channel {channel.ChannelId}: got {received.Length} of {expected.Length} bytes");
                Assert.True(expected.AsSpan(0, received.Length).SequenceEqual(received), $"channel {channel.ChannelId}: bytes differ");
                Assert.Equal(expected.Length, received.Length + discarded);
                if (reason == ChannelCloseReason.RemoteClose)
                {
                    // The writer closed it: everything it wrote came before its close.
                    Assert.Equal(expected.Length, received.Length);
                }
            }
        }
    }

    [FsCheck.Xunit.Property(Arbitrary = [typeof(Cases)], MaxTest = Tests, QuietOnSuccess = true, Replay = "6769408108225969154,2787651735296542227")]
    public void Random_traffic_delivers_every_byte_once_in_order_on_the_right_channel(TrafficCase c) => CheckTraffic(c);

    [Fact]
    public void Traffic_property_generator_reaches_the_interesting_cases()
    {
        var samples = TrafficCaseGen.Sample(Tests, new Rnd(0x5EED_0002), 50);
        Assert.Contains(samples, c => c.MaxChunk == 1);
        Assert.Contains(samples, c => c.Acts.Any(a => a.Kind == ActKind.Write && a.Length > 200_000));
        Assert.Contains(samples, c => c.Acts.Count(a => a.Kind == ActKind.Open) >= 3);
        Assert.Contains(samples, c => c.Acts.Any(a => a.Kind == ActKind.Close && !a.Client));
    }
}
