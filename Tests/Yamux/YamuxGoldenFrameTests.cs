using System.Globalization;
using System.Text.RegularExpressions;
using TcpChan.Core.Yamux;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.Yamux;

/// <summary>One line of Vectors/yamux-go.txt: a frame as Go's hashicorp/yamux wrote it, rebuilt whole.</summary>
public sealed class YamuxGoldenFrame
{
    public required string Name { get; init; }

    public required string Sender { get; init; }

    public required byte Type { get; init; }

    public required ushort Flags { get; init; }

    public required uint StreamId { get; init; }

    public required uint Length { get; init; }

    public required byte[] Payload { get; init; }

    /// <summary>The hex as the file shows it (only the start of a long data frame).</summary>
    public required byte[] ShownBytes { get; init; }

    /// <summary>The whole frame on the wire.</summary>
    public required byte[] Bytes { get; init; }
}

public static partial class YamuxGoldenVectors
{
    public const string FileName = "yamux-go.txt";

    private static readonly Lazy<IReadOnlyList<YamuxGoldenFrame>> s_all = new(() => Parse(File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Vectors", FileName))));

    public static IReadOnlyList<YamuxGoldenFrame> All => s_all.Value;

    public static YamuxGoldenFrame Get(string name) => All.Single(f => f.Name == name);

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var frame in All)
        {
            data.Add(frame.Name);
        }

        return data;
    }

    public static IReadOnlyList<YamuxGoldenFrame> Parse(IEnumerable<string> lines)
    {
        var frames = new List<YamuxGoldenFrame>();
        foreach (string line in lines)
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            string[] cols = line.Split('\t');
            if (cols.Length != 3)
            {
                throw new FormatException($"Expected 3 tab-separated columns: {line}");
            }

            frames.Add(ParseLine(cols[0], cols[1], Convert.FromHexString(cols[2])));
        }

        return frames;
    }

    private static YamuxGoldenFrame ParseLine(string name, string fields, byte[] shown)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string field in fields.Split(' '))
        {
            int eq = field.IndexOf('=', StringComparison.Ordinal);
            values[field[..eq]] = field[(eq + 1)..];
        }

        byte type = values["type"] switch
        {
            "Data" => 0,
            "WindowUpdate" => 1,
            "Ping" => 2,
            "GoAway" => 3,
            var other => throw new FormatException($"Unknown type {other}"),
        };
        ushort flags = 0;
        if (values["flags"] != "0")
        {
            foreach (string flag in values["flags"].Split('|'))
            {
                flags |= flag switch
                {
                    "SYN" => 1,
                    "ACK" => 2,
                    "FIN" => 4,
                    "RST" => 8,
                    _ => throw new FormatException($"Unknown flag {flag}"),
                };
            }
        }

        uint length = uint.Parse(values["length"], CultureInfo.InvariantCulture);
        byte[] payload = type == 0 ? shown[12..] : [];
        if (values.TryGetValue("payload", out string? repeated))
        {
            var match = RepeatedPayload().Match(repeated);
            payload = new byte[int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)];
            Array.Fill(payload, byte.Parse(match.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        }

        return new YamuxGoldenFrame
        {
            Name = name,
            Sender = values["sender"],
            Type = type,
            Flags = flags,
            StreamId = uint.Parse(values["stream"], CultureInfo.InvariantCulture),
            Length = length,
            Payload = payload,
            ShownBytes = shown,
            Bytes = Wire.Concat(shown[..12], payload),
        };
    }

    [GeneratedRegex(@"^(\d+)x([0-9a-f]{2})$")]
    private static partial Regex RepeatedPayload();
}

