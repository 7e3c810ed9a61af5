using TcpChan.Core.Frames;

namespace TcpChan.Core;

// Channels: ids, opening and closing, and what the application asks of a channel.
public abstract partial class Connection
{
    private readonly Random _random;
    private uint _nextLocalId;   // version 1: the next id this side opens (client odd, server even)
    private uint _highestPeerId; // version 1: the highest id the peer opened
    private int _peerOpenCount;  // version 1: open channels the peer opened

    private bool IsLocalId(uint id) => (id & 1) == (IsClient ? 1u : 0u);

    private uint NextChannelId()
    {
        if (IsVersion0)
        {
            // Random ids, as the reference picks them: two sides creating at once rarely collide.
            while (true)
            {
                uint id = ((uint)_random.Next(1 << 16) << 16) | (uint)_random.Next(1 << 16);
                if (!_channels.ContainsKey(id))
                {
                    return id;
                }
            }
        }

        if (_nextLocalId > uint.MaxValue - 2)
        {
            throw new InvalidOperationException("This connection has used all its channel ids; open a new connection.");
        }

        uint next = _nextLocalId;
        _nextLocalId += 2;
        return next;
    }

    /// <summary>Asks the factory for a channel; null (and a ChannelClosed event) if it throws.</summary>
    private Channel? MakeChannel(uint id, bool isRemote, string? label)
    {
        try
        {
            var channel = _channelFactory(new ChannelOpenInfo(id, isRemote, label))
                ?? throw new InvalidOperationException("The channel factory returned null.");
            channel.Attach(this, id, isRemote, label);
            return channel;
        }
        catch (Exception ex)
        {
            Enqueue(new ChannelClosed(id, ChannelCloseReason.ApplicationError, ex));
            return null;
        }
    }

    /// <summary>Makes the channel open and reports it (<see cref="ChannelCreated"/>).</summary>
    private void RegisterChannel(Channel channel)
    {
        if (!IsVersion0)
        {
            channel.Flow.Open(PeerSettings.InitialChannelWindow, LocalSettings.InitialChannelWindow, _now);
            if (channel.IsRemote)
            {
                _peerOpenCount++;
            }
        }

        if (_yamux && channel.IsRemote)
        {
            // Yamux: accepted at once, exactly once (a Go opener counts each ACK as one open done).
            WriteAcceptFrame(channel.ChannelId);
        }

        _channels.Add(channel.ChannelId, channel);
        Enqueue(new ChannelCreated(channel));
    }

    /// <summary>Closes a channel for good: the one place every channel ends.</summary>
    private void RemoveChannel(Channel channel, ChannelCloseReason reason, Exception? exception, ErrorCode? code)
    {
        if (!_channels.Remove(channel.ChannelId))
        {
            return;
        }

        // What it had queued is dropped (a close has sent it first; a reset drops it).
        DropQueued(channel);

        if (!IsVersion0)
        {
            if (channel.IsRemote)
            {
                _peerOpenCount--;
            }

            // Whatever the application had not consumed is dropped with the channel.
            DropUnconsumed(channel);
            ReleaseGrowth(channel);
        }

        channel.MarkClosed(reason, code);
        Enqueue(new ChannelClosed(channel, reason, exception, code));
    }

    private List<Channel> SnapshotChannels() => new(_channels.Values);

    private void ChannelCallbackFailed(Channel channel, Exception ex)
    {
        if (channel.IsClosed || !_channels.ContainsKey(channel.ChannelId))
        {
            return;
        }

        if (State == ConnectionState.Established)
        {
            if (IsVersion0)
            {
                WriteEndFrame(channel.ChannelId);
            }
            else
            {
                WriteResetFrame(channel.ChannelId, ErrorCode.Cancel);
            }
        }

        RemoveChannel(channel, ChannelCloseReason.ApplicationError, ex, IsVersion0 ? null : ErrorCode.Cancel);
    }

    /// <summary>A channel-level error: the peer misused one channel; reset it, the connection goes on.</summary>
    private void ChannelError(Channel channel, string message)
    {
        WriteResetFrame(channel.ChannelId, ErrorCode.ProtocolError);
        RemoveChannel(channel, ChannelCloseReason.LocalReset, new InvalidDataException(message), ErrorCode.ProtocolError);
    }

    /// <summary>Version 1 and yamux: a channel is done when both sides ended and everything was consumed.</summary>
    private void MaybeComplete(Channel channel)
    {
        if (channel.EndSent && channel.EndReceived && channel.Flow.Unconsumed == 0 && !channel.IsClosed)
        {
            RemoveChannel(channel, ChannelCloseReason.Completed, null, null);
        }
    }

