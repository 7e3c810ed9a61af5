using System.Buffers.Binary;
using System.Reflection;
using TcpChan.Core;
using TcpChan.Core.Frames;

namespace TcpChan.Fuzz;

/// <summary>Random configurations, pair scenarios, frames and actions; and the golden seeds.</summary>
public static class Generators
{
    private static readonly int[] s_windows = [1, 100, 1024, 4096, 65_535, 65_536, 256 * 1024];
    private static readonly int[] s_maxFrames = [1024, 1025, 1500, 4096, 16_384, 65_535];
    private static readonly int[] s_maxChannels = [0, 1, 2, 4, 4096];
    private static readonly int[] s_yamuxWindows = [256 * 1024, (256 * 1024) + 1, 512 * 1024, 1 << 20];
    private static readonly int[] s_yamuxMaxFrames = [1024, 16_384, 65_535, 65_536, 262_144];
    private static readonly int[] s_yamuxMaxChannels = [0, 1, 2, 4, 256];

    public static readonly uint[] InterestingU32 =
    [
        0, 1, 2, 3, 4, 5, 7, 8, 255, 256, 1023, 1024, 65_535, 65_536, 0x7FFF_FFFE, 0x7FFF_FFFF, 0x8000_0000,
        0xFFFF_FFFE, 0xFFFF_FFFF, ConnectionOptions.DefaultHandshakeMagic, 0x0102_0304,
    ];

    public static T Pick<T>(Random r, IReadOnlyList<T> items) => items[r.Next(items.Count)];

    /// <summary>A configuration, with small budgets in many runs; a fifth of them yamux (all with <paramref name="yamuxOnly"/>).</summary>
    public static SideConfig RandomConfig(Random r, bool client, bool faults, bool yamuxOnly = false) =>
        yamuxOnly || r.Next(5) == 0 ? RandomYamuxConfig(r, client, faults) : RandomTcpChanConfig(r, client, faults);

    private static SideConfig RandomTcpChanConfig(Random r, bool client, bool faults)
    {
        int window = Pick(r, s_windows);
        int budget = r.Next(4) switch
        {
            0 => window,
            1 => window * 2 + r.Next(100),
            2 => Math.Min(int.MaxValue / 2, window * 8),
            _ => Settings.DefaultInitialSessionWindow,
        };
        return new SideConfig
        {
            Client = client,
            MaxVersion = r.Next(4) == 0 ? 0 : 1,
            Magic = r.Next(50) == 0 ? 0x0102_0304 : ConnectionOptions.DefaultHandshakeMagic,
            Window = window,
            Budget = Math.Max(window, budget),
            MaxChannelWindow = r.Next(3) switch { 0 => window, 1 => window * 4, _ => 16 * 1024 * 1024 },
            MaxFrame = Pick(r, s_maxFrames),
            MaxChannels = Pick(r, s_maxChannels),
            AutoTune = r.Next(2) == 0,
            KeepAliveIntervalMs = r.Next(4) switch { 0 => null, 1 => 0, 2 => 1000, _ => 30_000 },
            KeepAliveTimeoutMs = r.Next(3) switch { 0 => 1, 1 => 2000, _ => 90_000 },
            HandshakeTimeoutMs = r.Next(4) switch { 0 => null, 1 => 0, 2 => 1000, _ => 30_000 },
            Consume = Pick(r, new[] { "auto", "manual", "mixed" }),
            Faults = faults,
            RandomSeed = r.Next(),
            PullBudget = r.Next(3) switch { 0 => 0, 1 => r.Next(1, 200), _ => r.Next(1, 256 * 1024) },
            SendQuantum = r.Next(3) switch { 0 => 0, 1 => 1024, _ => r.Next(1024, 65536) },
        };
    }

    /// <summary>A yamux configuration: windows of 256 KiB and up (the protocol's least), budgets from one window up.</summary>
    private static SideConfig RandomYamuxConfig(Random r, bool client, bool faults)
    {
        var config = RandomTcpChanConfig(r, client, faults);
        config.Yamux = true;
        config.Window = Pick(r, s_yamuxWindows);
        config.Budget = r.Next(3) switch { 0 => config.Window, 1 => 3 * config.Window, _ => Settings.DefaultInitialSessionWindow };
        config.MaxChannelWindow = r.Next(3) switch { 0 => config.Window, 1 => config.Window * 4, _ => 16 * 1024 * 1024 };
        config.MaxFrame = Pick(r, s_yamuxMaxFrames);
        config.MaxChannels = Pick(r, s_yamuxMaxChannels);
        return config;
    }

