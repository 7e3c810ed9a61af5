using System.Buffers.Binary;
using System.Globalization;
using System.Reflection;
using TcpChan.Core.Yamux;

namespace TcpChan.Fuzz;

/// <summary>
/// Yamux for the fuzzer: random frames shaped by the header's layout, frame-aware field
/// mutations (version, type, flags, stream id and its parity, length: payload, window delta,
/// ping value, go-away code), the golden frames Go wrote as seeds, and the frame boundaries of
/// a byte stream. Frames are built with the core's own codec (Core/Yamux).
/// </summary>
public static class YamuxFrames
{
    private const int Header = YamuxProtocol.HeaderLength;

    /// <summary>Windows and deltas around the edges yamux has: its 256 KiB, and a u32's end.</summary>
    private static readonly uint[] s_lengths =
    [
        0, 1, 2, 12, 1023, 65_535, 65_536, YamuxProtocol.InitialStreamWindow - 1, YamuxProtocol.InitialStreamWindow,
        YamuxProtocol.InitialStreamWindow + 1, 786_432, 0x7FFF_FFFF, 0x8000_0000, uint.MaxValue - YamuxProtocol.InitialStreamWindow,
        uint.MaxValue - YamuxProtocol.InitialStreamWindow + 1, uint.MaxValue - 1, uint.MaxValue,
    ];

    private static readonly ushort[] s_flags = [0, 1, 2, 4, 8, 3, 5, 9, 6, 10, 12, 15, 0x10, 0x8000, 0xFFFF, 0xFFF0];

    internal static byte[] Frame(YamuxFrameType type, YamuxFlags flags, uint id, uint length)
    {
        var b = new byte[Header];
        YamuxFrameWriter.WriteHeader(b, type, flags, id, length);
        return b;
    }

    internal static byte[] Data(YamuxFlags flags, uint id, ReadOnlySpan<byte> payload)
    {
        var b = new byte[Header + payload.Length];
        YamuxFrameWriter.WriteData(b, flags, id, payload);
        return b;
    }

    /// <summary>The length of the yamux frame at the start of <paramref name="data"/>, or all of it when it is no whole frame.</summary>
    public static int FrameLength(ReadOnlySpan<byte> data) =>
        YamuxFrameHeader.TryRead(data, out var header) == YamuxReadStatus.Complete
            ? (int)Math.Min(data.Length, header.FrameLength)
            : data.Length;

    /// <summary>A frame of any type, shaped right or nearly, with ids from <paramref name="ids"/> and interesting values.</summary>
    public static byte[] RandomFrame(Random r, IReadOnlyList<uint> ids)
    {
        uint Id() => r.Next(4) switch
        {
            0 => Generators.Pick(r, Generators.InterestingU32),
            1 when ids.Count > 0 => Generators.Pick(r, ids) ^ 1, // the other side's parity
            _ when ids.Count > 0 => Generators.Pick(r, ids),
            _ => (uint)r.Next(1, 12),
        };
        var flags = (YamuxFlags)(r.Next(5) == 0 ? Generators.Pick(r, s_flags) : 1 << r.Next(4));
        byte[] frame;
        switch (r.Next(12))
        {
            case < 4:
                int n = r.Next(6) switch { 0 => 0, < 3 => r.Next(1, 64), 3 => r.Next(64, 5000), 4 => r.Next(5000, 70_000), _ => r.Next(200_000, 262_145) };
                var payload = new byte[n];
                r.NextBytes(payload);
                frame = Data(r.Next(3) == 0 ? YamuxFlags.None : flags, Id(), payload);
                break;
            case < 8:
                frame = Frame(YamuxFrameType.WindowUpdate, flags, Id(), r.Next(3) == 0 ? 0 : Generators.Pick(r, s_lengths));
                break;
            case < 10:
                frame = Frame(YamuxFrameType.Ping, r.Next(2) == 0 ? YamuxFlags.Syn : r.Next(2) == 0 ? YamuxFlags.Ack : flags, r.Next(4) == 0 ? Id() : 0, r.Next(3) == 0 ? 0x7463_0001u : (uint)r.Next());
                break;
            case 10:
                frame = Frame(YamuxFrameType.GoAway, r.Next(4) == 0 ? flags : YamuxFlags.None, r.Next(4) == 0 ? Id() : 0, (uint)(r.Next(4) == 0 ? r.Next() : r.Next(4)));
                break;
            default:
                // A data header whose payload does not follow (or a type that is none), cut or whole.
                frame = Frame((YamuxFrameType)(r.Next(3) == 0 ? r.Next(4, 256) : 0), flags, Id(), Generators.Pick(r, s_lengths));
                if (r.Next(2) == 0)
                {
                    frame = frame.AsSpan(0, r.Next(1, Header)).ToArray();
                }

                break;
        }

        if (r.Next(25) == 0)
        {
            frame[0] = (byte)r.Next(1, 256); // a version that does not exist
        }

        return frame;
    }

