namespace TcpChan.Fuzz;

/// <summary>What a side's output checker tells the harness.</summary>
internal interface IOutputCheck
{
    /// <summary>Go-aways sent so far.</summary>
    int GoAways { get; }

    /// <summary>Checks the bytes of one DataTransmit.</summary>
    void Check(byte[] bytes);

    /// <summary>The handshake settled on <paramref name="version"/>.</summary>
    void Settled(int version);
}

/// <summary>
/// Reads a side's output frame by frame, whatever the format: each header gathered, then judged
/// by the format's <see cref="ReadFrame"/>, its payload skipped. Every DataTransmit must hold
/// whole frames; after bytes that are no frame the rest of the stream is not read.
/// </summary>
internal abstract class OutputStreamChecker : IOutputCheck
{
    private readonly byte[] _header;
    private int _headerLength;
    private long _payloadLeft;
    private bool _lost;

    protected OutputStreamChecker(SideHarness side, int maxHeaderLength)
    {
        Side = side;
        _header = new byte[maxHeaderLength];
    }

    public int GoAways { get; protected set; }

    protected SideHarness Side { get; }

    public virtual void Settled(int version)
    {
    }

    public void Check(byte[] bytes)
    {
        var span = bytes.AsSpan();
        while (!span.IsEmpty && !_lost)
        {
            if (_payloadLeft > 0)
            {
                int n = (int)Math.Min(_payloadLeft, span.Length);
                _payloadLeft -= n;
                span = span.Slice(n);
                continue;
            }

            int take = Math.Min(span.Length, _header.Length - _headerLength);
            span.Slice(0, take).CopyTo(_header.AsSpan(_headerLength));
            int length = ReadFrame(_header.AsSpan(0, _headerLength + take), out long payloadLength);
            if (length == 0)
            {
                // The buffer holds the longest header, so here all of the span was taken.
                _headerLength += take;
                break;
            }

            if (length < 0)
            {
                _lost = true; // no frame: the rest cannot be told apart
                return;
            }

            span = span.Slice(length - _headerLength);
            _headerLength = 0;
            _payloadLeft = payloadLength;
        }

        if (!_lost && (_headerLength != 0 || _payloadLeft > 0))
        {
            Side.Fail("output-cut-frame", "A DataTransmit ends inside a frame.");
            _headerLength = 0;
            _payloadLeft = 0;
        }
    }

    /// <summary>
    /// Reads and checks the frame whose header starts <paramref name="header"/>: its header's
    /// length, with the payload that follows in <paramref name="payloadLength"/>; 0 when more
    /// bytes are needed; -1 when they are no frame (reported).
    /// </summary>
    protected abstract int ReadFrame(ReadOnlySpan<byte> header, out long payloadLength);
}
