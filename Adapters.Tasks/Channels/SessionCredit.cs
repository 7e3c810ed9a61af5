namespace TcpChan.Internal;

/// <summary>
/// Credit that a session's readers took and have not given back to the core yet, all channels
/// together. A reader gives its channel's credit back in batches (a channel's batch is an
/// eighth of its window, at most 64 KiB), so most reads take no session lock; the session's
/// total stays under a sixteenth of its budget, so that many channels each holding a little
/// cannot starve the session window (with nothing left to read, a peer would wait for credit
/// nobody gives).
/// </summary>
internal sealed class SessionCredit
{
    private const int MaxChannelBatch = 64 * 1024;
    private readonly long _sessionBatch;
    private long _withheld;

    public SessionCredit(int sessionBudget) => _sessionBatch = Math.Max(1, sessionBudget / 16);

    /// <summary>A channel with this window gives its credit back once it has taken this much.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public static int ChannelBatch(long receiveWindow) => (int)Math.Max(1, Math.Min(receiveWindow / 8, MaxChannelBatch));

    /// <summary>Counts bytes a reader took; true when the session's total says to give credit back now.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public bool Taken(int count) => Interlocked.Add(ref _withheld, count) >= _sessionBatch;

    /// <summary>Bytes given back (or dropped with their channel).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Returned(int count)
    {
        if (count != 0)
        {
            Interlocked.Add(ref _withheld, -count);
        }
    }
}
