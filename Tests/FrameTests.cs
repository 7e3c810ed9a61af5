using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TcpChan.Core.Frames;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests;

/// <summary>One line of Vectors/tcpchan-v0.txt, with the whole frame rebuilt.</summary>
public sealed class GoldenFrame
{
    public required string Key { get; init; }

    public required FrameType Type { get; init; }

    public required uint Value { get; init; }

    public required byte[] Payload { get; init; }

    /// <summary>The hex as the file shows it (only a prefix for the long payload line).</summary>
    public required byte[] ShownBytes { get; init; }

    /// <summary>The whole frame on the wire.</summary>
    public required byte[] Bytes { get; init; }

    public bool Truncated => ShownBytes.Length < Bytes.Length;
}

public static partial class GoldenVectors
{
    private static readonly Lazy<IReadOnlyList<GoldenFrame>> s_all = new(Load);

    public static IReadOnlyList<GoldenFrame> All => s_all.Value;

    public static GoldenFrame Get(string key) => All.Single(f => f.Key == key);

    public static TheoryData<string> Keys() => KeysOf(All);

    public static TheoryData<string> PayloadKeys() => KeysOf(All.Where(f => f.Type == FrameType.ChannelPayload));

    private static TheoryData<string> KeysOf(IEnumerable<GoldenFrame> frames)
    {
        var data = new TheoryData<string>();
        foreach (var frame in frames)
        {
            data.Add(frame.Key);
        }

        return data;
    }

    private static IReadOnlyList<GoldenFrame> Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Vectors", "tcpchan-v0.txt");
        var frames = new List<GoldenFrame>();
        foreach (string line in File.ReadAllLines(path))
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

