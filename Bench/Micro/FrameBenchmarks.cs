using BenchmarkDotNet.Attributes;
using TcpChan.Core.Frames;

namespace TcpChan.Bench.Micro;

/// <summary>
/// The frame codec alone: encoding a payload frame (<see cref="FrameWriter"/>), reading its
/// header (<see cref="FrameHeader.TryRead"/>) and decoding it whole (<see cref="Frame.TryDecode"/>).
/// A frame carries at most 65,535 bytes, so the 64 KiB case is a 65,535-byte frame.
/// </summary>
[MemoryDiagnoser]
public class FrameBenchmarks
{
    private byte[] _payload = [];
    private byte[] _destination = [];
    private byte[] _frame = [];

    [Params((byte)0, (byte)1)]
    public byte Version { get; set; }

    [Params(64, 1024, 16384, 65536)]
    public int Payload { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int n = Math.Min(Payload, FrameHeader.MaxPayloadLength);
        _payload = new byte[n];
        _destination = new byte[FrameWriter.PayloadHeaderLength + n];
        _frame = new byte[FrameWriter.PayloadHeaderLength + n];
        FrameWriter.WriteChannelPayload(_frame, Version, 7, _payload);
    }

    [Benchmark]
    public int Encode() => FrameWriter.WriteChannelPayload(_destination, Version, 7, _payload);

    [Benchmark]
    public int ReadHeader()
    {
        FrameHeader.TryRead(_frame, out var header);
        return header.FrameLength;
    }

    [Benchmark]
    public int Decode()
    {
        Frame.TryDecode(_frame, out var frame, out int consumed);
        return consumed + frame.Payload.Length;
    }
}
