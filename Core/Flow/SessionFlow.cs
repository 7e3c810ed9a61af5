namespace TcpChan.Core.Flow;

/// <summary>
/// Version-1 flow control of the whole session: the credit the peer gave for all channels
/// together, and the session window this side grants (its receive budget), with what is
/// buffered for the application and the credit owed.
/// </summary>
/// <remarks>A mutable struct held in a field of the connection, used in place.</remarks>
internal struct SessionFlow
{
    /// <summary>Bytes the peer lets this side send, all channels together.</summary>
    public long SendCredit;

    /// <summary>Credit the peer still has for the whole session.</summary>
    public long ReceiveRemaining;

    /// <summary>Delivered to manual-consume channels, not consumed yet (never above the budget).</summary>
    public long Buffered;

    /// <summary>Consumed or dropped, not yet given back.</summary>
    public long PendingCredit;

    public void Open(long sendWindow, long receiveWindow)
    {
        SendCredit = sendWindow;
        ReceiveRemaining = receiveWindow;
    }

    /// <summary>Adds the peer's session window update; false when the credit would pass 2^31-1.</summary>
    public bool AddSendCredit(uint increment)
    {
        SendCredit += increment;
        return SendCredit <= int.MaxValue;
    }

    /// <summary>True when the credit owed is due: a quarter of the budget gathered, or the peer about to run out.</summary>
    public readonly bool CreditDue(long budget) =>
        PendingCredit > 0 && (PendingCredit >= budget / 4 || PendingCredit >= ReceiveRemaining);

    /// <summary>The session window update to send now.</summary>
    public long TakeCredit()
    {
        long increment = PendingCredit;
        ReceiveRemaining += increment;
        PendingCredit = 0;
        return increment;
    }
}
