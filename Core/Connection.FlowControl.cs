using TcpChan.Core.Frames;

namespace TcpChan.Core;

// Version-1 flow control. Receiving: each channel has a window and the session has a
// budget; credit goes back only for consumed bytes, in batches. Sending: a channel spends
// its own credit and the session's; what it cannot send waits in its queue.
public abstract partial class Connection
{
    private readonly Queue<Channel> _sessionBlocked = new();
    private long _sessionSendCredit;       // bytes the peer lets us send, all channels together
    private long _sessionReceiveRemaining; // credit the peer still has
    private long _sessionBuffered;         // delivered to manual-consume channels, not consumed yet
    private long _sessionPendingCredit;    // consumed or dropped, not yet given back

    /// <summary>Version 1: bytes received and held for the application, all channels together (never above the session budget).</summary>
    public long BufferedBytes => _sessionBuffered;

    /// <summary>Version 1: send credit the peer has given for the whole session.</summary>
    public long SessionSendCredit => _sessionSendCredit;

    private void StartVersion1Flow()
    {
        _nextLocalId = IsClient ? 1u : 2u;
        _sessionSendCredit = PeerSettings.InitialSessionWindow;
        _sessionReceiveRemaining = LocalSettings.InitialSessionWindow;
    }

    /// <summary>Sends as much as both credits allow, in frames the peer accepts; returns bytes sent.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private int SendWithCredit(Channel channel, ReadOnlySpan<byte> data)
    {
        int sent = 0;
        while (sent < data.Length)
        {
            long allowed = Math.Min(Math.Min(channel.SendCredit, _sessionSendCredit), data.Length - sent);
            if (allowed <= 0)
            {
                break;
            }

            int n = (int)Math.Min(allowed, PeerSettings.MaxFramePayload);
            WritePayloadFrame(channel.ChannelId, data.Slice(sent, n));
            channel.SendCredit -= n;
            _sessionSendCredit -= n;
            sent += n;
        }

        if (sent < data.Length && _sessionSendCredit <= 0 && !channel.SessionBlocked)
        {
            channel.SessionBlocked = true;
            _sessionBlocked.Enqueue(channel);
        }

        return sent;
    }

    /// <summary>Sends what a channel has queued, then its end of data, and says when it is writable again.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void FlushChannel(Channel channel)
    {
        var queue = channel.SendQueue;
        if (queue is { IsEmpty: false })
        {
            queue.Dequeue(SendWithCredit(channel, queue.Peek(int.MaxValue)));
            if (!queue.IsEmpty)
            {
                return;
            }
        }

        if (channel.WritesCompleted)
        {
            if (!channel.EndSent)
            {
                channel.EndSent = true;
                WriteShortFrame(FrameType.CloseChannel, channel.ChannelId);
                MaybeComplete(channel);
            }

            return;
        }

        if (channel.WantsWritable && channel.SendCredit > 0 && _sessionSendCredit <= 0)
        {
            // Its own credit is back but the session's is not: wait in line for the session's.
            if (!channel.SessionBlocked)
            {
                channel.SessionBlocked = true;
                _sessionBlocked.Enqueue(channel);
            }

            return;
        }

        if (channel.WantsWritable && channel.SendCredit > 0)
        {
            // The event goes first, so that what OnWritable does (even closing) is reported after it.
            channel.WantsWritable = false;
            Enqueue(new ChannelWritable(channel.ChannelId));
            try
            {
                channel.RaiseWritable();
            }
            catch (Exception ex)
            {
                ChannelCallbackFailed(channel, ex);
            }
        }
    }

    private void FlushSessionBlocked()
    {
        for (int n = _sessionBlocked.Count; n > 0 && _sessionSendCredit > 0; n--)
        {
            var channel = _sessionBlocked.Dequeue();
            channel.SessionBlocked = false;
            if (!channel.IsClosed)
            {
                FlushChannel(channel);
            }
        }
    }