            frames.Add(Parse(cols[0], cols[1], Convert.FromHexString(cols[2])));
        }

        return frames;
    }

    private static GoldenFrame Parse(string name, string fields, byte[] shown)
    {
        var type = name switch
        {
            "handshake_request" => FrameType.HandshakeRequest,
            "handshake_reply" => FrameType.HandshakeReply,
            "create_channel" => FrameType.CreateChannel,
            "close_channel" => FrameType.CloseChannel,
            "channel_payload" => FrameType.ChannelPayload,
            _ => throw new FormatException($"Unknown frame name {name}"),
        };

        uint value;
        var magic = MagicField().Match(fields);
        if (type is FrameType.HandshakeRequest or FrameType.HandshakeReply)
        {
            value = magic.Success ? uint.Parse(magic.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                : throw new FormatException($"No magic in {fields}");
        }
        else
        {
            var channel = ChannelField().Match(fields);
            value = channel.Success ? uint.Parse(channel.Groups[1].Value, CultureInfo.InvariantCulture)
                : throw new FormatException($"No channel in {fields}");
        }

        byte[] payload = [];
        if (type == FrameType.ChannelPayload)
        {
            var quoted = QuotedPayload().Match(fields);
            var repeated = RepeatedPayload().Match(fields);
            if (quoted.Success)
            {
                payload = Encoding.ASCII.GetBytes(quoted.Groups[1].Value);
            }
            else if (repeated.Success)
            {
                payload = new byte[int.Parse(repeated.Groups[1].Value, CultureInfo.InvariantCulture)];
                Array.Fill(payload, byte.Parse(repeated.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
            else
            {
                throw new FormatException($"No payload in {fields}");
            }
        }

        byte[] bytes;
        if (type == FrameType.ChannelPayload)
        {
            // Rebuilt from the header the file shows plus the payload its fields describe.
            bytes = new byte[FrameWriter.PayloadHeaderLength + payload.Length];
            shown.AsSpan(0, FrameWriter.PayloadHeaderLength).CopyTo(bytes);
            payload.CopyTo(bytes, FrameWriter.PayloadHeaderLength);
        }
        else
        {
            bytes = shown;
        }

        return new GoldenFrame
        {
            Key = $"{name} {fields}",
            Type = type,
            Value = value,
            Payload = payload,
            ShownBytes = shown,
            Bytes = bytes,
        };
    }

    [GeneratedRegex(@"magic=0x([0-9A-Fa-f]{1,8})")]
    private static partial Regex MagicField();

    [GeneratedRegex(@"channel=(\d+)")]
    private static partial Regex ChannelField();

    [GeneratedRegex("payload=\"([^\"]*)\"")]
    private static partial Regex QuotedPayload();

    [GeneratedRegex(@"payload=(\d+) bytes of 0x([0-9A-Fa-f]{2})")]
    private static partial Regex RepeatedPayload();
}

public class FrameTests
{
    [Fact]
    public void Golden_file_has_every_frame_kind()
    {
        Assert.Equal(9, GoldenVectors.All.Count);

        // The file is the reference's: version 0, whose ops are 1 to 5.
        var version0Types = Enum.GetValues<FrameType>().Where(t => FrameHeader.FixedLengthOf(0, t) != 0).ToList();
        Assert.Equal([FrameType.HandshakeRequest, FrameType.HandshakeReply, FrameType.CreateChannel, FrameType.CloseChannel, FrameType.ChannelPayload], version0Types);
        foreach (FrameType type in version0Types)
        {
            Assert.Contains(GoldenVectors.All, f => f.Type == type);
        }

        // The long line is rebuilt to the whole frame, and the file shows its start.
        var longest = Assert.Single(GoldenVectors.All, f => f.Truncated);
        Assert.Equal(65535, longest.Payload.Length);
        Assert.Equal(8 + 65535, longest.Bytes.Length);
        Assert.Equal(longest.ShownBytes, longest.Bytes.AsSpan(0, longest.ShownBytes.Length).ToArray());
    }

    [Theory]
    [MemberData(nameof(GoldenVectors.Keys), MemberType = typeof(GoldenVectors))]
    public void Encodes_golden_frame(string key)
    {
        var golden = GoldenVectors.Get(key);
        var buffer = new byte[FrameWriter.PayloadHeaderLength + FrameHeader.MaxPayloadLength];
        int length = golden.Type switch
        {
            FrameType.HandshakeRequest => FrameWriter.WriteHandshakeRequest(buffer, 0, golden.Value),
            FrameType.HandshakeReply => FrameWriter.WriteHandshakeReply(buffer, 0, golden.Value),
            FrameType.CreateChannel => FrameWriter.WriteCreateChannel(buffer, 0, golden.Value),
            FrameType.CloseChannel => FrameWriter.WriteCloseChannel(buffer, 0, golden.Value),
            FrameType.ChannelPayload => FrameWriter.WriteChannelPayload(buffer, 0, golden.Value, golden.Payload),
            _ => throw new InvalidOperationException(),
        };

        Assert.Equal(golden.Bytes.Length, length);
        Assert.Equal(Wire.ToHex(golden.ShownBytes), Wire.ToHex(buffer.AsSpan(0, golden.ShownBytes.Length)));
        Assert.True(golden.Bytes.AsSpan().SequenceEqual(buffer.AsSpan(0, length)));
    }

    [Theory]
    [MemberData(nameof(GoldenVectors.PayloadKeys), MemberType = typeof(GoldenVectors))]
    public void Encodes_golden_payload_frame_header_alone(string key)
    {
        var golden = GoldenVectors.Get(key);
        var header = new byte[FrameWriter.PayloadHeaderLength + golden.Payload.Length];
        Assert.Equal(8, FrameWriter.WriteChannelPayloadHeader(header, 0, golden.Value, golden.Payload.Length));
        Assert.Equal(Wire.ToHex(golden.Bytes.AsSpan(0, 8)), Wire.ToHex(header.AsSpan(0, 8)));
    }

    [Theory]
    [MemberData(nameof(GoldenVectors.Keys), MemberType = typeof(GoldenVectors))]
    public void Decodes_golden_frame(string key)
    {
        var golden = GoldenVectors.Get(key);

        Assert.Equal(FrameReadStatus.Complete, FrameHeader.TryRead(golden.Bytes, out var header));
        Assert.Equal(0, header.Version);
        Assert.Equal(golden.Type, header.Type);
        Assert.Equal(golden.Value, header.Value);
        Assert.Equal(golden.Payload.Length, header.PayloadLength);
        Assert.Equal(golden.Type == FrameType.ChannelPayload ? 8 : 6, header.Length);
        Assert.Equal(golden.Bytes.Length, header.FrameLength);
        if (golden.Type is FrameType.HandshakeRequest or FrameType.HandshakeReply)
        {
            Assert.Equal(golden.Value, header.Magic);
        }
        else
        {
            Assert.Equal(golden.Value, header.ChannelId);
        }

        // Whole frame, followed by bytes of the next one that must not be consumed.
        var withTrailer = Wire.Concat(golden.Bytes, Wire.Hex("0003"));
        Assert.Equal(FrameReadStatus.Complete, Frame.TryDecode(withTrailer, out var frame, out int consumed));
        Assert.Equal(golden.Bytes.Length, consumed);
        Assert.Equal(golden.Type, frame.Header.Type);
        Assert.Equal(golden.Value, frame.Header.Value);
        Assert.Equal(0, frame.Header.Version);
        Assert.True(frame.Payload.SequenceEqual(golden.Payload));
        Assert.True(frame.Payload.IsEmpty || frame.Payload.Overlaps(withTrailer), "Payload is a slice of the input.");
    }

    [Theory]
    [MemberData(nameof(GoldenVectors.Keys), MemberType = typeof(GoldenVectors))]
    public void Golden_frame_cut_off_at_every_position_needs_more_data(string key)
    {
        var golden = GoldenVectors.Get(key);
        int headerLength = FrameHeader.FixedLengthOf(0, golden.Type);
        for (int cut = 0; cut < headerLength; cut++)
        {
            Assert.Equal(FrameReadStatus.NeedMoreData, FrameHeader.TryRead(golden.Bytes.AsSpan(0, cut), out _));
        }

        // The whole-frame decoder also waits for the payload, checked at every position of short
        // payloads and at the edges of the long one.
        var cuts = golden.Bytes.Length < 100
            ? Enumerable.Range(0, golden.Bytes.Length)
            : Enumerable.Range(0, 20).Concat(Enumerable.Range(golden.Bytes.Length - 20, 20));
        foreach (int cut in cuts)
        {
            Assert.Equal(FrameReadStatus.NeedMoreData, Frame.TryDecode(golden.Bytes.AsSpan(0, cut), out _, out int consumed));
            Assert.Equal(0, consumed);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(11)]
    [InlineData(0x47)]
    [InlineData(255)]
    public void Unknown_op_is_unknown_type(byte op)
    {
        // Ops 6 to 10 exist from version 1 on (any version byte but 0 reads version 1's table).
        byte[] versions = op is >= 6 and <= 10 ? [0] : [0, 1, 0x47];
        foreach (byte version in versions)
        {
            var bytes = new byte[] { version, op, 0, 0, 0, 7, 0, 0 };
            for (int length = 2; length <= bytes.Length; length++)
            {
                Assert.Equal(FrameReadStatus.UnknownType, FrameHeader.TryRead(bytes.AsSpan(0, length), out _));
                Assert.Equal(FrameReadStatus.UnknownType, Frame.TryDecode(bytes.AsSpan(0, length), out _, out int consumed));
                Assert.Equal(0, consumed);
            }

            // The op byte is not there yet: the reader cannot know.
            Assert.Equal(FrameReadStatus.NeedMoreData, FrameHeader.TryRead(bytes.AsSpan(0, 1), out _));
        }

        if (versions.Length == 1)
        {
            Assert.NotEqual(FrameReadStatus.UnknownType, FrameHeader.TryRead([1, op], out _));
        }
    }

    [Fact]
    public void Version_byte_is_reported_not_judged()
    {
        // A close has the same layout in every version.
        Assert.Equal(FrameReadStatus.Complete, FrameHeader.TryRead(Wire.Hex("07040000002a"), out var header));
        Assert.Equal(7, header.Version);
        Assert.Equal(FrameType.CloseChannel, header.Type);
        Assert.Equal(42u, header.ChannelId);

        // Any version byte but 0 reads version 1's layouts: a create carries a label length.
        Assert.Equal(FrameReadStatus.NeedMoreData, FrameHeader.TryRead(Wire.Hex("07030000002a"), out _));
        Assert.Equal(FrameReadStatus.Complete, FrameHeader.TryRead(Wire.Hex("07030000002a00"), out header));
        Assert.Equal(7, header.Version);
        Assert.Equal(FrameType.CreateChannel, header.Type);
        Assert.Equal(42u, header.ChannelId);
        Assert.Equal(7, header.Length);

        Assert.Equal(FrameReadStatus.Complete, FrameHeader.TryRead(Wire.Hex("00030000002a"), out header));
        Assert.Equal(0, header.Version);
        Assert.Equal(6, header.Length);
    }

    [Fact]
    public void Header_lengths_per_type()
    {
        Assert.Equal(6, FrameHeader.FixedLengthOf(0, FrameType.HandshakeRequest));
        Assert.Equal(6, FrameHeader.FixedLengthOf(0, FrameType.HandshakeReply));
        Assert.Equal(6, FrameHeader.FixedLengthOf(0, FrameType.CreateChannel));
        Assert.Equal(6, FrameHeader.FixedLengthOf(0, FrameType.CloseChannel));
        Assert.Equal(8, FrameHeader.FixedLengthOf(0, FrameType.ChannelPayload));
        Assert.Equal(0, FrameHeader.FixedLengthOf(0, (FrameType)6));
        Assert.Equal(7, FrameHeader.FixedLengthOf(1, FrameType.CreateChannel));
        Assert.Equal(10, FrameHeader.FixedLengthOf(1, FrameType.WindowUpdate));
        Assert.Equal(11, FrameHeader.FixedLengthOf(1, FrameType.Ping));
        Assert.Equal(0, FrameHeader.FixedLengthOf(1, (FrameType)11));
        Assert.Equal(2 + 1 + (255 * 5), FrameHeader.MaxLength);
        Assert.Equal(65535, FrameHeader.MaxPayloadLength);
    }

    [Fact]
    public void Writer_rejects_too_small_destination_and_too_long_payload()
    {
        Assert.Throws<ArgumentException>(() => FrameWriter.WriteCreateChannel(new byte[5], 0, 1));
        Assert.Throws<ArgumentException>(() => FrameWriter.WriteChannelPayload(new byte[10], 0, 1, new byte[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameWriter.WriteChannelPayloadHeader(new byte[70000], 0, 1, 65536));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameWriter.WriteChannelPayloadHeader(new byte[8], 0, 1, -1));
    }

    [Fact]
    public void Decodes_a_stream_of_golden_frames_back_to_back()
    {
        var stream = Wire.Concat(GoldenVectors.All.Select(f => f.Bytes).ToArray());
        var frames = Wire.DecodeAll(stream);
        Assert.Equal(GoldenVectors.All.Count, frames.Count);
        for (int i = 0; i < frames.Count; i++)
        {
            Assert.Equal(GoldenVectors.All[i].Type, frames[i].Header.Type);
            Assert.Equal(GoldenVectors.All[i].Value, frames[i].Header.Value);
            Assert.Equal(GoldenVectors.All[i].Payload, frames[i].Payload);
        }
    }
}
