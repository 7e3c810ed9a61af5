using TcpChan.Core;

namespace TcpChan.Fuzz;

/// <summary>How a pair cuts transmits into DataReceived calls.</summary>
public static class ChunkModes
{
    public const int Whole = 0;
    public const int OneByte = 1;
    public const int RandomLarge = 2;
    public const int RandomSmall = 3;
    public const int Count = 4;
}

/// <summary>
/// A client and a server back to back in memory, driven by a case's steps. Records what each
/// side received (seeds for mutation) and, at the end, checks the differential property:
/// every byte written on a channel arrives at the peer's channel exactly once and in order
/// (received is always a prefix of written; equal unless something on that channel could
/// legitimately lose data), no side fails, and a replay of each side's recording on a fresh
/// connection does exactly the same (the core is deterministic).
/// </summary>
public sealed class PairSession
{
    private const int MaxPumpRounds = 100_000;
    private readonly FuzzCase _case;
    private readonly CaseResult _result;
    private readonly bool _record;
    private readonly SideHarness _client;
    private readonly SideHarness _server;
    private readonly Queue<byte[]> _toServer = new();
    private readonly Queue<byte[]> _toClient = new();
    private readonly List<Step> _clientRecord = new();
    private readonly List<Step> _serverRecord = new();
    private readonly Random _chunks;

    public PairSession(FuzzCase fuzzCase, CaseResult result, bool record)
    {
        _case = fuzzCase;
        _result = result;
        _record = record;
        var clientConfig = fuzzCase.Side.Clone();
        clientConfig.Client = true;
        var serverConfig = (fuzzCase.Peer ?? new SideConfig()).Clone();
        serverConfig.Client = false;
        _client = new SideHarness(clientConfig, result.Failures, result.Features) { OnTransmit = b => _toServer.Enqueue(b), Log = new(), CheckStreamLives = true };
        _server = new SideHarness(serverConfig, result.Failures, result.Features) { OnTransmit = b => _toClient.Enqueue(b), Log = new(), CheckStreamLives = true };
        _chunks = new Random(fuzzCase.ChunkSeed);
    }

    private bool _lostInFlight;
    private long _moved;

    /// <summary>Channels misbehave on purpose: only the prefix check and the invariants apply.</summary>
    private bool Faulty => _client.Config.Faults || _server.Config.Faults;

    public void Run()
    {
        _server.Establish();
        _client.Establish();
        Pump();
        foreach (var step in _case.Steps)
        {
            var side = (step.Side ?? 0) == 0 ? _client : _server;
            switch (step.Op)
            {
                case "pump":
                    Pump();
                    break;
                case "settle":
                    Settle();
                    break;
                case "time":
                    int ms = step.Ms ?? 0;
                    _client.Time(ms);
                    _clientRecord.Add(Step.Time(ms));
                    _server.Time(ms);
                    _serverRecord.Add(Step.Time(ms));
                    break;
                case "feed":
                    break; // a pair's input comes from its other side
                default:
                    var act = step.Clone();
                    act.Side = null;
                    side.Act(act);
                    (side == _client ? _clientRecord : _serverRecord).Add(act);
                    break;
            }

            if (_result.Failures.Count > 0 || _lostInFlight)
            {
                return;
            }
        }

        Settle();
        if (_result.Failures.Count > 0 || _lostInFlight)
        {
            // Echoing channels flooded the link and the rest was dropped: the streams are cut, nothing to compare.
            _result.Features.Add("pair:capped");
            return;
        }

        CheckNoErrors(_client);
        CheckNoErrors(_server);
        bool strict = !Faulty;
        CheckDirection(_client, _server, strict);
        CheckDirection(_server, _client, strict);
        _result.Outcome = $"pair|{CaseRunner.OutcomeOf(_client)}|{CaseRunner.OutcomeOf(_server)}";
        _result.Features.Add("outcome:" + _result.Outcome);
        if (_record && _result.Failures.Count == 0)
        {
            Record(_client, _clientRecord);
            Record(_server, _serverRecord);
        }
    }

