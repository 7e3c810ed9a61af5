namespace TcpChan.Internal;

/// <summary>
/// What the core handed the channels while it parsed one chunk (under the gate): data as slices
/// of the chunk, ends, failures, in order. The input pump applies them once it let go of the
/// gate and before it reads into that chunk's memory again, then gives back, in one go, the
/// credit of the readers that took data straight into their buffers.
/// </summary>
internal sealed class DeliveryQueue
{
    private readonly SessionCore _core;
    private readonly List<Delivery> _deliveries = new();
    private readonly List<ChannelInbox> _creditsDue = new();

    public DeliveryQueue(SessionCore core) => _core = core;

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void AddData(ChannelInbox inbox, ReadOnlyMemory<byte> data) => _deliveries.Add(new Delivery(inbox, data, null, end: false));

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void AddEnd(ChannelInbox inbox) => _deliveries.Add(new Delivery(inbox, default, null, end: true));

    public void AddFailure(ChannelInbox inbox, Exception failure) => _deliveries.Add(new Delivery(inbox, default, failure, end: false));

    /// <summary>The data, ends and failures the chunk produced, in order; then the credit that became due, in one go.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Apply(WakeBatch wakes)
    {
        var deliveries = _deliveries;
        for (int i = 0; i < deliveries.Count; i++)
        {
            var d = deliveries[i];
            bool due = false;
            if (d.Failure is { } failure)
            {
                d.Inbox.Fail(failure, wakes);
            }
            else if (d.IsEnd)
            {
                d.Inbox.End(wakes, out due);
            }
            else
            {
                d.Inbox.Deliver(d.Data.Span, wakes, out due);
            }

            if (due)
            {
                _creditsDue.Add(d.Inbox);
            }
        }

        deliveries.Clear();
        if (_creditsDue.Count == 0)
        {
            return;
        }

        lock (_core.Gate)
        {
            foreach (var inbox in _creditsDue)
            {
                inbox.GiveCreditBackLocked();
            }

            _core.TakeEvents();
        }

        _creditsDue.Clear();
    }

    private readonly struct Delivery
    {
        public Delivery(ChannelInbox inbox, ReadOnlyMemory<byte> data, Exception? failure, bool end)
        {
            Inbox = inbox;
            Data = data;
            Failure = failure;
            IsEnd = end;
        }

        public ChannelInbox Inbox { get; }

        public ReadOnlyMemory<byte> Data { get; }

        public Exception? Failure { get; }

        public bool IsEnd { get; }
    }
}
