using System.Buffers;
using System.IO.Pipelines;
using TcpChan.Internal;

namespace TcpChan;

/// <summary>
/// The reading half of a <see cref="ChannelPipe"/>: reads the channel's inbox in place (the
/// blocks the session copied the data into; no second copy), and
/// <see cref="AdvanceTo(SequencePosition, SequencePosition)"/> turns consumed bytes into credit
/// for the peer.
/// </summary>
internal sealed class ChannelPipeReader : PipeReader
{
    private readonly ChannelPipe _owner;
    private ReadOnlySequence<byte> _last; // what the last read returned
    private long _examined;               // of what is held: the next read waits for more than this
    private bool _canceled;

    public ChannelPipeReader(ChannelPipe owner) => _owner = owner;

    private ChannelInbox Inbox => _owner.Channel.Inbox;

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryRead(out var result))
            {
                return result;
            }

            await Inbox.WaitForDataAsync(_examined, cancellationToken).ConfigureAwait(false);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_owner.InputCompleted)
        {
            throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
        }

        if (_canceled)
        {
            _canceled = false;
            _last = Inbox.TryPeek(out _);
            result = new ReadResult(_last, isCanceled: true, isCompleted: false);
            return true;
        }

        var data = Inbox.TryPeek(out bool ended);
        if (data.Length > _examined || ended)
        {
            _last = data;
            result = new ReadResult(data, isCanceled: false, isCompleted: ended);
            return true;
        }

        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        long taken = _last.Slice(_last.Start, consumed).Length;
        long left = _last.Length - taken;
        bool examinedAll = _last.Slice(examined).IsEmpty;
        _last = default;

        // Everything examined: the next read waits for more than what is left.
        _examined = examinedAll ? left : 0;
        if (taken > 0)
        {
            Inbox.Advance(taken);
        }

        // Everything was examined, the window is full of it, and the reader wants more:
        // without more credit the peer cannot send what the reader waits for.
        var channel = _owner.Channel;
        if (examinedAll && left > 0 && left >= channel.ReceiveWindowSize)
        {
            var core = _owner.Core;
            lock (core.Gate)
            {
                channel.ExtendWindow((int)Math.Min(channel.ReceiveWindowSize, int.MaxValue));
                core.TakeEvents();
            }

            core.Output.Kick();
        }
    }

    public override void CancelPendingRead()
    {
        _canceled = true;
        Inbox.WakePipeView();
    }

    public override void Complete(Exception? exception = null)
    {
        if (_owner.InputCompleted)
        {
            return;
        }

        var core = _owner.Core;
        lock (core.Gate)
        {
            _owner.InputCompleted = true;
            if (exception is not null)
            {
                _owner.Channel.Abort(ChannelPipe.CodeOf(exception));
            }
            else
            {
                _owner.MaybeClose();
            }

            core.TakeEvents();
        }

        // Nobody reads any more: what arrives is dropped and its credit given back.
        Inbox.Discard();
        core.Output.Kick();
    }
}