    /// <summary>Delivers everything in flight, both ways, until nothing moves.</summary>
    private void Pump()
    {
        int rounds = 0;
        while (_toServer.Count > 0 || _toClient.Count > 0)
        {
            if (++rounds > (Faulty ? 1_000 : MaxPumpRounds) || (Faulty && (_moved > 1_000_000 || _client.Channels.Count + _server.Channels.Count > 300)))
            {
                if (!Faulty)
                {
                    _client.Fail("pair-pump-no-settle", $"Traffic still flowing after {MaxPumpRounds} rounds.");
                }

                // Two echoing channels ping-pong for ever, or channels that create channels cascade: cut the pair here.
                _toServer.Clear();
                _toClient.Clear();
                _lostInFlight = true;
                return;
            }

            Deliver(_toServer, _server, _serverRecord);
            Deliver(_toClient, _client, _clientRecord);
        }
    }

    private void Deliver(Queue<byte[]> queue, SideHarness to, List<Step> record)
    {
        while (queue.Count > 0)
        {
            var bytes = queue.Dequeue();
            int offset = 0;
            while (offset < bytes.Length)
            {
                int left = bytes.Length - offset;
                int n = _case.ChunkMode switch
                {
                    ChunkModes.OneByte => 1,
                    ChunkModes.RandomLarge => _chunks.Next(1, Math.Min(left, 70_000) + 1),
                    ChunkModes.RandomSmall => _chunks.Next(1, Math.Min(left, 16) + 1),
                    _ => left,
                };
                var chunk = bytes.AsSpan(offset, n);
                _moved += n;
                if (to.Conn.State is ConnectionState.Handshaking or ConnectionState.Established)
                {
                    to.Feed(chunk);
                    record.Add(Step.Feed(chunk));
                }

                offset += n;
            }
        }
    }

    /// <summary>Consumes everything held and pumps, until nothing is held (bounded).</summary>
    private void Settle()
    {
        Pump();
        for (int round = 0; round < 20_000; round++)
        {
            bool any = false;
            foreach (var (side, record) in new[] { (_client, _clientRecord), (_server, _serverRecord) })
            {
                if (!side.HasVersion1Features)
                {
                    continue; // version 0, no flow control: nothing to give back
                }

                for (int i = 0; i < side.Channels.Count; i++)
                {
                    var channel = side.Channels[i];
                    if (!channel.IsClosed && !channel.AutoConsume && channel.Held > 0)
                    {
                        var step = new Step { Op = "consumeall", Ch = i };
                        side.Act(step);
                        record.Add(step);
                        any = true;
                    }
                }
            }

            Pump();
            if (!any || _lostInFlight)
            {
                return;
            }
        }

        if (!Faulty)
        {
            _client.Fail("pair-settle", "Still consuming after 20,000 rounds.");
        }
    }

    private static void CheckNoErrors(SideHarness side)
    {
        if (side.Terminal is { } terminal)
        {
            side.Fail("pair-unexpected-end", $"{terminal} in a valid conversation: {side.LastEvent}.");
        }
    }

