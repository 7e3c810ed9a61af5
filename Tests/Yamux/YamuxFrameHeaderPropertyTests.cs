using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using TcpChan.Core.Yamux;
using Xunit;

namespace TcpChan.Tests.Yamux;

/// <summary>The header reader over arbitrary bytes: never throws, and says exactly what the first bytes decide.</summary>
public class YamuxFrameHeaderPropertyTests
{
    private static Config Configuration => Config.QuickThrowOnFailure
        .WithMaxTest(2000)
        .WithQuietOnSuccess(true)
        .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(0x5EED_0A11), FSharpOption<int>.None)));

    // Mostly version 0 and known types, so that whole headers are common.
    private static Gen<byte[]> Input { get; } =
        from length in Gen.Choose(0, 40)
        from version in Gen.Frequency((8, Gen.Constant((byte)0)), (1, Gen.Choose(1, 255).Select(v => (byte)v)))
        from type in Gen.Frequency((8, Gen.Choose(0, 3)), (1, Gen.Choose(4, 255)))
        from rest in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 40)
        select Build(length, version, (byte)type, rest);

    [Fact]
    public void Any_input_gets_the_status_its_first_bytes_decide_and_a_whole_header_round_trips()
    {
        Check.One(Configuration, Prop.ForAll(Arb.From(Input), bytes =>
        {
            var status = YamuxFrameHeader.TryRead(bytes, out var header);
            var expected = bytes.Length == 0 ? YamuxReadStatus.NeedMoreData
                : bytes[0] != 0 ? YamuxReadStatus.BadVersion
                : bytes.Length < 2 ? YamuxReadStatus.NeedMoreData
                : bytes[1] > 3 ? YamuxReadStatus.UnknownType
                : bytes.Length < 12 ? YamuxReadStatus.NeedMoreData
                : YamuxReadStatus.Complete;
            if (status != expected)
            {
                return false;
            }

            if (status != YamuxReadStatus.Complete)
            {
                return header.Equals(default(YamuxFrameHeader));
            }

            var again = new byte[12];
            YamuxFrameWriter.WriteHeader(again, header.Type, header.Flags, header.StreamId, header.Length);
            return again.AsSpan().SequenceEqual(bytes.AsSpan(0, 12));
        }));
    }

    private static byte[] Build(int length, byte version, byte type, byte[] rest)
    {
        var bytes = rest.AsSpan(0, length).ToArray();
        if (length > 0)
        {
            bytes[0] = version;
        }

        if (length > 1)
        {
            bytes[1] = type;
        }

        return bytes;
    }
}
