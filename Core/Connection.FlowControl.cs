using TcpChan.Core.Flow;
using TcpChan.Core.Frames;

namespace TcpChan.Core;

// Version-1 flow control. Receiving: each channel has a window and the session has a
// budget; credit goes back only for consumed bytes, in batches. Sending: a channel spends
// its own credit and the session's; what it cannot send waits in its queue. The state is in
// Flow/ (ChannelFlow per channel, SessionFlow here); this file decides when frames go.
public abstract partial class Connection
{
    private readonly Queue<Channel> _sessionBlocked = new();
    private SessionFlow _session;

    /// <summary>Version 1: bytes received and held for the application, all channels together (never above the session budget).</summary>
    public long BufferedBytes => _session.Buffered;

    /// <summary>Version 1: send credit the peer has given for the whole session.</summary>
    public long SessionSendCredit => _session.SendCredit;

    private long SessionBudget => LocalSettings.InitialSessionWindow;

    private void StartVersion1Flow()
    {
        _nextLocalId = IsClient ? 1u : 2u;
        _session.Open(PeerSettings.InitialSessionWindow, SessionBudget);
    }

    /// <summary>Sends as much as both credits allow, in frames the peer accepts; returns bytes sent.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private int SendWithCredit(Channel channel, ReadOnlySpan<byte> data)
    {
        ref var flow = ref channel.Flow;
        int sent = 0;
        while (sent < data.Length)
        {
            long allowed = Math.Min(Math.Min(flow.SendCredit, _session.SendCredit), data.Length - sent);
            if (allowed <= 0)
            {
                break;
            }

            int n = (int)Math.Min(allowed, PeerSettings.MaxFramePayload);
            WritePayloadFrame(channel.ChannelId, data.Slice(sent, n));
            flow.SendCredit -= n;
            _session.SendCredit -= n;
            sent += n;
        }

        if (sent < data.Length && _session.SendCredit <= 0)
        {
            WaitForSessionCredit(channel);
        }

        return sent;
    }

    private void WaitForSessionCredit(Channel channel)
    {
        if (!channel.Flow.SessionBlocked)
        {
            channel.Flow.SessionBlocked = true;
            _sessionBlocked.Enqueue(channel);
        }
    }

    /// <summary>Sends what a channel has queued, then its end of data, and says when it is writable again.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void FlushChannel(Channel channel)
    {
        ref var flow = ref channel.Flow;
        var queue = flow.SendQueue;
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

        if (!flow.WantsWritable || flow.SendCredit <= 0)
        {
            return;
        }

        if (_session.SendCredit <= 0)
        {
            // Its own credit is back but the session's is not: wait in line for the session's.
            WaitForSessionCredit(channel);
            return;
        }

        flow.WantsWritable = false;
        try
        {
            channel.RaiseWritable();
        }
        catch (Exception ex)
        {
            ChannelCallbackFailed(channel, ex);
        }
    }

    private void FlushSessionBlocked()
    {
        for (int n = _sessionBlocked.Count; n > 0 && _session.SendCredit > 0; n--)
        {
            var channel = _sessionBlocked.Dequeue();
            channel.Flow.SessionBlocked = false;
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
        _session.PendingCredit += count;
        if (!channel.IsClosed && !channel.EndReceived && State == ConnectionState.Established && channel.Flow.OweCredit(count))
        {
            long increment = channel.Flow.TakeCredit(WindowGrowth(channel), _now);
            WriteLongFrame(FrameType.WindowUpdate, channel.ChannelId, (uint)increment);
        }

        FlushSessionCredit();
    }

    /// <summary>How much auto-tuning grows a busy channel's window, up to the maximum and the session budget.</summary>
    private long WindowGrowth(Channel channel)
    {
        if (!_options.AutoTuneWindows || _smoothedRtt is not { } rtt)
        {
            return 0;
        }

        return channel.Flow.Growth(rtt, _now, Math.Min(_options.MaxChannelWindow, SessionBudget));
    }

    internal void ExtendWindow(Channel channel, int additionalBytes)
    {
        if (Version == 0 || additionalBytes <= 0 || channel.IsClosed || channel.EndReceived || channel.ReadsClosed)
        {
            return;
        }

        // A channel's window never exceeds the session budget, which bounds what is buffered anyway.
        long extra = channel.Flow.Extend(additionalBytes, SessionBudget);
        if (extra > 0)
        {
            WriteLongFrame(FrameType.WindowUpdate, channel.ChannelId, (uint)extra);
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

        _session.PendingCredit += count;
        FlushSessionCredit();
    }

    private void DropUnconsumed(Channel channel)
    {
        ref var flow = ref channel.Flow;
        if (flow.Unconsumed > 0)
        {
            _session.Buffered -= flow.Unconsumed;
            _session.PendingCredit += flow.Unconsumed;
            flow.Unconsumed = 0;
            FlushSessionCredit();
        }
    }

    private void FlushSessionCredit()
    {
        if (State == ConnectionState.Established && _session.CreditDue(SessionBudget))
        {
            WriteLongFrame(FrameType.WindowUpdate, 0, (uint)_session.TakeCredit());
        }
    }
}
