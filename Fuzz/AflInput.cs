using System.Buffers.Binary;
using System.Text;

namespace TcpChan.Fuzz;

/// <summary>
/// The byte form of a <see cref="FuzzCase"/> that AFL++ mutates (the --afl harness): any bytes
/// decode to a case, and a case of the generator encodes to bytes that decode to the same
/// case. Layout (integers little-endian, "varint" is LEB128):
/// <code>
/// kind     1 byte: bit 0 set = pair
/// side     config (41 bytes); pair: the client
/// pair:    peer config (41 bytes), chunk mode (1 byte), chunk seed (int32)
/// steps    to the end: op byte (index into <see cref="Ops"/>, modulo; bit 7 = the server in a pair), then its fields:
///          feed: varint length, bytes | time: int32 ms | create: varint (0 = no label, else UTF-8 length + 1), bytes
///          write, trywrite, consume, closeid, extend: uint16 ch, int32 n | complete, close, consumeall: uint16 ch
///          abort: uint16 ch, uint32 code | ping: int32 n | goaway: uint32 code | the rest: nothing
/// config   flags (bit 0 client, bit 1 version 1, bit 2 auto-tune, bit 3 faults, bits 4-5 consume, bit 6 yamux, bit 7 unused),
///          int32 magic, budget, window, max channel window, max frame, max channels,
///          keepalive interval (-1 = none), keepalive timeout, handshake timeout (-1 = none), random seed
/// </code>
/// A fixed layout per op keeps a mutated field from shifting the rest. The decoder bounds writes
/// as the generator does (<see cref="BoundWrites"/>), and in a pair it keeps what
/// <see cref="Generators.RandomPair"/> guarantees (one protocol, one magic, two id sequences, long keepalive,
/// short time steps and under a minute of clock, at most <see cref="MaxPairSteps"/> steps), so that a failure there is a core failure, not a
/// conversation that cannot work.
/// </summary>
public static class AflInput
{
    /// <summary>Op codes: the index is the byte.</summary>
    public static readonly string[] Ops =
    [
        "feed", "time", "create", "write", "trywrite", "complete", "close", "abort", "consume", "consumeall",
        "ping", "goaway", "closeid", "closeconn", "lost", "establish", "pump", "settle", "urgency", "extend",
    ];

    public const int ConfigLength = 49;
    public const int MaxPairSteps = 100;
    public const int MaxPairClockMs = 50_000;
    public const int MaxWrite = 300_000;
    public const long MaxWrittenBytes = 4 << 20;
    private static readonly string[] s_consume = ["auto", "manual", "mixed", "auto"];

    public static byte[] Encode(FuzzCase fuzzCase)
    {
        var output = new List<byte>();
        bool pair = fuzzCase.Kind == "pair";
        output.Add(pair ? (byte)1 : (byte)0);
        EncodeConfig(output, fuzzCase.Side);
        if (pair)
        {
            EncodeConfig(output, fuzzCase.Peer ?? new SideConfig());
            output.Add((byte)fuzzCase.ChunkMode);
            Int32(output, fuzzCase.ChunkSeed);
        }

        foreach (var step in fuzzCase.Steps)
        {
            int op = Array.IndexOf(Ops, step.Op);
            if (op < 0)
            {
                throw new ArgumentException($"Op {step.Op} has no byte form.", nameof(fuzzCase));
            }

            output.Add((byte)(op | (pair && step.Side == 1 ? 0x80 : 0)));
            switch (step.Op)
            {
                case "feed":
                    Varint(output, (uint)step.Bytes.Length);
                    output.AddRange(step.Bytes);
                    break;
                case "time":
                    Int32(output, step.Ms ?? 0);
                    break;
                case "create":
                    var label = step.Label is null ? null : Encoding.UTF8.GetBytes(step.Label);
                    Varint(output, label is null ? 0 : (uint)label.Length + 1);
                    output.AddRange(label ?? []);
                    break;
                case "write" or "trywrite" or "consume" or "closeid" or "urgency" or "extend":
                    UInt16(output, step.Ch ?? 0);
                    Int32(output, step.N ?? 0);
                    break;
                case "complete" or "close" or "consumeall":
                    UInt16(output, step.Ch ?? 0);
                    break;
                case "abort":
                    UInt16(output, step.Ch ?? 0);
                    Int32(output, (int)(step.Code ?? (uint)TcpChan.Core.ErrorCode.Cancel));
                    break;
                case "ping":
                    Int32(output, step.N ?? 0);
                    break;
                case "goaway":
                    Int32(output, (int)(step.Code ?? 0));
                    break;
            }
        }

        return output.ToArray();
    }

