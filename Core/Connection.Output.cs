using System.Text;
using TcpChan.Core.Frames;

namespace TcpChan.Core;

// Output: frames go into the DataTransmit not yet taken, so that everything produced between
// two takes leaves in one write; channels' queued data joins it when it is taken (events: at
// NextEvent; pulled: at TakeOutput), fairly (Fill, SendScheduler).
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

    /// <summary>
    /// True (the default) when output is reported as <see cref="DataTransmit"/> events; false
    /// when the driver takes it with <see cref="TakeOutput"/> when its transport is ready, so
    /// that channels' data stays queued (and scheduled fairly) until then. Set before
    /// <see cref="ConnectionEstablished()"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Set after <see cref="ConnectionEstablished()"/>.</exception>
    public bool OutputAsEvents
    {
        get => _outputAsEvents;
        set
        {
            if (State != ConnectionState.Idle)
            {
                throw new InvalidOperationException("Choose how output is taken before ConnectionEstablished.");
            }

            _outputAsEvents = value;
        }
    }

    private bool _outputAsEvents = true;

    /// <summary>True when <see cref="TakeOutput"/> has something: frames written, or queued data with credit.</summary>
    public bool HasOutput => _openTransmit is { Length: > 0 } || HasSendableData;

    /// <summary>How many channels' queued data waits for its turn to be taken (those with credit to send it).</summary>
    public int SendingChannels => _scheduler.Count;

    /// <summary>Bytes written or queued and not yet taken: the frames in the open output and the channels' queues.</summary>
    public long PendingOutputBytes => (_openTransmit?.Length ?? 0) + _queuedTotal;

    private bool HasSendableData => !_scheduler.IsEmpty && _session.SendCredit > 0;

    /// <summary>
    /// With <see cref="OutputAsEvents"/> false: the bytes to write now, about
    /// <paramref name="maxBytes"/> at most (control frames are never held back, so a transmit
    /// may hold more of them): the frames written since the last take, then channels' queued
    /// data, one frame per channel per turn, most urgent first. Null when there is nothing.
    /// Dispose the transmit once written.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="OutputAsEvents"/> is true.</exception>
    public DataTransmit? TakeOutput(int maxBytes)
    {
        if (_outputAsEvents)
        {
            throw new InvalidOperationException("This connection reports its output as DataTransmit events (OutputAsEvents).");
        }

        if (!HasOutput)
        {
            return null;
        }

        var transmit = OpenTransmit();
        Fill(transmit, maxBytes);
        _openTransmit = null;
        if (_drained.Count > 0)
        {
            RaiseDrained(); // what they write now goes into the next transmit
        }

        return transmit;
    }

    /// <summary>The transmit frames go into now; with events, queued as an event when opened.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private DataTransmit OpenTransmit()
    {
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
            if (_outputAsEvents)
            {
                Enqueue(transmit);
            }
        }

        return _openTransmit;
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private DataTransmit OutputTransmit()
    {
        FramesSent++;
        return OpenTransmit();
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
        var span = transmit.GetSpan(_encoder.DataHeaderLength + payload.Length);
        int header = _encoder.WriteDataHeader(span, channelId, payload.Length);
        payload.CopyTo(span.Slice(header));
        transmit.Advance(header + payload.Length);
    }

    /// <summary>One payload frame of the first <paramref name="count"/> bytes of a channel's queue (which keeps them).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void WriteQueuedFrame(uint channelId, Flow.ByteQueue queue, int count)
    {
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(_encoder.DataHeaderLength + count);
        int header = _encoder.WriteDataHeader(span, channelId, count);
        queue.CopyTo(span.Slice(header, count));
        transmit.Advance(header + count);
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

    /// <summary>Opens a channel (the label checked by <see cref="CreateChannel"/>; version 0 sends none).</summary>
    private void WriteOpen(uint channelId, string? label)
    {
        var transmit = OutputTransmit();
        var span = transmit.GetSpan(FrameEncoder.MaxControlFrameLength);
        byte[] labelBytes = label is null || IsVersion0 ? Array.Empty<byte>() : Encoding.UTF8.GetBytes(label);
        transmit.Advance(_encoder.WriteOpen(span, channelId, labelBytes, InitialWindowGrowth));
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
        transmit.Advance(_encoder.WritePing(transmit.GetSpan(FrameEncoder.MaxControlFrameLength), ack, opaque));
    }

    private void SendGoAway(ErrorCode code)
    {
        _goAwaySent = true;
        var transmit = OutputTransmit();
        transmit.Advance(_encoder.WriteGoAway(transmit.GetSpan(FrameEncoder.MaxControlFrameLength), _highestPeerId, code));
    }
}