    /// <summary>A valid conversation between a client and a server: opens, writes, half-closes, resets, pings, go-away.</summary>
    public static FuzzCase RandomPair(Random r, string origin, bool yamuxOnly = false)
    {
        // A quarter of the pairs run with misbehaving channels: then only the prefix check and the invariants hold.
        bool faults = r.Next(4) == 0;
        var client = RandomConfig(r, client: true, faults, yamuxOnly);
        var server = RandomConfig(r, client: false, faults, yamuxOnly);
        server.Magic = client.Magic;
        if (server.Yamux != client.Yamux)
        {
            // Both sides speak the same protocol: there is nothing to negotiate between TcpChan and yamux.
            server = client.Yamux ? RandomYamuxConfig(r, client: false, faults) : RandomTcpChanConfig(r, client: false, faults);
            server.Magic = client.Magic;
        }

        // Keepalive must not fire in a conversation where both sides answer at once: time steps stay short.
        foreach (var c in new[] { client, server })
        {
            c.KeepAliveTimeoutMs = Math.Max(c.KeepAliveTimeoutMs, 60_000);
            c.KeepAliveIntervalMs = c.KeepAliveIntervalMs is null ? null : Math.Max(c.KeepAliveIntervalMs.Value, 10_000);
            c.HandshakeTimeoutMs = null;
        }

        // A tiny window makes every byte a round trip: keep the writes small then.
        bool big = r.Next(8) == 0 && Math.Min(client.Window, server.Window) >= 4096;
        bool tiny = Math.Min(client.Window, server.Window) < 1024;
        var steps = new List<Step>();
        int count = r.Next(3, 50);
        long bytes = 0;
        for (int i = 0; i < count; i++)
        {
            int side = r.Next(2);
            int roll = r.Next(100);
            Step step = roll switch
            {
                < 14 => new Step { Op = "create", Side = side, Label = client.Yamux ? (r.Next(8) == 0 ? "web" : null) : RandomLabel(r, faults) },
                < 40 => new Step { Op = "write", Side = side, Ch = r.Next(8), N = tiny ? r.Next(0, 3000) : WriteLength(r, big) },
                < 45 => new Step { Op = "trywrite", Side = side, Ch = r.Next(8), N = tiny ? r.Next(0, 3000) : WriteLength(r, big) },
                < 52 => new Step { Op = "complete", Side = side, Ch = r.Next(8) },
                < 55 => new Step { Op = "close", Side = side, Ch = r.Next(8) },
                < 57 => new Step { Op = "abort", Side = side, Ch = r.Next(8), Code = r.Next(2) == 0 ? (uint)ErrorCode.Cancel : 0x100u + (uint)r.Next(5) },
                < 62 => new Step { Op = "consume", Side = side, Ch = r.Next(8), N = r.Next(0, 5000) },
                < 66 => new Step { Op = "consumeall", Side = side, Ch = r.Next(8) },
                < 67 => new Step { Op = "extend", Side = side, Ch = r.Next(8), N = r.Next(3) == 0 ? r.Next(1, 1000) : r.Next(1 << 16, 1 << 22) },
                < 69 => new Step { Op = "ping", Side = side, N = r.Next() },
                < 70 => new Step { Op = "goaway", Side = side, Code = (uint)r.Next(3) },
                < 74 => Step.Time(r.Next(0, 5000)),
                < 75 => new Step { Op = r.Next(2) == 0 ? "closeconn" : "lost", Side = side },
                < 78 => new Step { Op = "urgency", Side = side, Ch = r.Next(8), N = r.Next(8) },
                _ => new Step { Op = "pump" },
            };
            if (step.Op is "write" or "trywrite")
            {
                if (tiny && bytes + (step.N ?? 0) > 4000)
                {
                    step.N = 0; // every byte is a round trip: keep the total small
                }

                bytes += step.N ?? 0;
            }

            steps.Add(step);
        }

        steps.Add(new Step { Op = "settle" });
        int chunkMode = r.Next(ChunkModes.Count);
        if (chunkMode == ChunkModes.OneByte && bytes > 20_000)
        {
            chunkMode = ChunkModes.RandomSmall;
        }

        if (chunkMode == ChunkModes.RandomSmall && bytes > 100_000)
        {
            chunkMode = ChunkModes.RandomLarge;
        }

        return new FuzzCase { Kind = "pair", Origin = origin, Side = client, Peer = server, ChunkMode = chunkMode, ChunkSeed = r.Next(), Steps = steps };
    }