    /// <summary>Bytes <paramref name="writer"/> wrote on each channel against what <paramref name="reader"/>'s channel of the same id received.</summary>
    private static void CheckDirection(SideHarness writer, SideHarness reader, bool strict)
    {
        bool connectionsUp = writer.Conn.State == ConnectionState.Established && reader.Conn.State == ConnectionState.Established;
        foreach (var w in writer.Channels)
        {
            var matches = reader.Channels.FindAll(c => c.ChannelId == w.ChannelId);
            if (matches.Count != 1 || writer.Channels.FindAll(c => c.ChannelId == w.ChannelId).Count != 1)
            {
                continue; // refused, never arrived, or an id used twice (version 0): nothing to compare
            }

            var r = matches[0];
            var written = w.Written;
            var received = r.Received;
            writer.Features.Add("pair:compared");
            if (received.Length > written.Length || !written.AsSpan(0, received.Length).SequenceEqual(received))
            {
                int at = FirstDifference(written, received);
                writer.Fail("pair-data-corrupt", $"Channel {w.ChannelId} ({writer.Name} -> {reader.Name}): wrote {written.Length} bytes, received {received.Length}, first difference at byte {at}.");
                continue;
            }

            if (!strict)
            {
                continue;
            }

            bool clean = connectionsUp && !w.LostOutgoing && !r.LostIncoming && Benign(w.ClosedWith) && Benign(r.ClosedWith);
            if (clean && received.Length != written.Length)
            {
                writer.Fail(
                    "pair-data-lost",
                    $"Channel {w.ChannelId} ({writer.Name} -> {reader.Name}): wrote {written.Length} bytes, received {received.Length}, {w.QueuedBytes} still queued at the writer. Writer closed {w.ClosedWith?.ToString() ?? "no"}, reader closed {r.ClosedWith?.ToString() ?? "no"}.");
            }

            // Liveness: once everything is consumed, nothing may stay queued for ever on a channel whose writer goes on.
            if (connectionsUp && !w.IsClosed && !w.LostOutgoing && w.QueuedBytes > 0)
            {
                writer.Fail(
                    "pair-stalled",
                    $"Channel {w.ChannelId} ({writer.Name} -> {reader.Name}): {w.QueuedBytes} bytes queued for ever after everything was consumed; reader {(r.IsClosed ? "closed " + r.ClosedWith : "open")}{(r.LostIncoming ? ", stopped reading (Close)" : string.Empty)}, received {received.Length} of {written.Length}.");
            }

            if (clean)
            {
                writer.Features.Add("pair:equal");
            }
        }
    }

    private static bool Benign(ChannelCloseReason? reason) =>
        reason is null or ChannelCloseReason.Completed or ChannelCloseReason.LocalClose or ChannelCloseReason.RemoteClose;

    private static int FirstDifference(byte[] a, byte[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            if (a[i] != b[i])
            {
                return i;
            }
        }

        return n;
    }

    private static string FirstDivergence(List<ConnectionEvent> a, List<ConnectionEvent> b)
    {
        for (int i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            string x = i < a.Count ? a[i].ToString() ?? string.Empty : "(end)";
            string y = i < b.Count ? b[i].ToString() ?? string.Empty : "(end)";
            if (x != y)
            {
                return $"; event {i}: pair {x}, replay {y}";
            }
        }

        return string.Empty;
    }

    /// <summary>The same steps with neighbouring feeds joined (up to 64 KiB a call), for recordings of one-byte pumps.</summary>
    private static List<Step> JoinFeeds(List<Step> steps)
    {
        var joined = new List<Step>();
        var pending = new List<byte>();
        foreach (var step in steps)
        {
            if (step.Op == "feed")
            {
                pending.AddRange(step.Bytes);
                if (pending.Count < 65_536)
                {
                    continue;
                }
            }

            if (pending.Count > 0)
            {
                joined.Add(Step.Feed(pending.ToArray()));
                pending.Clear();
            }

            if (step.Op != "feed")
            {
                joined.Add(step.Clone());
            }
        }

        if (pending.Count > 0)
        {
            joined.Add(Step.Feed(pending.ToArray()));
        }

        return joined;
    }

    /// <summary>Keeps a side's input as a single case, after checking that replaying it gives the same run.</summary>
    private void Record(SideHarness side, List<Step> steps)
    {
        var single = new FuzzCase
        {
            Kind = "single",
            Origin = $"{_case.Origin} recording of the {side.Name}",
            Side = side.Config.Clone(),
            Steps = steps.Select(s => s.Clone()).ToList(),
        };

        // The same cuts: the peer's input answers this side's output, whose timing (credit) depends on the cuts.
        var replay = new CaseResult();
        var replaySide = CaseRunner.RunSingle(single, replay);
        string original = CaseRunner.OutcomeOf(side);
        string divergence = FirstDivergence(side.Log!, replaySide.Log!);
        if (replay.Failed || replay.Outcome != original || divergence.Length > 0)
        {
            side.Fail(
                "replay-differs",
                $"Replaying the {side.Name}'s recording ({single.Steps.Count} steps) gave {replay.Outcome} ({string.Join("; ", replay.Failures)}); the pair gave {original}{divergence}.");
            return;
        }

        if (single.Steps.Count > 4096)
        {
            single.Steps = JoinFeeds(single.Steps); // a seed for mutation: the cuts need not be kept
        }

        _result.Recordings.Add(single);
    }
}