    /// <summary>The case these bytes stand for; never throws.</summary>
    public static FuzzCase Decode(ReadOnlySpan<byte> input, string origin = "afl")
    {
        var reader = new Reader(input);
        bool pair = (reader.Byte() & 1) == 1;
        var fuzzCase = new FuzzCase { Kind = pair ? "pair" : "single", Origin = origin, Side = DecodeConfig(ref reader) };
        if (pair)
        {
            fuzzCase.Peer = DecodeConfig(ref reader);
            fuzzCase.ChunkMode = reader.Byte() % ChunkModes.Count;
            fuzzCase.ChunkSeed = reader.Int32();
        }

        while (!reader.AtEnd)
        {
            byte code = reader.Byte();
            string op = Ops[(code & 0x7F) % Ops.Length];
            var step = new Step { Op = op };
            if (pair && op is not ("feed" or "time" or "pump" or "settle"))
            {
                step.Side = code >> 7;
            }

            switch (op)
            {
                case "feed":
                    step = Step.Feed(reader.Bytes(reader.Varint()));
                    break;
                case "time":
                    step.Ms = reader.Int32();
                    break;
                case "create":
                    uint length = reader.Varint();
                    step.Label = length == 0 ? null : Encoding.UTF8.GetString(reader.Bytes(length - 1));
                    break;
                case "write" or "trywrite" or "consume" or "closeid" or "urgency" or "extend":
                    step.Ch = reader.UInt16();
                    step.N = reader.Int32();
                    break;
                case "complete" or "close" or "consumeall":
                    step.Ch = reader.UInt16();
                    break;
                case "abort":
                    step.Ch = reader.UInt16();
                    step.Code = (uint)reader.Int32();
                    break;
                case "ping":
                    step.N = reader.Int32();
                    break;
                case "goaway":
                    step.Code = (uint)reader.Int32();
                    break;
            }

            fuzzCase.Steps.Add(step);
        }

        if (pair)
        {
            KeepPairValid(fuzzCase);
        }
        else
        {
            BoundWrites(fuzzCase, tiny: false);
        }

        return fuzzCase;
    }

    /// <summary>What <see cref="Generators.RandomPair"/> guarantees, so that a valid conversation stays one.</summary>
    private static void KeepPairValid(FuzzCase pair)
    {
        var client = pair.Side;
        var server = pair.Peer!;
        client.Client = true;
        server.Client = false;
        server.Magic = client.Magic;
        server.Yamux = client.Yamux;

        // Version 0: both sides pick random ids from one space; the same Random sequence on both
        // makes two channels created at once collide for sure (ChannelIdInUse), as the protocol says.
        if (EffectiveSeed(server.RandomSeed) == EffectiveSeed(client.RandomSeed))
        {
            server.RandomSeed = EffectiveSeed(client.RandomSeed) == int.MaxValue ? 0 : EffectiveSeed(client.RandomSeed) + 1;
        }

        foreach (var c in new[] { client, server })
        {
            c.KeepAliveTimeoutMs = Math.Max(c.KeepAliveTimeoutMs, 60_000);
            c.KeepAliveIntervalMs = c.KeepAliveIntervalMs is null ? null : Math.Max(c.KeepAliveIntervalMs.Value, 10_000);
            c.HandshakeTimeoutMs = null;
        }

        if (pair.Steps.Count > MaxPairSteps)
        {
            pair.Steps.RemoveRange(MaxPairSteps, pair.Steps.Count - MaxPairSteps);
        }

        // A pair's input comes from the other side: a feed there does nothing, so none is kept.
        pair.Steps.RemoveAll(s => s.Op == "feed");
        // Short time steps, and less than the shortest keepalive timeout in all: a pair is pumped
        // only at its pump steps, so a minute of clock without one is a minute of silence.
        long clock = 0;
        foreach (var step in pair.Steps.Where(s => s.Op == "time"))
        {
            int ms = Math.Clamp(step.Ms ?? 0, 0, 5000);
            step.Ms = clock + ms > MaxPairClockMs ? 0 : ms;
            clock += step.Ms.Value;
        }

        long bytes = BoundWrites(pair, tiny: Math.Min(client.Window, server.Window) < 1024);
        if (pair.ChunkMode == ChunkModes.OneByte && bytes > 20_000)
        {
            pair.ChunkMode = ChunkModes.RandomSmall;
        }

        if (pair.ChunkMode == ChunkModes.RandomSmall && bytes > 100_000)
        {
            pair.ChunkMode = ChunkModes.RandomLarge;
        }
    }