    /// <summary>Changes one field of a yamux frame, knowing its layout.</summary>
    public static byte[] MutateField(byte[] frame, Structured s, Random r, out string what)
    {
        if (frame.Length < Header)
        {
            what = "yamux-field-short";
            return [.. frame, .. Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0).AsSpan(frame.Length)];
        }

        var b = frame.ToArray();
        switch (r.Next(8))
        {
            case 0:
                what = "yamux-field-version";
                b[0] = Generators.Pick(r, new byte[] { 0, 1, 2, 0x7F, 0xFF });
                return b;
            case 1:
                what = "yamux-field-type";
                b[1] = (byte)(r.Next(3) == 0 ? r.Next(256) : r.Next(0, 5));
                return b;
            case 2 or 3:
                what = "yamux-field-flags";
                ushort flags = BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(2));
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), r.Next(2) == 0 ? (ushort)(flags ^ (1 << r.Next(r.Next(4) == 0 ? 16 : 4))) : Generators.Pick(r, s_flags));
                return b;
            case 4 or 5:
            {
                what = "yamux-field-id";
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), Mutator.NewId(r, BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4)), 2, Ids(s)));
                return b;
            }

            default:
            {
                uint old = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(8));
                uint length = r.Next(6) switch
                {
                    0 => old + 1,
                    1 => old - 1,
                    2 => (uint)(s.Config.EffectiveWindow + r.Next(-1, 2)),
                    _ => Generators.Pick(r, s_lengths),
                };
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(8), length);
                if (b[1] == (byte)YamuxFrameType.Data && length <= 300_000 && r.Next(2) == 0)
                {
                    // Keep the data frame whole at its new length.
                    var resized = new byte[Header + length];
                    b.AsSpan(0, Math.Min(b.Length, resized.Length)).CopyTo(resized);
                    what = "yamux-field-length-resized";
                    return resized;
                }

                what = "yamux-field-length";
                return b;
            }
        }
    }

    /// <summary>Stream ids the input's data and window update frames name, for id mutations.</summary>
    public static List<uint> Ids(Structured s) =>
        Mutator.Ids(s, b => b.Length >= Header && b[1] <= (byte)YamuxFrameType.WindowUpdate ? BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4)) : null);

    /// <summary>The frames Go wrote (Fuzz/Vectors/yamux-go.txt, a copy of Tests/Vectors/yamux-go.txt), long data rebuilt whole, with their sender.</summary>
    public static List<(string Name, string Sender, byte[] Bytes)> GoldenFrames()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("yamux-go.txt")
            ?? throw new InvalidOperationException("The yamux golden frames are not embedded.");
        using var reader = new StreamReader(stream);
        var list = new List<(string, string, byte[])>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var parts = line.Split('\t');
            var shown = Convert.FromHexString(parts[2]);
            var fields = parts[1].Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
            var bytes = shown;
            if (fields.TryGetValue("payload", out string? repeated))
            {
                // "196608x61": the count and the one byte repeated.
                var count = repeated.Split('x');
                bytes = new byte[Header + int.Parse(count[0], CultureInfo.InvariantCulture)];
                shown.AsSpan(0, Header).CopyTo(bytes);
                bytes.AsSpan(Header).Fill(byte.Parse(count[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }

            list.Add((parts[0], fields["sender"], bytes));
        }

        return list;
    }

    /// <summary>Conversations of Go's frames for a yamux server and a yamux client of ours: what the other side of Go's script sent, and bits of it.</summary>
    public static List<FuzzCase> GoldenSeeds()
    {
        var golden = GoldenFrames();
        var seeds = new List<FuzzCase>();
        foreach (bool client in new[] { false, true })
        {
            // What Go's peer of our role sent: the client's frames to our server, the server's to our client.
            var frames = golden.Where(g => g.Sender == (client ? "server" : "client")).Select(g => g.Bytes).ToList();
            var config = new SideConfig { Client = client, Yamux = true, Window = 256 * 1024, Budget = 1 << 20, Consume = "mixed" };
            seeds.Add(Seed(config, "yamux golden conversation", frames));
            foreach (var frame in frames)
            {
                seeds.Add(Seed(config, "yamux golden one frame", [Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, client ? 2u : 1u, 0), frame]));
            }
        }

        return seeds;
    }

    private static FuzzCase Seed(SideConfig config, string origin, List<byte[]> frames) => new()
    {
        Origin = origin,
        Side = config.Clone(),
        Steps = frames.Select(f => Step.Feed(f)).ToList(),
    };
}
