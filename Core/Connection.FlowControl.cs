using TcpChan.Core.Flow;
using TcpChan.Core.Yamux;

namespace TcpChan.Core;

// Version-1 flow control. Receiving: each channel has a window and the session has a
// budget; credit goes back only for consumed bytes, in batches. Sending: a channel spends
// its own credit and the session's; what it cannot send waits in its queue. The state is in
// Flow/ (ChannelFlow per channel, SessionFlow here); this file decides when frames go.
// Yamux has the channels' windows only: no session window either way, so the budget bounds
// what windows grow by instead (_grownBytes).
public abstract partial class Connection
{
    private readonly Queue<Channel> _sessionBlocked = new();
    private readonly SendScheduler _scheduler = new();
    private readonly List<Channel> _drained = new(); // queues emptied by the last fill, told after it (RaiseDrained)

    // Free blocks of the channels' send queues: up to 4 MiB, about what the adapters let wait unsent.
    private readonly BlockPool _sendBlocks = new(keep: (4 << 20) / ByteQueue.BlockSize);
    private SessionFlow _session;
    private long _queuedTotal;        // bytes in the channels' send queues, all together
    private Channel? _directChannel;  // the first channel whose write went straight out since the output was last taken
    private long _directBytes;        // what went straight out since then, all channels together
    private long _grownBytes;         // yamux: what the open channels' windows grew above their initial size, together

    /// <summary>
    /// Version 1: bytes received and held for the application, all channels together (never
    /// above the session budget). Yamux: never above the initial window times the open
    /// channels plus the budget (docs/PROTOCOL.md, "Yamux").
    /// </summary>
    public long BufferedBytes => _session.Buffered;

    /// <summary>
    /// Version 1: send credit the peer has given for the whole session and no channel's queued
    /// bytes have spoken for yet. Yamux, which has no session window: <see cref="long.MaxValue"/>.
    /// </summary>
    public long SessionSendCredit => _yamux ? long.MaxValue : Math.Max(0, _session.SendCredit - _queuedTotal);

    private long SessionBudget => LocalSettings.InitialSessionWindow;

    /// <summary>Yamux: what a stream's window starts with above the protocol's 256 KiB, granted on its open or accept (0 by default).</summary>
    private uint InitialWindowGrowth => _yamux ? (uint)(LocalSettings.InitialChannelWindow - YamuxProtocol.InitialStreamWindow) : 0;

    private void StartVersion1Flow()
    {
        _nextLocalId = IsClient ? 1u : 2u;
        if (_yamux)
        {
            // Streams start at 256 KiB both ways; this side's data frames are its own choice.
            PeerSettings.InitialChannelWindow = (int)YamuxProtocol.InitialStreamWindow;
            PeerSettings.MaxFramePayload = LocalSettings.MaxFramePayload;
            _session.Open(long.MaxValue, long.MaxValue);
            return;
        }

        _session.Open(PeerSettings.InitialSessionWindow, SessionBudget);
    }

    /// <summary>
    /// The one frame a write may send straight away (nobody else waits to send): as much of
    /// <paramref name="data"/> as both credits and one frame allow. Returns the bytes sent.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private int SendDirect(Channel channel, ReadOnlySpan<byte> data)
    {
        // As WritableBytes: credit that other channels' queued bytes have not spoken for.
        long allowed = Math.Min(WritableBytes(channel), PeerSettings.MaxFramePayload);
        int n = (int)Math.Min(allowed, data.Length);
        if (n <= 0)
        {
            return 0;
        }

        WritePayloadFrame(channel.ChannelId, data.Slice(0, n));
        SpendCredit(channel, n);
        _directChannel ??= channel;
        _directBytes += n;
        return n;
    }

    private void SpendCredit(Channel channel, int n)
    {
        channel.Flow.SendCredit -= n;
        _session.SendCredit -= n;
    }

    /// <summary>Queued data with credit waits for its turn; an event (or the driver's next take) will fill the output with it.</summary>
    private void Schedule(Channel channel)
    {
        if (!channel.Flow.HasQueued || channel.Flow.SendCredit <= 0)
        {
            return;
        }

        _scheduler.Add(channel);
        if (OutputAsEvents && _session.SendCredit > 0)
        {
            OpenTransmit(); // the DataTransmit event the next NextEvent fills
        }
    }

    /// <summary>
    /// Fills <paramref name="transmit"/> with queued data, up to <paramref name="budget"/> bytes:
    /// by urgency, then in turns, one frame per channel per turn (a full frame for a channel
    /// alone, a <see cref="ConnectionOptions.SendQuantum"/> while others wait). A channel whose
    /// queue empties after it completed its writes sends its end of data.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Fill(DataTransmit transmit, long budget)
    {
        _directBytes = 0;
        if (_directChannel is { } direct)
        {
            // It had its turn when its write went straight out.
            _directChannel = null;
            _scheduler.Rotate(direct);
        }

        budget -= transmit.Length;
        while (_scheduler.Next is { } channel)
        {
            if (_session.SendCredit <= 0)
            {
                return; // every channel waits for the session's credit
            }

            ref var flow = ref channel.Flow;
            long credit = Math.Min(flow.SendCredit, _session.SendCredit);
            if (credit <= 0)
            {
                _scheduler.Remove(channel); // back when its window update comes (FlushChannel)
                continue;
            }

            int maxFrame = PeerSettings.MaxFramePayload;
            long turn = Math.Min(Math.Min(flow.QueuedBytes, credit), _scheduler.IsAlone(channel) ? maxFrame : Math.Min(maxFrame, _options.SendQuantum));
            long room = budget - _encoder.DataHeaderLength;
            if (turn > room && transmit.Length > 0)
            {
                return; // a whole turn next time rather than part of one now (turns stay equal)
            }

            // An empty transmit always gets a frame, however small the budget: every take makes progress.
            int n = (int)Math.Min(turn, Math.Max(1, room));
            var queue = flow.SendQueue!;
            WriteQueuedFrame(channel.ChannelId, queue, n);
            queue.Dequeue(n);
            _queuedTotal -= n;
            SpendCredit(channel, n);
            budget -= _encoder.DataHeaderLength + n;
            if (flow.HasQueued)
            {
                _scheduler.Rotate(channel);
                continue;
            }

            _scheduler.Remove(channel);
            if (channel.WritesCompleted)
            {
                SendEnd(channel);
            }
            else if (flow.WantsDrained)
            {
                _drained.Add(channel);
            }
        }
    }