    /// <summary>
    /// Writes of at most <see cref="MaxWrite"/> bytes (the generator's largest), at most
    /// <see cref="MaxWrittenBytes"/> in all (4,000 over a tiny window, as the generator does: every
    /// byte is a round trip there): the harness makes each write's bytes, so an unbounded length
    /// would time the harness, not the core. Returns the bytes written.
    /// </summary>
    private static long BoundWrites(FuzzCase fuzzCase, bool tiny)
    {
        long bytes = 0;
        foreach (var step in fuzzCase.Steps.Where(s => s.Op is "write" or "trywrite"))
        {
            int n = Math.Clamp(step.N ?? 0, 0, MaxWrite);
            if ((tiny && bytes + n > 4000) || bytes + n > MaxWrittenBytes)
            {
                n = 0;
            }

            step.N = n;
            bytes += n;
        }

        return bytes;
    }

    private static void EncodeConfig(List<byte> output, SideConfig c)
    {
        int consume = Math.Max(0, Array.IndexOf(s_consume, c.Consume));
        output.Add((byte)((c.Client ? 1 : 0) | (c.MaxVersion >= 1 ? 2 : 0) | (c.AutoTune ? 4 : 0) | (c.Faults ? 8 : 0) | (consume << 4) | (c.Yamux ? 0x40 : 0)));
        Int32(output, (int)c.Magic);
        Int32(output, c.Budget);
        Int32(output, c.Window);
        Int32(output, c.MaxChannelWindow);
        Int32(output, c.MaxFrame);
        Int32(output, c.MaxChannels);
        Int32(output, c.KeepAliveIntervalMs ?? -1);
        Int32(output, c.KeepAliveTimeoutMs);
        Int32(output, c.HandshakeTimeoutMs ?? -1);
        Int32(output, c.RandomSeed);
        Int32(output, c.PullBudget);
        Int32(output, c.SendQuantum);
    }

    private static SideConfig DecodeConfig(ref Reader reader)
    {
        byte flags = reader.Byte();
        return new SideConfig
        {
            Client = (flags & 1) != 0,
            MaxVersion = (flags & 2) != 0 ? 1 : 0,
            AutoTune = (flags & 4) != 0,
            Faults = (flags & 8) != 0,
            Consume = s_consume[(flags >> 4) & 3],
            // (Bits 6 and 7 chose ConnectionOptions.EventCallback's mode, which the core no longer has; bit 6 is yamux now.)
            Yamux = (flags & 0x40) != 0,
            Magic = (uint)reader.Int32(),
            Budget = reader.Int32(),
            Window = reader.Int32(),
            MaxChannelWindow = reader.Int32(),
            MaxFrame = reader.Int32(),
            MaxChannels = reader.Int32(),
            KeepAliveIntervalMs = Duration(reader.Int32()),
            KeepAliveTimeoutMs = reader.Int32(),
            HandshakeTimeoutMs = Duration(reader.Int32()),
            RandomSeed = reader.Int32(),
            PullBudget = Math.Max(0, reader.Int32() % (1 << 20)),
            SendQuantum = reader.Int32(),
        };
    }

    // What new Random(seed) starts from: -s and s give the same sequence, and so do int.MinValue and int.MaxValue.
    private static int EffectiveSeed(int seed) => seed == int.MinValue ? int.MaxValue : Math.Abs(seed);

    // -1 is "none"; any other negative value is made positive (ConnectionOptions takes no negative span).
    private static int? Duration(int ms) => ms == -1 ? null : ms & 0x7FFF_FFFF;

    private static void Int32(List<byte> output, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, value);
        output.AddRange(b);
    }

    private static void UInt16(List<byte> output, int value)
    {
        output.Add((byte)value);
        output.Add((byte)(value >> 8));
    }

    private static void Varint(List<byte> output, uint value)
    {
        while (value >= 0x80)
        {
            output.Add((byte)(value | 0x80));
            value >>= 7;
        }

        output.Add((byte)value);
    }

    /// <summary>Reads past the end as zeros, so that every input decodes.</summary>
    private ref struct Reader
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _at;

        public Reader(ReadOnlySpan<byte> data)
        {
            _data = data;
            _at = 0;
        }

        public readonly bool AtEnd => _at >= _data.Length;

        public byte Byte() => _at < _data.Length ? _data[_at++] : (byte)0;

        public int UInt16() => Byte() | (Byte() << 8);

        public int Int32() => Byte() | (Byte() << 8) | (Byte() << 16) | (Byte() << 24);

        public uint Varint()
        {
            uint value = 0;
            for (int shift = 0; shift < 35; shift += 7)
            {
                byte b = Byte();
                value |= (uint)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    break;
                }
            }

            return value;
        }

        public ReadOnlySpan<byte> Bytes(uint length)
        {
            int n = (int)Math.Min(length, (uint)(_data.Length - Math.Min(_at, _data.Length)));
            var bytes = _data.Slice(_at, n);
            _at += n;
            return bytes;
        }
    }
}