    /// <summary>
    /// Consumed bytes earn credit back, sent once a quarter window has gathered or the peer runs
    /// low. Bytes dropped for a channel that stopped reading count too, so that its peer can
    /// send the rest and its end of data, and the channel can complete.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Credit(Channel channel, int count)
    {
        _sessionPendingCredit += count;
        if (!channel.IsClosed && !channel.EndReceived && State == ConnectionState.Established)
        {
            channel.PendingCredit += count;
            if (channel.PendingCredit > 0
                && (channel.PendingCredit >= channel.ReceiveWindow / 4 || channel.PendingCredit >= channel.ReceiveRemaining))
            {
                long increment = channel.PendingCredit + GrowWindow(channel);
                channel.ReceiveRemaining += increment;
                channel.PendingCredit = 0;
                channel.LastCreditAt = _now;
                WriteLongFrame(FrameType.WindowUpdate, channel.ChannelId, (uint)increment);
            }
        }

        FlushSessionCredit();
    }

    /// <summary>
    /// Auto-tuning: if the bytes consumed since the last credit, at the rate they came, make a
    /// bandwidth × RTT product above half the window, the window limits throughput: double it,
    /// up to the maximum and the session budget. Returns the extra credit.
    /// </summary>
    private long GrowWindow(Channel channel)
    {
        if (!_options.AutoTuneWindows || _smoothedRtt is not { } rtt || rtt <= TimeSpan.Zero)
        {
            return 0;
        }

        long limit = Math.Min(_options.MaxChannelWindow, LocalSettings.InitialSessionWindow);
        if (channel.ReceiveWindow >= limit)
        {
            return 0;
        }

        long elapsed = (_now - channel.LastCreditAt).Ticks;
        if ((double)channel.PendingCredit * rtt.Ticks * 2 < (double)channel.ReceiveWindow * elapsed)
        {
            return 0;
        }

        long grown = Math.Min(channel.ReceiveWindow * 2, limit);
        long extra = grown - channel.ReceiveWindow;
        channel.ReceiveWindow = grown;
        return extra;
    }

    internal void ExtendWindow(Channel channel, int additionalBytes)
    {
        if (Version == 0 || additionalBytes <= 0 || channel.IsClosed || channel.EndReceived || channel.ReadsClosed)
        {
            return;
        }

        // A channel's window never exceeds the session budget, which bounds what is buffered anyway.
        long grown = Math.Min(channel.ReceiveWindow + additionalBytes, LocalSettings.InitialSessionWindow);
        long extra = grown - channel.ReceiveWindow;
        if (extra <= 0)
        {
            return;
        }

        Enter();
        try
        {
            channel.ReceiveWindow = grown;
            channel.ReceiveRemaining += extra;
            WriteLongFrame(FrameType.WindowUpdate, channel.ChannelId, (uint)extra);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Credit for bytes dropped unread: the session's always, the channel's while it is still open.</summary>
    private void DropReceived(Channel? channel, int count)
    {
        if (channel is not null && !channel.IsClosed)
        {
            Credit(channel, count);
            return;
        }

        _sessionPendingCredit += count;
        FlushSessionCredit();
    }

    private void DropUnconsumed(Channel channel)
    {
        if (channel.Unconsumed > 0)
        {
            _sessionBuffered -= channel.Unconsumed;
            _sessionPendingCredit += channel.Unconsumed;
            channel.Unconsumed = 0;
            FlushSessionCredit();
        }
    }

    private void FlushSessionCredit()
    {
        if (_sessionPendingCredit == 0 || State != ConnectionState.Established)
        {
            return;
        }

        if (_sessionPendingCredit >= LocalSettings.InitialSessionWindow / 4 || _sessionPendingCredit >= _sessionReceiveRemaining)
        {
            _sessionReceiveRemaining += _sessionPendingCredit;
            WriteLongFrame(FrameType.WindowUpdate, 0, (uint)_sessionPendingCredit);
            _sessionPendingCredit = 0;
        }
    }
}
