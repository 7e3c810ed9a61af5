using TcpChan.Core;
using TcpChan.Core.Yamux;

namespace TcpChan.Fuzz;

/// <summary>
/// Parses a yamux side's output: whole frames of version 0 and a known type; data frames not
/// empty, never above the largest this side sends; window updates with one flag at most, a
/// delta of 1 to 2^32-1 for credit and 0 with FIN and RST; one SYN per stream, for ids of this
/// side's parity going up; pings on stream 0 with SYN or ACK; go-aways on stream 0 with
/// a defined code. In a pair (<see cref="SideHarness.CheckStreamLives"/>: ids are never used
/// twice there) also what Go counts on: at most one ACK and one FIN per stream, and no data
/// after this side's FIN or RST.
/// </summary>
internal sealed class YamuxOutputChecker : OutputStreamChecker
{
    private readonly Dictionary<uint, YamuxFlags> _sent = new();
    private uint _lastOpened;

    public YamuxOutputChecker(SideHarness side)
        : base(side, YamuxProtocol.HeaderLength)
    {
    }

    protected override int ReadFrame(ReadOnlySpan<byte> header, out long payloadLength)
    {
        payloadLength = 0;
        var status = YamuxFrameHeader.TryRead(header, out var frame);
        if (status == YamuxReadStatus.NeedMoreData)
        {
            return 0;
        }

        if (status != YamuxReadStatus.Complete)
        {
            Side.Fail("output-unknown-frame", $"Emitted bytes that are no yamux frame ({status}): {Convert.ToHexString(header)}.");
            return -1;
        }

        payloadLength = frame.PayloadLength;
        Frame(frame);
        return YamuxProtocol.HeaderLength;
    }

    private void Frame(in YamuxFrameHeader header)
    {
        var conn = Side.Conn;
        var flags = header.Flags;
        uint id = header.StreamId;
        Side.Features.Add($"out:yamux:{header.Type}:{flags}");
        switch (header.Type)
        {
            case YamuxFrameType.Data:
                if (flags != YamuxFlags.None || id == 0 || header.Length == 0 || header.Length > conn.PeerSettings.MaxFramePayload)
                {
                    Side.Fail("output-yamux-data", $"Emitted {header} (frames of at most {conn.PeerSettings.MaxFramePayload} bytes, no flags, not empty).");
                }

                Stream(id, YamuxFlags.None, header);
                break;
            case YamuxFrameType.WindowUpdate:
                bool credit = flags == YamuxFlags.None;
                bool oneFlag = flags is YamuxFlags.None or YamuxFlags.Syn or YamuxFlags.Ack or YamuxFlags.Fin or YamuxFlags.Rst;
                bool delta = credit ? header.Delta > 0 : flags is YamuxFlags.Syn or YamuxFlags.Ack || header.Delta == 0;
                if (id == 0 || !oneFlag || !delta)
                {
                    Side.Fail("output-yamux-window", $"Emitted {header}.");
                }

                if (flags == YamuxFlags.Syn)
                {
                    Opened(id, header);
                }

                Stream(id, flags, header);
                break;
            case YamuxFrameType.Ping:
                if (id != 0 || flags is not (YamuxFlags.Syn or YamuxFlags.Ack))
                {
                    Side.Fail("output-yamux-ping", $"Emitted {header}.");
                }

                break;
            default:
                GoAways++;
                if (id != 0 || flags != YamuxFlags.None || header.Length > (uint)YamuxGoAwayCode.InternalError)
                {
                    Side.Fail("output-yamux-goaway", $"Emitted {header}.");
                }

                break;
        }
    }

    /// <summary>
    /// A SYN: an id of this side's parity above the last (one whose channel factory failed is
    /// skipped, never sent), so exactly once (Go closes the session on a second SYN).
    /// </summary>
    private void Opened(uint id, in YamuxFrameHeader header)
    {
        if (id <= _lastOpened || YamuxProtocol.IsClientStreamId(id) != Side.Config.Client)
        {
            Side.Fail("output-yamux-syn", $"Emitted {header} after a SYN for stream {_lastOpened}, as the {Side.Name}.");
        }

        _lastOpened = id;
    }

    /// <summary>A pair's streams: one ACK and one FIN each (Go counts ACKs as its pending opens done), nothing but credit after FIN, nothing after RST.</summary>
    private void Stream(uint id, YamuxFlags flags, in YamuxFrameHeader header)
    {
        if (!Side.CheckStreamLives)
        {
            return;
        }

        var before = _sent.GetValueOrDefault(id);
        bool wrong = (before & YamuxFlags.Rst) != 0
            || (flags is YamuxFlags.Ack or YamuxFlags.Fin && (before & flags) != 0)
            || (header.Type == YamuxFrameType.Data && (before & YamuxFlags.Fin) != 0);
        if (wrong)
        {
            Side.Fail("output-yamux-stream", $"Emitted {header} after {before} on the same stream.");
        }

        _sent[id] = before | flags;
    }
}
