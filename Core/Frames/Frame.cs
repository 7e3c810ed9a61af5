namespace TcpChan.Core.Frames;

/// <summary>
/// A whole decoded frame: its header and, for payload frames, a slice of the input holding
/// the payload (no copy). The connection itself streams payloads and does not need whole
/// frames; this is for tools, tests and anyone decoding a capture.
/// </summary>
public readonly ref struct Frame
{
    /// <summary>Creates a frame.</summary>
    public Frame(FrameHeader header, ReadOnlySpan<byte> body, ReadOnlySpan<byte> payload)
    {
        Header = header;
        Body = body;
        Payload = payload;
    }

    /// <summary>The header.</summary>
    public FrameHeader Header { get; }

    /// <summary>The inline body after the fixed fields: an open's label, the settings entries (else empty).</summary>
    public ReadOnlySpan<byte> Body { get; }

    /// <summary>The payload bytes (empty for frames without payload).</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>
    /// Decodes one whole frame from the start of <paramref name="source"/>;
    /// <paramref name="consumed"/> is its length on the wire when the result is
    /// <see cref="FrameReadStatus.Complete"/>, else 0.
    /// </summary>
    public static FrameReadStatus TryDecode(ReadOnlySpan<byte> source, out Frame frame, out int consumed)
    {
        frame = default;
        consumed = 0;
        var status = FrameHeader.TryRead(source, out var header);
        if (status != FrameReadStatus.Complete)
        {
            return status;
        }

        if (source.Length < header.FrameLength)
        {
            return FrameReadStatus.NeedMoreData;
        }

        int fixedLength = FrameHeader.FixedLengthOf(header.Version, header.Type);
        frame = new Frame(header, source.Slice(fixedLength, header.Length - fixedLength), source.Slice(header.Length, header.PayloadLength));
        consumed = header.FrameLength;
        return FrameReadStatus.Complete;
    }
}
