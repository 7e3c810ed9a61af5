namespace TcpChan.Core.Flow;

/// <summary>
/// Version-1 flow control of one channel, both directions. Sending: the credit the peer gave
/// and the bytes waiting for more. Receiving: the window this side grants, what the peer may
/// still send, and what was delivered but not yet consumed or not yet given back as credit.
/// </summary>
/// <remarks>
/// A mutable struct held in a field of its <see cref="Channel"/> (no allocation per channel);
/// the connection works on it in place (<c>channel.Flow.X</c>), never on a copy. The session's
/// side of the same accounting is <see cref="SessionFlow"/>.
/// </remarks>
internal struct ChannelFlow
{
    /// <summary>Bytes the peer lets this side send on the channel.</summary>
    public long SendCredit;

    /// <summary>Written, waiting for credit or for its turn (null until something had to wait).</summary>
    public ByteQueue? SendQueue;

    /// <summary>A write was held back: say when it may go (<see cref="Channel"/>'s OnWritable).</summary>
    public bool WantsWritable;

    /// <summary>A write left bytes queued: say when they have all been taken (OnWritable), so that a writer can count what left.</summary>
    public bool WantsDrained;

    /// <summary>Listed in the session's queue of channels waiting for session credit.</summary>
    public bool SessionBlocked;

    /// <summary>Waiting in the <see cref="SendScheduler"/> (queued data and credit), at urgency <see cref="SchedLevel"/>, linked in its ring.</summary>
    public bool Scheduled;

    public byte SchedLevel;

    public Channel? SchedNext;

    public Channel? SchedPrev;

    /// <summary>The window this side grants: what the peer may have in flight or unconsumed.</summary>
    public long ReceiveWindow;

    /// <summary>Credit the peer still has.</summary>
    public long ReceiveRemaining;

    /// <summary>Delivered to a manual-consume channel, not consumed yet.</summary>
    public long Unconsumed;

    /// <summary>Consumed (or dropped), not yet given back.</summary>
    public long PendingCredit;

    /// <summary>When credit was last given back (for window auto-tuning).</summary>
    public TimeSpan LastCreditAt;

    public readonly bool HasQueued => SendQueue is { IsEmpty: false };

    public readonly int QueuedBytes => SendQueue?.Length ?? 0;

    /// <summary>A channel opens with the peer's initial window to send into and ours to receive into.</summary>
    public void Open(long sendWindow, long receiveWindow, TimeSpan now)
    {
        SendCredit = sendWindow;
        ReceiveWindow = receiveWindow;
        ReceiveRemaining = receiveWindow;
        LastCreditAt = now;
    }

    /// <summary>Adds the peer's window update; false when the credit would pass <paramref name="limit"/> (a flow-control error): 2^31-1, or on yamux 2^32-1.</summary>
    public bool AddSendCredit(uint increment, long limit = int.MaxValue)
    {
        SendCredit += increment;
        return SendCredit <= limit;
    }

    /// <summary>Queues what could not be sent for want of credit.</summary>
    public void Queue(ReadOnlySpan<byte> data, BlockPool pool) => (SendQueue ??= new ByteQueue(pool)).Enqueue(data);

    /// <summary>
    /// Counts consumed (or dropped) bytes as credit owed. True when the credit is due now: a
    /// quarter window has gathered, or the peer is about to run out. The caller then sends
    /// <see cref="TakeCredit"/>.
    /// </summary>
    public bool OweCredit(int count)
    {
        PendingCredit += count;
        return PendingCredit > 0 && (PendingCredit >= ReceiveWindow / 4 || PendingCredit >= ReceiveRemaining);
    }

    /// <summary>The window update to send: the credit owed plus <paramref name="growth"/> (a larger window), at <paramref name="now"/>.</summary>
    public long TakeCredit(long growth, TimeSpan now)
    {
        long increment = PendingCredit + growth;
        ReceiveWindow += growth;
        ReceiveRemaining += increment;
        PendingCredit = 0;
        LastCreditAt = now;
        return increment;
    }

    /// <summary>
    /// Auto-tuning: when the bytes consumed since the last credit, at the rate they came,
    /// make a bandwidth x RTT product above half the window, the window limits throughput:
    /// double it, up to <paramref name="limit"/>. Returns the growth (0 for none).
    /// </summary>
    public readonly long Growth(TimeSpan rtt, TimeSpan now, long limit)
    {
        if (rtt <= TimeSpan.Zero || ReceiveWindow >= limit)
        {
            return 0;
        }

        long elapsed = (now - LastCreditAt).Ticks;
        if ((double)PendingCredit * rtt.Ticks * 2 < (double)ReceiveWindow * elapsed)
        {
            return 0;
        }

        return Math.Min(ReceiveWindow * 2, limit) - ReceiveWindow;
    }

    /// <summary>Grows the window by up to <paramref name="additional"/>, never past <paramref name="limit"/>; returns the growth.</summary>
    public long Extend(long additional, long limit)
    {
        long grown = Math.Min(ReceiveWindow + additional, limit);
        long extra = grown - ReceiveWindow;
        if (extra <= 0)
        {
            return 0;
        }

        ReceiveWindow = grown;
        ReceiveRemaining += extra;
        return extra;
    }
}
