namespace TcpChan.Internal;

/// <summary>Something the input pump wakes: a reader whose data came, a writer whose credit came, an accept queue with a new channel.</summary>
internal interface IWakeable
{
    /// <summary>Wakes the waiter; <paramref name="inline"/>: its continuation runs on this thread.</summary>
    void Wake(object? argument, bool inline);
}

/// <summary>
/// What one pass of the input pump woke: readers whose data it delivered, writers whose credit
/// came back, channels for the accept queue. The pump wakes them together once it has let go of
/// the gate and re-armed its receive, so that their continuations run on its thread (one thread
/// hop per round trip instead of two) while the next input is read on another. When the pump
/// has more input at once, the batch runs as a thread-pool work item instead.
/// </summary>
internal sealed class WakeBatch : IThreadPoolWorkItem
{
    private readonly List<(IWakeable Target, object? Argument)> _items = new();
    private readonly Action<WakeBatch> _runner;

    /// <param name="runner">How the owner runs a batch (<see cref="Run"/> in its context, then reuses the batch).</param>
    public WakeBatch(Action<WakeBatch> runner) => _runner = runner;

    public bool IsEmpty => _items.Count == 0;

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Add(IWakeable target, object? argument = null) => _items.Add((target, argument));

    /// <summary>Wakes everything, in the order added, on this thread; then the batch is empty.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Run(bool inline)
    {
        // Nothing adds to this batch while it runs: the pump fills another meanwhile.
        var items = _items;
        for (int i = 0; i < items.Count; i++)
        {
            var (target, argument) = items[i];
            target.Wake(argument, inline);
        }

        items.Clear();
    }

    /// <summary>Has the owner's runner run the batch on a thread-pool thread (no allocation: the batch is the work item).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void RunOnThreadPool() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

    void IThreadPoolWorkItem.Execute() => _runner(this);
}
