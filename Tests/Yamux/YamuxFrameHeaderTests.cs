using TcpChan.Core.Yamux;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.Yamux;

/// <summary>The yamux header codec: every field, byte order, bad version and type, cut headers, the writers.</summary>
public class YamuxFrameHeaderTests
{
    public static TheoryData<byte, ushort, uint, uint> Headers()
    {
        var data = new TheoryData<byte, ushort, uint, uint>();
        uint[] edges = [0, 1, 2, 255, 256, 65_535, 0x0102_0304, YamuxProtocol.InitialStreamWindow, int.MaxValue, uint.MaxValue];
        ushort[] flags = [0, 1, 2, 4, 8, 1 | 2, 2 | 4, 4 | 8, 1 | 4, 0x000F, 0x0010, 0xFFF0, 0xFFFF];
        for (byte type = 0; type <= 3; type++)
        {
            foreach (ushort flag in flags)
            {
                data.Add(type, flag, edges[(type + flag) % edges.Length], edges[(type * 3 + flag + 5) % edges.Length]);
            }

            foreach (uint id in edges)
            {
                data.Add(type, 0, id, id);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public void Every_field_round_trips(byte type, ushort flags, uint streamId, uint length)
    {
        var buffer = new byte[YamuxProtocol.HeaderLength + 3];
        Assert.Equal(12, YamuxFrameWriter.WriteHeader(buffer, (YamuxFrameType)type, (YamuxFlags)flags, streamId, length));

        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(buffer, out var header));
        Assert.Equal(0, header.Version);
        Assert.Equal((YamuxFrameType)type, header.Type);
        Assert.Equal((YamuxFlags)flags, header.Flags);
        Assert.Equal(streamId, header.StreamId);
        Assert.Equal(length, header.Length);
        Assert.Equal(type == 0 ? length : 0u, header.PayloadLength);
        Assert.Equal(12L + (type == 0 ? length : 0u), header.FrameLength);
    }

    [Fact]
    public void Fields_are_big_endian_at_their_offsets()
    {
        var buffer = new byte[12];
        YamuxFrameWriter.WriteHeader(buffer, YamuxFrameType.WindowUpdate, (YamuxFlags)0xA5C3, 0x0102_0304, 0xA1B2_C3D4);

        Assert.Equal("0001a5c301020304a1b2c3d4", Wire.ToHex(buffer));
        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(Wire.Hex("0002000300000000fffffffe"), out var ping));
        Assert.Equal(YamuxFrameType.Ping, ping.Type);
        Assert.Equal(YamuxFlags.Syn | YamuxFlags.Ack, ping.Flags);
        Assert.Equal(0u, ping.StreamId);
        Assert.Equal(0xFFFF_FFFEu, ping.Opaque);
    }

    [Fact]
    public void Named_views_of_the_length_field()
    {
        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(Wire.Hex("000100080000000700010000"), out var update));
        Assert.Equal(65_536u, update.Delta);
        Assert.True(update.Has(YamuxFlags.Rst));
        Assert.False(update.Has(YamuxFlags.Rst | YamuxFlags.Fin));
        Assert.True(update.Has(YamuxFlags.None));

        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(Wire.Hex("000300000000000000000002"), out var goAway));
        Assert.Equal(YamuxGoAwayCode.InternalError, goAway.GoAwayCode);
        Assert.Equal(0u, goAway.PayloadLength);

