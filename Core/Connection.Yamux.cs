using TcpChan.Core.Yamux;

namespace TcpChan.Core;

// Yamux input (hashicorp/yamux spec.md): its 12-byte frames parsed out of whatever chunks
// arrive, and what each means for the same channels, credit and events as TcpChan's. A stream
// frame is handled in this order: SYN opens, ACK accepts, RST resets (the frame's payload is
// then dropped, and a FIN beside it means nothing), the window update adds credit or the data
// is delivered, and a FIN ends the data once the frame's payload is in (Go marks the FIN first,
// but its reader too gets the data before the end). Output is the seam's (Connection.Wire.cs).
public abstract partial class Connection
{
    private bool _endAfterPayload; // the data frame being read carries FIN

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private ReadOnlySpan<byte> ReadYamuxHeader(ReadOnlySpan<byte> data)
    {
        // The header is whole in data (the usual case), or gathered across calls; a bad version
        // or type byte is judged as soon as it is here.
        int consumed = Math.Min(data.Length, YamuxProtocol.HeaderLength - _headerLength);
        var raw = data;
        if (_headerLength > 0 || consumed < YamuxProtocol.HeaderLength)
        {
            data.Slice(0, consumed).CopyTo(_headerBuffer.AsSpan(_headerLength));
            raw = _headerBuffer.AsSpan(0, _headerLength + consumed);
        }

        var status = YamuxFrameHeader.TryRead(raw, out var header);
        if (status == YamuxReadStatus.NeedMoreData)
        {
            _headerLength += consumed;
            return default;
        }

        _headerLength = 0;
        FrameArrived();
        switch (status)
        {
            case YamuxReadStatus.BadVersion:
                Fail(ErrorCode.ProtocolError, $"Yamux version byte {raw[0]}.");
                return default;
            case YamuxReadStatus.UnknownType:
                Fail(ErrorCode.UnknownFrameType, $"Unknown yamux type {raw[1]}.");
                return default;
        }

        switch (header.Type)
        {
            case YamuxFrameType.Ping:
                // A ping with SYN is a request, answered at once on stream 0 whatever its id; else an answer.
                HandlePing(header.Has(YamuxFlags.Syn) ? 0u : 1u, header.Opaque);
                break;
            case YamuxFrameType.GoAway:
                HandleYamuxGoAway(header.GoAwayCode);
                break;
            default:
                HandleStreamFrame(header);
                break;
        }

        return data.Slice(consumed);
    }

    /// <summary>A data or window update frame: its flags, then its credit or its payload.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void HandleStreamFrame(in YamuxFrameHeader header)
    {
        uint id = header.StreamId;
        bool isData = header.Type == YamuxFrameType.Data;
        if (isData && header.Length > int.MaxValue)
        {
            // No window this side grants is that large, whatever the stream.
            Fail(ErrorCode.FlowControlError, $"A data frame of {header.Length} bytes on stream {id}.");
            return;
        }

        int length = isData ? (int)header.Length : 0;
        Channel? channel = header.Has(YamuxFlags.Syn) ? OpenStream(id, length) : GetChannel(id);
        if (State != ConnectionState.Established)
        {
            return;
        }

        if (channel is null)
        {
            // Not open (never, or no longer: Go sends updates for streams this side closed): ignored.
            TakePayload(id, null, length);
            return;
        }

        if (header.Has(YamuxFlags.Ack) && !channel.IsRemote)
        {
            channel.Acknowledged = true;
        }

        if (header.Has(YamuxFlags.Rst))
        {
            // Before the stream's ACK, Go's RST refuses the open: nothing of it was processed.
            bool refused = !channel.IsRemote && !channel.Acknowledged;
            RemoveChannel(channel, refused ? ChannelCloseReason.Refused : ChannelCloseReason.RemoteReset, null, refused ? ErrorCode.Refused : ErrorCode.Cancel);
            TakePayload(id, null, length);
            return;
        }

        if (!isData)
        {
            if (header.Delta > 0)
            {
                AddCredit(channel, header.Delta, YamuxProtocol.MaxWindow, "2^32-1");
            }

            if (header.Has(YamuxFlags.Fin) && State == ConnectionState.Established && !channel.IsClosed)
            {
                HandleEndOfData(channel);
            }

            return;
        }

        TakePayload(id, channel, length);
        if (header.Has(YamuxFlags.Fin) && State == ConnectionState.Established)
        {
            if (_payloadRemaining > 0)
            {
                _endAfterPayload = true;
            }
            else if (!channel.IsClosed)
            {
                HandleEndOfData(channel);
            }
        }
    }

    /// <summary>
    /// A SYN: the peer opens a stream, with <paramref name="length"/> bytes of data on the same
    /// frame. Null when refused (RST sent) or on a connection error (an id the peer may not open,
    /// data beyond the initial window: judged before the stream exists). Ids need not increase:
    /// Go takes an id and queues its SYN after, so streams opened at once arrive in any order;
    /// an id closed before may come back.
    /// </summary>
    private Channel? OpenStream(uint id, int length)
    {
        if (!YamuxProtocol.IsPeerStreamId(id, peerIsClient: !IsClient))
        {
            Fail(ErrorCode.ProtocolError, $"The peer opened stream {id}, an id of {(id == 0 ? "the session" : "this side")}.");
            return null;
        }

        if (_channels.ContainsKey(id))
        {
            Fail(ErrorCode.ChannelIdInUse, $"The peer opened stream {id}, which is already open.");
            return null;
        }

        if (length > LocalSettings.InitialChannelWindow)
        {
            Fail(ErrorCode.FlowControlError, $"{length} bytes on channel {id} with {LocalSettings.InitialChannelWindow} bytes of credit.");
            return null;
        }

        _highestPeerId = Math.Max(_highestPeerId, id);
        return AcceptOpen(id, default);
    }

    /// <summary>
    /// A yamux go-away names no last stream: no channel closes by it (Go lets them all finish,
    /// and refuses with RST an open that crossed it); no new ones from now on.
    /// </summary>
    private void HandleYamuxGoAway(YamuxGoAwayCode code)
    {
        _goAwayReceived = true;
        Enqueue(new GoAwayReceived(uint.MaxValue, YamuxFrameEncoder.ErrorCodeOf(code)));
    }
}