/// <summary>
/// The codec against the bytes Go's yamux wrote (Vectors/yamux-go.txt, made by
/// Interop/yamux/main.go -scenario golden; <see cref="Interop.GoYamuxBehaviourTests"/> checks the file
/// is still what Go writes).
/// </summary>
public class YamuxGoldenFrameTests
{
    [Fact]
    public void The_file_has_every_type_flag_and_go_away_code_Go_sends()
    {
        var all = YamuxGoldenVectors.All;
        Assert.Equal(21, all.Count);
        for (byte type = 0; type <= 3; type++)
        {
            Assert.Contains(all, f => f.Type == type);
        }

        foreach (ushort flag in new ushort[] { 1, 2, 4, 8 })
        {
            Assert.Contains(all, f => f.Flags == flag);
        }

        Assert.Contains(all, f => f.Type == 3 && f.Length == 0);
        Assert.Contains(all, f => f.Type == 3 && f.Length == 1);
        Assert.Contains(all, f => f.Sender == "client" && f.Type == 1 && f.Flags == 1 && f.StreamId % 2 == 1);
        Assert.Contains(all, f => f.Sender == "server" && f.Type == 1 && f.Flags == 1 && f.StreamId % 2 == 0);

        // The long data line is rebuilt whole, and the file shows its start.
        var big = YamuxGoldenVectors.Get("data_192k");
        Assert.Equal(12 + (192 * 1024), big.Bytes.Length);
        Assert.Equal(big.ShownBytes, big.Bytes[..big.ShownBytes.Length]);
    }

    [Theory]
    [MemberData(nameof(YamuxGoldenVectors.Names), MemberType = typeof(YamuxGoldenVectors))]
    public void Decodes_the_frame_Go_wrote(string name)
    {
        var golden = YamuxGoldenVectors.Get(name);

        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(golden.Bytes, out var header));
        Assert.Equal(YamuxProtocol.Version, header.Version);
        Assert.Equal((YamuxFrameType)golden.Type, header.Type);
        Assert.Equal((YamuxFlags)golden.Flags, header.Flags);
        Assert.Equal(golden.StreamId, header.StreamId);
        Assert.Equal(golden.Length, header.Length);
        Assert.Equal(golden.Bytes.Length, header.FrameLength);
        Assert.Equal((uint)golden.Payload.Length, header.PayloadLength);
    }

    [Theory]
    [MemberData(nameof(YamuxGoldenVectors.Names), MemberType = typeof(YamuxGoldenVectors))]
    public void Encodes_the_same_bytes_as_Go(string name)
    {
        var golden = YamuxGoldenVectors.Get(name);
        var buffer = new byte[golden.Bytes.Length];
        var flags = (YamuxFlags)golden.Flags;
        int length = (YamuxFrameType)golden.Type switch
        {
            YamuxFrameType.Data => YamuxFrameWriter.WriteData(buffer, flags, golden.StreamId, golden.Payload),
            YamuxFrameType.WindowUpdate => YamuxFrameWriter.WriteWindowUpdate(buffer, flags, golden.StreamId, golden.Length),
            YamuxFrameType.Ping => YamuxFrameWriter.WritePing(buffer, ack: flags == YamuxFlags.Ack, golden.Length),
            YamuxFrameType.GoAway => YamuxFrameWriter.WriteGoAway(buffer, (YamuxGoAwayCode)golden.Length),
            _ => throw new InvalidOperationException(),
        };

        Assert.Equal(golden.Bytes.Length, length);
        Assert.Equal(Wire.ToHex(golden.ShownBytes), Wire.ToHex(buffer.AsSpan(0, golden.ShownBytes.Length)));
        Assert.True(golden.Bytes.AsSpan().SequenceEqual(buffer));
    }

    [Theory]
    [MemberData(nameof(YamuxGoldenVectors.Names), MemberType = typeof(YamuxGoldenVectors))]
    public void The_frame_cut_at_every_header_byte_needs_more_data(string name)
    {
        var golden = YamuxGoldenVectors.Get(name);
        for (int cut = 0; cut < YamuxProtocol.HeaderLength; cut++)
        {
            Assert.Equal(YamuxReadStatus.NeedMoreData, YamuxFrameHeader.TryRead(golden.Bytes.AsSpan(0, cut), out _));
        }
    }
}
