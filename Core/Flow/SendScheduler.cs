namespace TcpChan.Core.Flow;

/// <summary>
/// Which channel's queued data goes next. Channels with data queued and credit to send it wait
/// here by urgency (0 first, 7 last); within one urgency they take turns, one frame each, so a
/// channel streaming megabytes never holds up a small write on another for more than a frame,
/// and equal channels stay within a frame of each other. Strict between urgencies: an urgent
/// channel's frames go before any less urgent one's.
/// </summary>
/// <remarks>
/// Each urgency is a ring of channels linked through their <see cref="ChannelFlow"/> (no
/// allocation, O(1) to add, remove, rotate or move to another urgency, which is how a change of
/// urgency takes effect at the next frame).
/// </remarks>
internal sealed class SendScheduler
{
    /// <summary>Urgencies 0 (most urgent) to 7 (<see cref="SendUrgency"/>).</summary>
    public const int Levels = SendUrgency.Least + 1;

    private readonly Channel?[] _heads = new Channel?[Levels];
    private int _count;

    public bool IsEmpty => _count == 0;

    /// <summary>Channels waiting (for tests and diagnostics).</summary>
    public int Count => _count;

    /// <summary>The channel whose turn it is: the first of the most urgent ring, or null.</summary>
    public Channel? Next
    {
        get
        {
            if (_count == 0)
            {
                return null;
            }

            foreach (var head in _heads)
            {
                if (head is not null)
                {
                    return head;
                }
            }

            return null;
        }
    }

    /// <summary>True when <paramref name="channel"/> (the next) is the only channel that could send now.</summary>
    public bool IsAlone(Channel channel) => _count == 1 && ReferenceEquals(Next, channel);

    /// <summary>Joins the ring of the channel's urgency, last; nothing when it is waiting already.</summary>
    public void Add(Channel channel)
    {
        ref var flow = ref channel.Flow;
        if (flow.Scheduled)
        {
            return;
        }

        int level = channel.Urgency;
        var head = _heads[level];
        if (head is null)
        {
            flow.SchedNext = channel;
            flow.SchedPrev = channel;
            _heads[level] = channel;
        }
        else
        {
            var tail = head.Flow.SchedPrev!;
            flow.SchedNext = head;
            flow.SchedPrev = tail;
            tail.Flow.SchedNext = channel;
            head.Flow.SchedPrev = channel;
        }

        flow.Scheduled = true;
        flow.SchedLevel = (byte)level;
        _count++;
    }

    /// <summary>Leaves its ring; nothing when it is not waiting.</summary>
    public void Remove(Channel channel)
    {
        ref var flow = ref channel.Flow;
        if (!flow.Scheduled)
        {
            return;
        }

        int level = flow.SchedLevel;
        if (ReferenceEquals(flow.SchedNext, channel))
        {
            _heads[level] = null;
        }
        else
        {
            flow.SchedPrev!.Flow.SchedNext = flow.SchedNext;
            flow.SchedNext!.Flow.SchedPrev = flow.SchedPrev;
            if (ReferenceEquals(_heads[level], channel))
            {
                _heads[level] = flow.SchedNext;
            }
        }

        flow.SchedNext = null;
        flow.SchedPrev = null;
        flow.Scheduled = false;
        _count--;
    }

    /// <summary>The channel had its turn and has more: it goes to the end of its ring.</summary>
    public void Rotate(Channel channel)
    {
        if (!channel.Flow.Scheduled)
        {
            return;
        }

        int level = channel.Flow.SchedLevel;
        if (ReferenceEquals(_heads[level], channel))
        {
            _heads[level] = channel.Flow.SchedNext;
        }
        else
        {
            // Not at the head: take it out and put it back last.
            Remove(channel);
            Add(channel);
        }
    }

    /// <summary>The channel's urgency changed: it moves to the end of its new ring, if it is waiting.</summary>
    public void Reschedule(Channel channel)
    {
        if (channel.Flow.Scheduled && channel.Flow.SchedLevel != channel.Urgency)
        {
            Remove(channel);
            Add(channel);
        }
    }
}
