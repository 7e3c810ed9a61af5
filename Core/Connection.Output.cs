using System.Text;
using TcpChan.Core.Frames;

namespace TcpChan.Core;

// Output: frames go into the DataTransmit that is queued and not yet taken, so that
// everything produced between two takes leaves in one write.
public abstract partial class Connection
{
    // Disposed transmits wait here for reuse. A driver may hold more than one at once (one being
    // sent while the next is filled and taken), so there is room for two; a transmit that finds
    // no room hands its buffer back to the pool.
    private readonly DataTransmit?[] _spareTransmits = new DataTransmit?[2];
    private DataTransmit? _openTransmit;

    internal void ReturnTransmit(DataTransmit transmit)
    {
        for (int i = 0; i < _spareTransmits.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _spareTransmits[i], transmit, null) is null)
            {
                return;
            }
        }

        transmit.ReleaseBuffer();
    }

    private DataTransmit? TakeSpareTransmit()
    {
        for (int i = 0; i < _spareTransmits.Length; i++)
        {
            if (Volatile.Read(ref _spareTransmits[i]) is not null && Interlocked.Exchange(ref _spareTransmits[i], null) is { } spare)
            {
                return spare;
            }
        }

        return null;
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private DataTransmit OutputTransmit()
    {
        FramesSent++;
        if (_openTransmit is null)
        {
            var transmit = TakeSpareTransmit();
            if (transmit is null)
            {
                transmit = new DataTransmit(this);
            }
            else
            {
                transmit.Reopen();
            }

            _openTransmit = transmit;
            Enqueue(transmit);
        }

        return _openTransmit;
    }

    private protected void WriteShortFrame(FrameType type, uint value)
    {
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(FrameWriter.ShortFrameLength);
        span[0] = Version;
        span[1] = (byte)type;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span.Slice(2), value);
        transmit.Advance(FrameWriter.ShortFrameLength);
    }

    private void WriteLongFrame(FrameType type, uint value, uint argument)
    {
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(FrameWriter.LongFrameLength);
        span[0] = Version;
        span[1] = (byte)type;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span.Slice(2), value);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span.Slice(6), argument);
        transmit.Advance(FrameWriter.LongFrameLength);
    }

    /// <summary>Version 0: all of <paramref name="data"/>, in frames of at most 65,535 bytes.</summary>
    private void WritePayloadFrames(uint channelId, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = Math.Min(data.Length, FrameHeader.MaxPayloadLength);
            WritePayloadFrame(channelId, data.Slice(0, n));
            data = data.Slice(n);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void WritePayloadFrame(uint channelId, ReadOnlySpan<byte> payload)
    {
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(FrameWriter.PayloadHeaderLength + payload.Length);
        transmit.Advance(FrameWriter.WriteChannelPayload(span, Version, channelId, payload));
    }

    private static int ValidateLabel(string? label)
    {
        int labelLength = label is null ? 0 : Encoding.UTF8.GetByteCount(label);
        if (labelLength > FrameHeader.MaxLabelLength)
        {
            throw new ArgumentException($"A label is at most 255 bytes of UTF-8; this one is {labelLength}.", nameof(label));
        }

        return labelLength;
    }

    private void WriteOpen(uint channelId, string? label)
    {
        int labelLength = ValidateLabel(label);
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(FrameWriter.OpenFrameLength(labelLength));
        byte[] labelBytes = label is null ? Array.Empty<byte>() : Encoding.UTF8.GetBytes(label);
        transmit.Advance(FrameWriter.WriteOpenChannel(span, Version, channelId, labelBytes));
    }

    private void WriteSettings()
    {
        Span<KeyValuePair<byte, uint>> entries = stackalloc KeyValuePair<byte, uint>[4];
        entries[0] = new((byte)SettingId.InitialChannelWindow, (uint)LocalSettings.InitialChannelWindow);
        entries[1] = new((byte)SettingId.MaxFramePayload, (uint)LocalSettings.MaxFramePayload);
        entries[2] = new((byte)SettingId.MaxConcurrentChannels, (uint)LocalSettings.MaxConcurrentChannels);
        entries[3] = new((byte)SettingId.InitialSessionWindow, (uint)LocalSettings.InitialSessionWindow);
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(FrameWriter.SettingsFrameLength(entries.Length));
        transmit.Advance(FrameWriter.WriteSettings(span, Version, entries));
    }

    private void WritePing(bool ack, ulong opaque)
    {
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(FrameWriter.PingFrameLength);
        transmit.Advance(FrameWriter.WritePing(span, Version, ack, opaque));
    }

    private void SendGoAway(ErrorCode code)
    {
        _goAwaySent = true;
        WriteLongFrame(FrameType.GoAway, _highestPeerId, (uint)code);
    }
}
