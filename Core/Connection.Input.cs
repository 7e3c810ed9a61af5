using System.Text;
using TcpChan.Core.Frames;

namespace TcpChan.Core;

// Input: parsing frames out of whatever chunks arrive, and handling each.
public abstract partial class Connection
{
    // A header split across calls is gathered here (control frames are small and bounded);
    // payload bytes stream straight from the caller's span to the channel, never copied.
    private readonly byte[] _headerBuffer = new byte[FrameHeader.MaxLength];
    private int _headerLength;
    private int _payloadRemaining;
    private uint _payloadChannelId;
    private Channel? _payloadChannel;
    private ReadOnlyMemory<byte> _input; // while DataReceived(memory) runs: the memory its span is, for payload slices
    private bool _awaitingSettings;

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private ReadOnlySpan<byte> ReadHeader(ReadOnlySpan<byte> data)
    {
        FrameHeader header;
        FrameReadStatus status;
        int consumed;
        ReadOnlySpan<byte> raw;
        if (_headerLength == 0)
        {
            status = FrameHeader.TryRead(data, out header);
            if (status == FrameReadStatus.NeedMoreData)
            {
                data.CopyTo(_headerBuffer);
                _headerLength = data.Length;
                return default;
            }

            raw = data;
            consumed = header.Length;
        }
        else
        {
            int take = Math.Min(data.Length, _headerBuffer.Length - _headerLength);
            data.Slice(0, take).CopyTo(_headerBuffer.AsSpan(_headerLength));
            raw = _headerBuffer.AsSpan(0, _headerLength + take);
            status = FrameHeader.TryRead(raw, out header);
            if (status == FrameReadStatus.NeedMoreData)
            {
                // The buffer holds the longest header, so here all of data was taken.
                _headerLength += take;
                return default;
            }

            consumed = header.Length - _headerLength;
            _headerLength = 0;
        }

        FrameArrived();
        if (status == FrameReadStatus.UnknownType)
        {
            if (State == ConnectionState.Handshaking)
            {
                HandshakeFailure(HandshakeFailureReason.NotTcpChan, PeerBytes.NotTcpChan(IsClient, raw));
            }
            else
            {
                Fail(ErrorCode.UnknownFrameType, $"Unknown op {raw[1]} (version byte {raw[0]}).");
            }

            return default;
        }

        HandleHeader(header, raw.Slice(0, header.Length));
        return data.Slice(consumed);
    }