        // A code no table has is kept as it came.
        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(Wire.Hex("0003000000000000deadbeef"), out var odd));
        Assert.Equal(0xDEAD_BEEFu, (uint)odd.GoAwayCode);
    }

    [Fact]
    public void Any_version_but_0_is_bad_as_soon_as_its_byte_arrives()
    {
        for (int version = 1; version <= 255; version++)
        {
            Assert.Equal(YamuxReadStatus.BadVersion, YamuxFrameHeader.TryRead([(byte)version], out var header));
            Assert.Equal(default, header);

            // Judged before the type, as Go does: a bad version with an unknown type is a bad version.
            var whole = new byte[12];
            whole[0] = (byte)version;
            whole[1] = 200;
            Assert.Equal(YamuxReadStatus.BadVersion, YamuxFrameHeader.TryRead(whole, out _));
        }
    }

    [Fact]
    public void Types_4_to_255_are_unknown_as_soon_as_their_byte_arrives()
    {
        for (int type = 4; type <= 255; type++)
        {
            Assert.Equal(YamuxReadStatus.UnknownType, YamuxFrameHeader.TryRead([0, (byte)type], out var header));
            Assert.Equal(default, header);
            Assert.Equal(YamuxReadStatus.UnknownType, YamuxFrameHeader.TryRead(new byte[] { 0, (byte)type }.Concat(new byte[10]).ToArray(), out _));
        }
    }

    [Theory]
    [InlineData("000000000000000100000005")] // data
    [InlineData("000100010000000100000000")] // window update, SYN
    [InlineData("000200020000000000000007")] // ping, ACK
    [InlineData("000300000000000000000001")] // go-away, protocol error
    public void A_header_cut_at_every_byte_needs_more_data(string hex)
    {
        byte[] bytes = Wire.Hex(hex);
        for (int cut = 0; cut < YamuxProtocol.HeaderLength; cut++)
        {
            Assert.Equal(YamuxReadStatus.NeedMoreData, YamuxFrameHeader.TryRead(bytes.AsSpan(0, cut), out var header));
            Assert.Equal(default, header);
        }

        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(bytes, out _));
    }

    [Fact]
    public void Bytes_after_the_header_are_not_part_of_it()
    {
        // A data header followed by its payload and the start of the next frame.
        byte[] input = Wire.Concat(Wire.Hex("000000000000000300000002"), Wire.Hex("6869"), Wire.Hex("0001"));
        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(input, out var header));
        Assert.Equal(2u, header.PayloadLength);
        Assert.Equal(14L, header.FrameLength);
    }

    [Fact]
    public void A_data_frame_may_announce_up_to_4_GiB_of_payload()
    {
        Assert.Equal(YamuxReadStatus.Complete, YamuxFrameHeader.TryRead(Wire.Hex("00000000" + "00000001" + "ffffffff"), out var header));
        Assert.Equal(uint.MaxValue, header.PayloadLength);
        Assert.Equal(12L + uint.MaxValue, header.FrameLength);
    }

    [Fact]
    public void Writers_give_each_frame_its_type_flags_stream_and_length()
    {
        var buffer = new byte[32];
        Assert.Equal(12, YamuxFrameWriter.WriteWindowUpdate(buffer, YamuxFlags.Syn, 1, 786_432));
        Assert.Equal("0001000100000001000c0000", Wire.ToHex(buffer.AsSpan(0, 12)));
        Assert.Equal(12, YamuxFrameWriter.WritePing(buffer, ack: false, 7));
        Assert.Equal("000200010000000000000007", Wire.ToHex(buffer.AsSpan(0, 12)));
        Assert.Equal(12, YamuxFrameWriter.WritePing(buffer, ack: true, 7));
        Assert.Equal("000200020000000000000007", Wire.ToHex(buffer.AsSpan(0, 12)));
        Assert.Equal(12, YamuxFrameWriter.WriteGoAway(buffer, YamuxGoAwayCode.ProtocolError));
        Assert.Equal("000300000000000000000001", Wire.ToHex(buffer.AsSpan(0, 12)));
        Assert.Equal(17, YamuxFrameWriter.WriteData(buffer, YamuxFlags.Fin, 2, "hello"u8));
        Assert.Equal("000000040000000200000005" + "68656c6c6f", Wire.ToHex(buffer.AsSpan(0, 17)));
        Assert.Equal(12, YamuxFrameWriter.WriteDataHeader(buffer, YamuxFlags.None, 3, 1 << 20));
        Assert.Equal("000000000000000300100000", Wire.ToHex(buffer.AsSpan(0, 12)));
    }

    [Fact]
    public void Writers_refuse_a_short_destination_and_a_negative_length()
    {
        var small = new byte[11];
        Assert.Throws<ArgumentException>(() => YamuxFrameWriter.WriteHeader(small, YamuxFrameType.Data, 0, 1, 0));
        Assert.Throws<ArgumentException>(() => YamuxFrameWriter.WriteWindowUpdate(small, 0, 1, 0));
        Assert.Throws<ArgumentException>(() => YamuxFrameWriter.WritePing(small, false, 0));
        Assert.Throws<ArgumentException>(() => YamuxFrameWriter.WriteGoAway(small, 0));
        Assert.Throws<ArgumentException>(() => YamuxFrameWriter.WriteDataHeader(small, 0, 1, 0));
        Assert.Throws<ArgumentException>(() => YamuxFrameWriter.WriteData(new byte[16], 0, 1, new byte[5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => YamuxFrameWriter.WriteDataHeader(new byte[12], 0, 1, -1));
    }

    [Theory]
    [InlineData(0u, false, false, false)]
    [InlineData(1u, true, true, false)]
    [InlineData(2u, false, false, true)]
    [InlineData(3u, true, true, false)]
    [InlineData(4_294_967_293u, true, true, false)]
    [InlineData(4_294_967_294u, false, false, true)]
    public void Stream_id_parity(uint id, bool isClient, bool clientMayOpen, bool serverMayOpen)
    {
        Assert.Equal(isClient, YamuxProtocol.IsClientStreamId(id));
        Assert.Equal(clientMayOpen, YamuxProtocol.IsPeerStreamId(id, peerIsClient: true));
        Assert.Equal(serverMayOpen, YamuxProtocol.IsPeerStreamId(id, peerIsClient: false));
    }

    [Fact]
    public void Describes_itself()
    {
        Assert.Equal("WindowUpdate stream=1 flags=Syn delta=0", new YamuxFrameHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0).ToString());
        Assert.Equal("Data stream=3 flags=Ack, Fin length=9", new YamuxFrameHeader(YamuxFrameType.Data, YamuxFlags.Ack | YamuxFlags.Fin, 3, 9).ToString());
        Assert.Equal("GoAway stream=0 flags=None code=1", new YamuxFrameHeader(YamuxFrameType.GoAway, 0, 0, 1).ToString());
    }
}