    private static int WriteLength(Random r, bool big) => r.Next(10) switch
    {
        0 => 0,
        1 => 1,
        < 6 => r.Next(2, 200),
        < 9 => r.Next(200, 5000),
        _ => big ? r.Next(5000, 300_000) : r.Next(5000, 70_000),
    };

    public static string? RandomLabel(Random r, bool faults) => r.Next(8) switch
    {
        0 => null,
        1 => string.Empty,
        2 => "web",
        3 => "ünï-cødé ✓",
        4 => new string('x', r.Next(2) == 0 ? 255 : 256),
        5 when faults => Pick(r, FuzzChannel.Labels),
        6 when faults => Pick(r, FuzzChannel.Labels),
        _ => "plain",
    };

    /// <summary>Label bytes for an open: a harness label, text, 255 bytes, or invalid UTF-8.</summary>
    public static byte[] LabelBytes(Random r)
    {
        if (r.Next(6) == 0)
        {
            var raw = new byte[r.Next(1, 20)];
            r.NextBytes(raw);
            return raw;
        }

        var bytes = System.Text.Encoding.UTF8.GetBytes(RandomLabel(r, faults: true) ?? string.Empty);
        return bytes.Length > 255 ? bytes.AsSpan(0, 255).ToArray() : bytes;
    }

    /// <summary>A random local action for one connection.</summary>
    public static Step RandomAct(Random r, bool faults)
    {
        int roll = r.Next(100);
        return roll switch
        {
            < 12 => new Step { Op = "create", Label = RandomLabel(r, faults) },
            < 30 => new Step { Op = "write", Ch = r.Next(8), N = WriteLength(r, big: false) },
            < 36 => new Step { Op = "trywrite", Ch = r.Next(8), N = WriteLength(r, big: false) },
            < 42 => new Step { Op = "complete", Ch = r.Next(8) },
            < 47 => new Step { Op = "close", Ch = r.Next(8) },
            < 51 => new Step { Op = "abort", Ch = r.Next(8), Code = Pick(r, InterestingU32) },
            < 58 => new Step { Op = "consume", Ch = r.Next(8), N = r.Next(3) == 0 ? r.Next(-2, 3) : r.Next(0, 100_000) },
            < 65 => new Step { Op = "consumeall", Ch = r.Next(8) },
            < 66 => new Step { Op = "extend", Ch = r.Next(8), N = r.Next(4) == 0 ? r.Next(-2, 1000) : r.Next(1 << 16, 1 << 24) },
            < 70 => new Step { Op = "ping", N = r.Next(3) == 0 ? 0 : r.Next() },
            < 74 => new Step { Op = "goaway", Code = Pick(r, InterestingU32) },
            < 77 => new Step { Op = "closeid", Ch = r.Next(8), N = r.Next(2) == 0 ? 0 : (int)Pick(r, InterestingU32) },
            < 79 => new Step { Op = "urgency", Ch = r.Next(8), N = r.Next(10) - 1 },
            < 90 => Step.Time(RandomMs(r)),
            < 94 => new Step { Op = "closeconn" },
            < 95 => new Step { Op = "establish" },
            _ => new Step { Op = "lost" },
        };
    }

    public static int RandomMs(Random r) => r.Next(10) switch
    {
        0 => -r.Next(1, 100_000),
        1 => 0,
        < 5 => r.Next(1, 2000),
        < 7 => r.Next(1000, 40_000),
        < 9 => r.Next(29_000, 31_000),
        _ => r.Next(89_000, 200_000),
    };

    // ---- frames --------------------------------------------------------------------------

