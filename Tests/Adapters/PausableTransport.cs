namespace TcpChan.Tests.Adapters;

/// <summary>A socket transport whose sends can be held back, so that a ping or a write stays pending for as long as a test needs.</summary>
internal sealed class PausableTransport : ITcpChanTransport
{
    private readonly ITcpChanTransport _inner;
    private volatile TaskCompletionSource _open = Opened();

    public PausableTransport(ITcpChanTransport inner) => _inner = inner;

    /// <summary>Sends from now on wait until <see cref="Resume"/>.</summary>
    public void Pause() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Resume() => _open.TrySetResult();

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) => _inner.ReceiveAsync(buffer, cancellationToken);

    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _open.Task.WaitAsync(cancellationToken);
        await _inner.SendAsync(data, cancellationToken);
    }

    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource();
        open.SetResult();
        return open;
    }
}