    /// <summary>
    /// Channels whose queued bytes have all been taken hear it (OnWritable), once the transmit
    /// that took them is out of the connection's hands: a writer that counts what left (to
    /// consume what it echoed, say) learns it even when credit never ran short.
    /// </summary>
    private void RaiseDrained()
    {
        // OnWritable may write, queue again and drain again in a later take: take this list first.
        for (int i = 0; i < _drained.Count; i++)
        {
            var channel = _drained[i];
            ref var flow = ref channel.Flow;
            if (channel.IsClosed || channel.WritesCompleted || !flow.WantsDrained || flow.HasQueued)
            {
                continue;
            }

            flow.WantsDrained = false;
            if (WritableBytes(channel) > 0)
            {
                flow.WantsWritable = false; // this call says it too
            }

            try
            {
                channel.RaiseWritable();
            }
            catch (Exception ex)
            {
                ChannelCallbackFailed(channel, ex);
            }
        }

        _drained.Clear();
    }

    private void DropQueued(Channel channel)
    {
        _scheduler.Remove(channel);
        if (ReferenceEquals(_directChannel, channel))
        {
            _directChannel = null;
        }

        if (channel.Flow.SendQueue is { } queue)
        {
            _queuedTotal -= queue.Length;
            queue.Clear();
        }
    }

    private void WaitForSessionCredit(Channel channel)
    {
        if (!channel.Flow.SessionBlocked)
        {
            channel.Flow.SessionBlocked = true;
            _sessionBlocked.Enqueue(channel);
        }
    }

    /// <summary>Version 1: this side's end of data, once, then the channel may complete.</summary>
    private void SendEnd(Channel channel)
    {
        if (!channel.EndSent)
        {
            channel.EndSent = true;
            WriteEndFrame(channel.ChannelId);
            MaybeComplete(channel);
        }
    }

    /// <summary>
    /// Credit came back or writes were completed: queued data takes its turn again, a channel with
    /// nothing queued sends its end of data, and a writer held back hears it may go on.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void FlushChannel(Channel channel)
    {
        ref var flow = ref channel.Flow;
        if (flow.HasQueued)
        {
            Schedule(channel);
        }
        else if (channel.WritesCompleted)
        {
            SendEnd(channel);
        }

        if (channel.WritesCompleted || !flow.WantsWritable)
        {
            return;
        }

        if (WritableBytes(channel) <= 0)
        {
            if (flow.SendCredit - flow.QueuedBytes > 0)
            {
                // Its own credit is back but the session's is not: wait in line for the session's.
                WaitForSessionCredit(channel);
            }

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
        if (OutputAsEvents && !_scheduler.IsEmpty)
        {
            OpenTransmit(); // queued data may go again
        }

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
            WriteWindowUpdateFrame(channel.ChannelId, increment);
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

        return Grow(channel.Flow.Growth(rtt, _now, Math.Min(_options.MaxChannelWindow, SessionBudget)));
    }

    internal void ExtendWindow(Channel channel, int additionalBytes)
    {
        if (IsVersion0 || additionalBytes <= 0 || channel.IsClosed || channel.EndReceived || channel.ReadsClosed)
        {
            return;
        }

        // A channel's window never exceeds the session budget, which bounds what is buffered anyway.
        long extra = channel.Flow.Extend(Grow(Math.Min(additionalBytes, SessionBudget - channel.Flow.ReceiveWindow)), SessionBudget);
        if (extra > 0)
        {
            WriteWindowUpdateFrame(channel.ChannelId, extra);
        }
    }

    /// <summary>
    /// Yamux: growth of a window comes out of the budget, until the channel closes
    /// (<see cref="ReleaseGrowth"/>): returns how much of <paramref name="wanted"/> the budget
    /// has left. Version 1, whose session window bounds everything already: all of it.
    /// </summary>
    private long Grow(long wanted)
    {
        if (!_yamux || wanted <= 0)
        {
            return wanted;
        }

        long granted = Math.Min(wanted, SessionBudget - _grownBytes);
        _grownBytes += granted;
        return granted;
    }

    /// <summary>Yamux: a closed channel's growth goes back to the budget.</summary>
    private void ReleaseGrowth(Channel channel)
    {
        if (_yamux)
        {
            _grownBytes -= channel.Flow.ReceiveWindow - LocalSettings.InitialChannelWindow;
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
        if (_yamux)
        {
            // No session window: nothing to give back.
            _session.PendingCredit = 0;
            return;
        }

        if (State == ConnectionState.Established && _session.CreditDue(SessionBudget))
        {
            WriteWindowUpdateFrame(0, _session.TakeCredit());
        }
    }
}