    internal long WritableBytes(Channel channel)
    {
        if (channel.IsClosed || channel.WritesCompleted)
        {
            return 0;
        }

        if (IsVersion0)
        {
            return long.MaxValue;
        }

        // Credit not yet spoken for by bytes queued: the channel's, and the session's.
        return Math.Max(0, Math.Min(channel.Flow.SendCredit - channel.Flow.QueuedBytes, _session.SendCredit - _queuedTotal));
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    internal int WriteChannel(Channel channel, ReadOnlySpan<byte> data, bool queue)
    {
        CheckWritable(channel);

        if (IsVersion0)
        {
            // Version 0 keeps the reference's behaviour: everything goes out at once, in call order.
            WritePayloadFrames(channel.ChannelId, data);
            return data.Length;
        }

        // Nobody else waits to send: the first frame goes straight into the output (one copy).
        // After one write did so since the output was last taken, only small writes follow it
        // there, up to a quantum in all (64 channels' requests leave as one write, and a later
        // urgent frame still waits behind one frame and a quantum at most). The rest waits in the
        // channel's queue for its turn (SendScheduler), so other channels' frames interleave.
        int taken = 0;
        if (!channel.Flow.HasQueued && _scheduler.IsEmpty && (_directChannel is null || data.Length <= _options.SendQuantum - _directBytes))
        {
            taken = SendDirect(channel, data);
            data = data.Slice(taken);
        }

        if (data.IsEmpty)
        {
            return taken;
        }

        // Write takes everything, TryWrite what the credit allows (what it takes is spoken for:
        // it leaves in turn).
        long room = queue ? data.Length : WritableBytes(channel);
        int accepted = (int)Math.Min(data.Length, room);
        if (accepted > 0)
        {
            channel.Flow.Queue(data.Slice(0, accepted), _sendBlocks);
            channel.Flow.WantsDrained = true;
            _queuedTotal += accepted;
            Schedule(channel);
        }

        if (WritableBytes(channel) <= 0)
        {
            // Say when more may be written: when credit comes (OnWritable).
            channel.Flow.WantsWritable = true;
            if (_session.SendCredit - _queuedTotal <= 0)
            {
                WaitForSessionCredit(channel);
            }
        }

        return taken + accepted;
    }

    private void CheckWritable(Channel channel)
    {
        if (!ReferenceEquals(GetChannel(channel.ChannelId), channel))
        {
            throw new ChannelClosedException(channel.ChannelId, channel.CloseReason ?? ChannelCloseReason.ConnectionClosed, channel.CloseCode);
        }

        if (channel.WritesCompleted)
        {
            throw new InvalidOperationException($"Channel {channel.ChannelId}: writes were completed; nothing more can be written.");
        }
    }

    internal void Reschedule(Channel channel) => _scheduler.Reschedule(channel);

    internal int WriteReferenced(Channel channel, ReadOnlyMemory<byte> data, IReferencedWrite owner)
    {
        CheckWritable(channel);
        if (_outputAsEvents || IsVersion0 || _directChannel is not null || channel.Flow.HasQueued || !_scheduler.IsEmpty)
        {
            return 0;
        }

        int n = (int)Math.Min(Math.Min(WritableBytes(channel), PeerSettings.MaxFramePayload), data.Length);
        if (n <= 0)
        {
            return 0;
        }

        var transmit = OutputTransmit();
        transmit.Advance(_encoder.WriteDataHeader(transmit.GetSpan(_encoder.DataHeaderLength), channel.ChannelId, n));
        transmit.AddReference(data.Slice(0, n), owner);
        SpendCredit(channel, n);
        _directChannel = channel;
        _directBytes += n; // counts against the quantum small writes may follow it with
        return n;
    }

    internal void CompleteWrites(Channel channel)
    {
        if (IsVersion0)
        {
            CloseChannelCore(channel);
            return;
        }

        if (channel.WritesCompleted)
        {
            return;
        }

        channel.WritesCompleted = true;
        FlushChannel(channel);
    }

    internal void CloseChannelCore(Channel channel)
    {
        if (!_channels.ContainsKey(channel.ChannelId))
        {
            return;
        }

        if (IsVersion0)
        {
            WriteEndFrame(channel.ChannelId);
            RemoveChannel(channel, ChannelCloseReason.LocalClose, null, null);
            return;
        }

        // Version 1 and yamux: end our side, stop reading, and finish when the peer ends too. What was
        // held unread is dropped, and its credit goes back so the peer can finish sending.
        channel.ReadsClosed = true;
        int held = (int)channel.Flow.Unconsumed;
        channel.Flow.Unconsumed = 0;
        _session.Buffered -= held;
        DropReceived(channel, held);

        channel.WritesCompleted = true;
        FlushChannel(channel);
        MaybeComplete(channel);
    }

    internal void AbortChannel(Channel channel, ErrorCode code)
    {
        if (IsVersion0)
        {
            CloseChannelCore(channel);
            return;
        }

        WriteResetFrame(channel.ChannelId, code);
        RemoveChannel(channel, ChannelCloseReason.LocalReset, null, code);
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    internal void Consume(Channel channel, int count)
    {
        if (IsVersion0 || channel.ReadsClosed)
        {
            // Version 0 has no credit to give back; after Close() what was held was already
            // dropped and credited: either way there is nothing to do.
            return;
        }

        if (count < 0 || count > channel.Flow.Unconsumed)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Channel {channel.ChannelId} has {channel.Flow.Unconsumed} unconsumed bytes.");
        }

        if (count == 0)
        {
            return;
        }

        channel.Flow.Unconsumed -= count;
        _session.Buffered -= count;
        Credit(channel, count);
        MaybeComplete(channel);
    }
}
