using System.Runtime.CompilerServices;
using System.Threading.Channels;
using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>
/// The channels the peer opened that wait for <see cref="TcpChanSession.AcceptChannelAsync"/>.
/// A channel is offered under the gate while the input pump parses its open; it joins the
/// queue once the pump has let go of the gate (the pump wakes the queue), so no acceptor runs
/// under the gate. Beyond the backlog a channel is refused, which the opener may retry.
/// </summary>
internal sealed class AcceptQueue : IWakeable
{
    // Synchronous continuations: a channel joins the queue only from the input pump's wake-ups,
    // which run with no lock held, so a waiting acceptor goes on right there (a thread hop fewer).
    private readonly Channel<TcpChanStream> _accepted = System.Threading.Channels.Channel.CreateUnbounded<TcpChanStream>(
        new UnboundedChannelOptions { SingleWriter = true, AllowSynchronousContinuations = true });
    private readonly SessionCore _core;
    private readonly int _backlog;
    private int _queued;

    public AcceptQueue(SessionCore core, int backlog)
    {
        _core = core;
        _backlog = backlog;
    }

    /// <summary>A channel the peer opened (under the gate): queued, or refused when the backlog is full.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Offer(StreamChannel channel)
    {
        if (Interlocked.Increment(ref _queued) > _backlog)
        {
            Interlocked.Decrement(ref _queued);
            channel.Abort(ErrorCode.Refused);
            return;
        }

        _core.Input.Wake(this, channel.Stream);
    }

    /// <summary>No more channels: waiting and later accepts end (woken on the thread pool: the caller may hold the gate).</summary>
    public void Complete() => ThreadPool.UnsafeQueueUserWorkItem(static writer => writer.TryComplete(), _accepted.Writer, preferLocal: false);

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public async ValueTask<TcpChanStream> AcceptAsync(CancellationToken cancellationToken)
    {
        try
        {
            var stream = await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Decrement(ref _queued);
            return stream;
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            throw _core.EndException();
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public async IAsyncEnumerable<TcpChanStream> AcceptAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await _accepted.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (_accepted.Reader.TryRead(out var stream))
            {
                Interlocked.Decrement(ref _queued);
                yield return stream;
            }
        }

        if (_core.Error is { Reason: not SessionEndReason.Closed } error)
        {
            throw error.Rethrow();
        }
    }

    /// <summary>The input pump hands over an offered channel.</summary>
    void IWakeable.Wake(object? argument, bool inline)
    {
        if (!_accepted.Writer.TryWrite((TcpChanStream)argument!))
        {
            // The session ended meanwhile: its channels are closed already.
            Interlocked.Decrement(ref _queued);
        }
    }
}