    public static byte[] Short(byte version, FrameType type, uint value)
    {
        var b = new byte[FrameWriter.ShortFrameLength];
        b[0] = version;
        b[1] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(2), value);
        return b;
    }

    public static byte[] Long(byte version, FrameType type, uint value, uint argument)
    {
        var b = new byte[FrameWriter.LongFrameLength];
        FrameWriterLong(b, version, type, value, argument);
        return b;
    }

    private static void FrameWriterLong(Span<byte> b, byte version, FrameType type, uint value, uint argument)
    {
        b[0] = version;
        b[1] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(b.Slice(2), value);
        BinaryPrimitives.WriteUInt32BigEndian(b.Slice(6), argument);
    }

    public static byte[] Payload(byte version, uint id, ReadOnlySpan<byte> payload)
    {
        var b = new byte[FrameWriter.PayloadHeaderLength + payload.Length];
        FrameWriter.WriteChannelPayload(b, version, id, payload);
        return b;
    }

    public static byte[] Open(byte version, uint id, ReadOnlySpan<byte> label)
    {
        var b = new byte[FrameWriter.OpenFrameLength(label.Length)];
        FrameWriter.WriteOpenChannel(b, version, id, label);
        return b;
    }

    public static byte[] SettingsFrame(byte version, params (byte Id, uint Value)[] entries)
    {
        var list = entries.Select(e => new KeyValuePair<byte, uint>(e.Id, e.Value)).ToArray();
        var b = new byte[FrameWriter.SettingsFrameLength(list.Length)];
        FrameWriter.WriteSettings(b, version, list);
        return b;
    }

    public static byte[] PingFrame(byte version, bool ack, ulong opaque)
    {
        var b = new byte[FrameWriter.PingFrameLength];
        FrameWriter.WritePing(b, version, ack, opaque);
        return b;
    }

    /// <summary>A frame of any op, shaped right, with fields from interesting values and the ids of <paramref name="ids"/>.</summary>
    public static byte[] RandomFrame(Random r, byte version, IReadOnlyList<uint> ids)
    {
        uint Id() => ids.Count > 0 && r.Next(3) != 0 ? Pick(r, ids) : Pick(r, InterestingU32);
        int op = r.Next(12) == 0 ? r.Next(256) : r.Next(1, 11);
        switch (op)
        {
            case 1 or 2:
                return Short(version, (FrameType)op, r.Next(4) == 0 ? Pick(r, InterestingU32) : ConnectionOptions.DefaultHandshakeMagic);
            case 3:
                return version == 0 ? Short(0, FrameType.CreateChannel, Id()) : Open(version, Id(), LabelBytes(r));
            case 4:
                return Short(version, FrameType.CloseChannel, Id());
            case 5:
                int n = r.Next(6) switch { 0 => 0, < 4 => r.Next(1, 64), 4 => r.Next(64, 5000), _ => r.Next(1000, 65_536) };
                var payload = new byte[n];
                r.NextBytes(payload);
                return Payload(version, Id(), payload);
            case 6:
                return Long(version, FrameType.WindowUpdate, r.Next(3) == 0 ? 0 : Id(), Pick(r, InterestingU32));
            case 7:
                return Long(version, FrameType.ResetChannel, Id(), Pick(r, InterestingU32));
            case 8:
                int count = r.Next(5);
                var entries = new (byte, uint)[count];
                for (int i = 0; i < count; i++)
                {
                    entries[i] = ((byte)(r.Next(8) == 0 ? r.Next(256) : r.Next(1, 5)), Pick(r, InterestingU32));
                }

                return SettingsFrame(version, entries);
            case 9:
                return PingFrame(version, r.Next(2) == 0, r.Next(3) == 0 ? 0x7463_0000_0000_0001UL : (ulong)r.NextInt64());
            case 10:
                return Long(version, FrameType.GoAway, Id(), Pick(r, InterestingU32));
            default:
                var junk = new byte[r.Next(2, 12)];
                r.NextBytes(junk);
                junk[0] = version;
                junk[1] = (byte)op;
                return junk;
        }
    }

    /// <summary>The frames a peer of <paramref name="config"/> sends first, so that random input lands in an established connection (none on yamux: no handshake).</summary>
    public static List<byte[]> HandshakePrefix(SideConfig config, byte version)
    {
        if (config.Yamux)
        {
            return [];
        }

        var frames = new List<byte[]>
        {
            Short(version, config.Client ? FrameType.HandshakeReply : FrameType.HandshakeRequest, config.Magic),
        };
        if (Math.Min(version, config.MaxVersion) >= 1)
        {
            frames.Add(SettingsFrame(1, (1, 65_536), (2, 16_384), (3, 100), (4, 1 << 20)));
        }

        return frames;
    }

    // ---- golden seeds ------------------------------------------------------------------------

    /// <summary>The golden version-0 frames (Fuzz/Vectors/tcpchan-v0.txt), the truncated long one rebuilt.</summary>
    public static List<(string Name, byte[] Bytes)> GoldenFrames()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("tcpchan-v0.txt")
            ?? throw new InvalidOperationException("The golden vectors are not embedded.");
        using var reader = new StreamReader(stream);
        var list = new List<(string, byte[])>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var parts = line.Split('\t');
            var bytes = Convert.FromHexString(parts[2]);
            if (parts[1].Contains("first 12 bytes shown", StringComparison.Ordinal))
            {
                // "65535 bytes of 0x41": rebuild the whole frame from its header.
                int length = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(6));
                var whole = new byte[8 + length];
                bytes.AsSpan(0, 8).CopyTo(whole);
                whole.AsSpan(8).Fill(0x41);
                bytes = whole;
            }

            list.Add((parts[0], bytes));
        }

        return list;
    }

    /// <summary>
    /// Conversations made of golden frames (and the version-1 examples of PROTOCOL.md), for both
    /// roles and versions; and of Go's yamux frames (<see cref="YamuxFrames.GoldenSeeds"/>).
    /// </summary>
    public static List<FuzzCase> GoldenSeeds()
    {
        var golden = GoldenFrames();
        var seeds = new List<FuzzCase>();
        byte[] Find(string name, int nth = 0) => golden.Where(g => g.Name == name).ElementAt(nth).Bytes;
        var channelFrames = golden.Where(g => g.Name is "create_channel" or "close_channel" or "channel_payload").Select(g => g.Bytes).ToList();
        foreach (bool client in new[] { false, true })
        {
            foreach (int maxVersion in new[] { 0, 1 })
            {
                var config = new SideConfig { Client = client, MaxVersion = maxVersion, Window = 4096, Budget = 70_000, Consume = "mixed" };
                var hello = client ? Find("handshake_reply") : Find("handshake_request");
                seeds.Add(Seed(config, "golden v0 conversation", [hello, .. channelFrames]));
                seeds.Add(Seed(config, "golden v0 second handshake", [hello, Find("create_channel"), hello]));
                seeds.Add(Seed(config, "golden v0 foreign magic", [Find("handshake_request", 1), .. channelFrames]));
                foreach (var frame in channelFrames)
                {
                    seeds.Add(Seed(config, "golden v0 one frame", [hello, frame]));
                }

                // Version 1, from PROTOCOL.md's examples.
                var v1Hello = Short(1, client ? FrameType.HandshakeReply : FrameType.HandshakeRequest, ConnectionOptions.DefaultHandshakeMagic);
                uint peerId = client ? 2u : 1u;
                seeds.Add(Seed(config, "v1 examples", [
                    v1Hello,
                    SettingsFrame(1, (1, 4096), (2, 1024), (3, 4), (4, 8192)),
                    Open(1, peerId, "web"u8),
                    Payload(1, peerId, "hello"u8),
                    Long(1, FrameType.WindowUpdate, 0, 65_536),
                    Long(1, FrameType.WindowUpdate, peerId, 100),
                    PingFrame(1, false, 42),
                    Short(1, FrameType.CloseChannel, peerId),
                    Open(1, peerId + 2, ""u8),
                    Long(1, FrameType.ResetChannel, peerId + 2, 8),
                    Long(1, FrameType.GoAway, 5, 0),
                ]));
            }
        }

        seeds.AddRange(YamuxFrames.GoldenSeeds());
        return seeds;
    }

    private static FuzzCase Seed(SideConfig config, string origin, List<byte[]> frames) => new()
    {
        Origin = origin,
        Side = config.Clone(),
        Steps = frames.Select(f => Step.Feed(f)).ToList(),
    };
}