    /// <summary>A frame's header is in: the peer is alive (keepalive), and one more frame is counted.</summary>
    private void FrameArrived()
    {
        _lastReceivedAt = _now;
        _keepAlivePingOutstanding = false;
        FramesReceived++;
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void HandleHeader(in FrameHeader header, ReadOnlySpan<byte> raw)
    {
        if (State == ConnectionState.Handshaking)
        {
            if (_awaitingSettings)
            {
                HandleFirstSettings(header, raw);
            }
            else if (header.Type is FrameType.HandshakeRequest or FrameType.HandshakeReply)
            {
                OnHandshakeFrame(header);
            }
            else
            {
                HandshakeFailure(HandshakeFailureReason.UnexpectedFrame, PeerBytes.NotTcpChan(IsClient, raw, $"a {header.Type} frame, not a handshake {(IsClient ? "reply" : "request")}"));
            }

            return;
        }

        if (header.Version != Version)
        {
            Fail(ErrorCode.ProtocolError, $"Frame {header.Type} carries version byte {header.Version} on a version-{Version} connection.");
            return;
        }

        switch (header.Type)
        {
            case FrameType.CreateChannel:
                HandleCreateChannel(header.ChannelId, raw);
                break;
            case FrameType.CloseChannel:
                HandleCloseChannel(header.ChannelId);
                break;
            case FrameType.ChannelPayload:
                BeginPayload(header.ChannelId, header.PayloadLength);
                break;
            case FrameType.WindowUpdate:
                HandleWindowUpdate(header.ChannelId, header.Argument);
                break;
            case FrameType.ResetChannel:
                HandleReset(header.ChannelId, (ErrorCode)header.Argument);
                break;
            case FrameType.Ping:
                HandlePing(header.Value, header.Opaque);
                break;
            case FrameType.GoAway:
                HandleGoAway(header.Value, (ErrorCode)header.Argument);
                break;
            case FrameType.Settings:
                Fail(ErrorCode.ProtocolError, "Settings may be sent only once, right after the handshake.");
                break;
            default:
                Fail(ErrorCode.ProtocolError, $"{header.Type} after the handshake completed.");
                break;
        }
    }

    /// <summary>Both sides begin version 1 by announcing their settings; nothing else may come first.</summary>
    private void HandleFirstSettings(in FrameHeader header, ReadOnlySpan<byte> raw)
    {
        if (header.Type != FrameType.Settings || header.Version != Version)
        {
            HandshakeFailure(HandshakeFailureReason.UnexpectedFrame, $"Expected version-{Version} settings after the handshake, got {header.Type} (version byte {header.Version}).");
            return;
        }

        var entries = raw.Slice(FrameHeader.SettingsOffset);
        for (int i = 0; i < (int)header.Value; i++)
        {
            var entry = entries.Slice(i * FrameHeader.SettingEntryLength);
            string? error = PeerSettings.Apply(entry[0], System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(entry.Slice(1)));
            if (error is not null)
            {
                // Tell the peer why before giving up; nothing else will be read or sent.
                SendGoAway(ErrorCode.SettingsError);
                HandshakeFailure(HandshakeFailureReason.SettingsRejected, error);
                return;
            }
        }

        _awaitingSettings = false;
        StartVersion1Flow();
        HandshakeSucceeded();
    }

    private protected void HandshakeSucceeded()
    {
        State = ConnectionState.Established;
        Enqueue(new HandshakeSuccess(Version, Protocol));
        if (!IsVersion0)
        {
            // A first round trip, so that window tuning has a measure from the start.
            SendPing(userOpaque: null);
        }
    }

    /// <summary>After the reply: version 0 is ready; version 1 announces settings and waits for the peer's.</summary>
    private protected void HandshakeAccepted(byte version)
    {
        Version = version;
        if (version == 0)
        {
            HandshakeSucceeded();
            return;
        }

        WriteSettings();
        _awaitingSettings = true;
    }

    private void HandleCreateChannel(uint id, ReadOnlySpan<byte> raw)
    {
        if (Version == 0)
        {
            if (_channels.ContainsKey(id))
            {
                Fail(ErrorCode.ChannelIdInUse, $"The peer created channel {id}, which is already open.");
            }
            else if (MakeChannel(id, isRemote: true, null) is { } made)
            {
                RegisterChannel(made);
            }
            else
            {
                // The factory threw: the channel never opened here, so tell the peer it is closed.
                WriteEndFrame(id);
            }

            return;
        }

        if (id == 0 || IsLocalId(id))
        {
            Fail(ErrorCode.ProtocolError, $"The peer opened channel {id}, an id of {(id == 0 ? "the session" : "this side")}.");
            return;
        }

        if (id <= _highestPeerId)
        {
            Fail(ErrorCode.ChannelIdInUse, $"The peer opened channel {id}, not above its last id {_highestPeerId}.");
            return;
        }

        _highestPeerId = id;
        AcceptOpen(id, raw.Slice(FrameHeader.LabelOffset));
    }

    /// <summary>
    /// Version 1 and yamux: the peer's open of a new id: the channel, or a refusal (retryable,
    /// since nothing was processed) past the channel limit, after this side's go-away, or when
    /// the factory fails.
    /// </summary>
    private Channel? AcceptOpen(uint id, ReadOnlySpan<byte> labelBytes)
    {
        if (_goAwaySent || _peerOpenCount >= LocalSettings.MaxConcurrentChannels)
        {
            WriteResetFrame(id, ErrorCode.Refused);
            return null;
        }

        string? label = labelBytes.IsEmpty ? null : DecodeLabel(labelBytes);
        if (MakeChannel(id, isRemote: true, label) is not { } channel)
        {
            WriteResetFrame(id, ErrorCode.Refused);
            return null;
        }

        RegisterChannel(channel);
        return channel;
    }

    private static string DecodeLabel(ReadOnlySpan<byte> bytes)
    {
#if NETSTANDARD2_0
        return Encoding.UTF8.GetString(bytes.ToArray());
#else
        return Encoding.UTF8.GetString(bytes);
#endif
    }

    private void HandleCloseChannel(uint id)
    {
        if (Version == 0)
        {
            // Closing a channel that is not open is a no-op: both sides may close at once.
            if (_channels.TryGetValue(id, out var closed))
            {
                RemoveChannel(closed, ChannelCloseReason.RemoteClose, null, null);
            }

            return;
        }

        if (TryGetChannelV1(id, "end of data", out var channel) && channel is not null)
        {
            HandleEndOfData(channel);
        }
    }

    /// <summary>Version 1 and yamux: the peer ended its data on an open channel.</summary>
    private void HandleEndOfData(Channel channel)
    {
        if (channel.EndReceived)
        {
            ChannelError(channel, "A second end of data.");
            return;
        }

        channel.EndReceived = true;
        try
        {
            channel.RaiseEndOfData();
        }
        catch (Exception ex)
        {
            ChannelCallbackFailed(channel, ex);
            return;
        }

        MaybeComplete(channel);
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void BeginPayload(uint id, int length)
    {
        _payloadChannelId = id;
        _payloadRemaining = length;
        _payloadChannel = null;
        if (Version == 0)
        {
            _payloadChannel = GetChannel(id);
            if (_payloadChannel is null && length > 0)
            {
                Enqueue(new DataDiscarded(id, length));
            }

            return;
        }

        if (length > LocalSettings.MaxFramePayload)
        {
            Fail(ErrorCode.FrameSizeError, $"A payload frame of {length} bytes; the limit is {LocalSettings.MaxFramePayload}.");
            return;
        }

        if (length > _session.ReceiveRemaining)
        {
            Fail(ErrorCode.FlowControlError, $"{length} bytes on channel {id} with {_session.ReceiveRemaining} bytes of session credit.");
            return;
        }

        if (TryGetChannelV1(id, "payload", out var channel))
        {
            _session.ReceiveRemaining -= length;
            TakePayload(id, channel, length);
        }
    }

    /// <summary>
    /// Version 1 and yamux: a payload of <paramref name="length"/> bytes for the channel, checked
    /// against its window, goes to it as it arrives; or, for a channel that is not open (null) or
    /// stopped reading, is dropped and its credit given back.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void TakePayload(uint id, Channel? channel, int length)
    {
        _payloadChannelId = id;
        _payloadRemaining = length;
        _payloadChannel = null;
        if (channel is not null && length > channel.Flow.ReceiveRemaining)
        {
            Fail(ErrorCode.FlowControlError, $"{length} bytes on channel {id} with {channel.Flow.ReceiveRemaining} bytes of credit.");
            return;
        }

        if (channel is not null && channel.EndReceived)
        {
            ChannelError(channel, "Data after end of data.");
            channel = null;
        }

        if (channel is not null)
        {
            channel.Flow.ReceiveRemaining -= length;
        }

        if (channel is null || channel.ReadsClosed)
        {
            // Dropped, but the credit comes back: only live data may hold the budget.
            DropReceived(channel, length);
            if (length > 0)
            {
                Enqueue(new DataDiscarded(id, length));
            }

            _payloadChannel = null;
            return;
        }

        _payloadChannel = channel;
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private ReadOnlySpan<byte> ReadPayload(ReadOnlySpan<byte> data)
    {
        int count = Math.Min(_payloadRemaining, data.Length);
        _payloadRemaining -= count;
        var channel = _payloadChannel;
        if (channel is not null)
        {
            if (channel.IsClosed || channel.ReadsClosed)
            {
                // Closed (or reads closed) by its own callback while this frame was arriving.
                _payloadChannel = null;
                if (!IsVersion0)
                {
                    DropReceived(channel, count + _payloadRemaining);
                }

                Enqueue(new DataDiscarded(_payloadChannelId, count + _payloadRemaining));
            }
            else
            {
                // A manual-consume channel holds the bytes from the moment it sees them, so it
                // may consume them inside the callback already.
                bool manual = !IsVersion0 && !channel.AutoConsume;
                if (manual)
                {
                    channel.Flow.Unconsumed += count;
                    _session.Buffered += count;
                }

                try
                {
                    if (_input.IsEmpty)
                    {
                        channel.RaiseDataReceived(data.Slice(0, count));
                    }
                    else
                    {
                        // data is the tail of _input: the same bytes, as memory the channel may keep.
                        channel.RaiseDataReceived(_input.Slice(_input.Length - data.Length, count));
                    }
                }
                catch (Exception ex)
                {
                    ChannelCallbackFailed(channel, ex);
                }

                if (!IsVersion0 && !manual)
                {
                    Credit(channel, count);
                }
            }
        }

        if (_payloadRemaining == 0)
        {
            _payloadChannel = null;
            if (_endAfterPayload)
            {
                // Yamux: a FIN on this data frame ends the channel's data after its payload.
                _endAfterPayload = false;
                if (GetChannel(_payloadChannelId) is { } ended)
                {
                    HandleEndOfData(ended);
                }
            }
        }

        return data.Slice(count);
    }

    private void HandleWindowUpdate(uint id, uint increment)
    {
        if (increment == 0)
        {
            Fail(ErrorCode.ProtocolError, $"A window update of 0 for channel {id}.");
            return;
        }

        if (id == 0)
        {
            if (!_session.AddSendCredit(increment))
            {
                Fail(ErrorCode.FlowControlError, "Session credit above 2^31-1.");
                return;
            }

            FlushSessionBlocked();
            return;
        }

        if (TryGetChannelV1(id, "window update", out var channel) && channel is not null)
        {
            AddCredit(channel, increment, int.MaxValue, "2^31-1");
        }
    }

    /// <summary>Version 1 and yamux: the peer's credit for a channel, at most <paramref name="limit"/> in all.</summary>
    private void AddCredit(Channel channel, uint increment, long limit, string limitText)
    {
        if (!channel.Flow.AddSendCredit(increment, limit))
        {
            Fail(ErrorCode.FlowControlError, $"Credit of channel {channel.ChannelId} above {limitText}.");
            return;
        }

        FlushChannel(channel);
    }

    private void HandleReset(uint id, ErrorCode code)
    {
        if (!TryGetChannelV1(id, "reset", out var channel) || channel is null)
        {
            return;
        }

        var reason = code == ErrorCode.Refused && !channel.IsRemote ? ChannelCloseReason.Refused : ChannelCloseReason.RemoteReset;
        RemoveChannel(channel, reason, null, code);
    }

    private void HandleGoAway(uint lastChannelId, ErrorCode code)
    {
        _goAwayReceived = true;
        Enqueue(new GoAwayReceived(lastChannelId, code));
        foreach (var channel in SnapshotChannels())
        {
            if (!channel.IsRemote && channel.ChannelId > lastChannelId)
            {
                RemoveChannel(channel, ChannelCloseReason.Refused, null, ErrorCode.Refused);
            }
        }
    }

    /// <summary>
    /// Finds the channel a version-1 frame names. False after a connection error (an id
    /// never opened); true with null for a channel that was open once (a normal race: the
    /// frame is dropped).
    /// </summary>
    private bool TryGetChannelV1(uint id, string what, out Channel? channel)
    {
        if (_channels.TryGetValue(id, out channel))
        {
            return true;
        }

        bool seen = id != 0 && (IsLocalId(id) ? id < _nextLocalId : id <= _highestPeerId);
        if (!seen)
        {
            Fail(ErrorCode.ProtocolError, $"A {what} for channel {id}, which was never opened.");
            return false;
        }

        return true;
    }

    private void ResetInput()
    {
        _headerLength = 0;
        _payloadRemaining = 0;
        _payloadChannel = null;
        _endAfterPayload = false;
    }
}
