using System.Buffers;
using System.IO.Pipelines;
using TcpChan.Internal;

namespace TcpChan;

/// <summary>
/// The reading half of a <see cref="ChannelPipe"/>: received bytes go into a pipe of their own
/// (never paused: the channel's window already bounds it), and <see cref="AdvanceTo(SequencePosition, SequencePosition)"/>
/// turns consumed bytes into credit for the peer.
/// </summary>
internal sealed class ChannelPipeReader : PipeReader, IChannelSink
{
    private readonly ChannelPipe _owner;
    private readonly Pipe _pipe;
    private ReadOnlySequence<byte> _last;
    private bool _ended;

    public ChannelPipeReader(ChannelPipe owner)
    {
        _owner = owner;

        // Blocks from the session's pool: reused, no allocation per block.
        var pool = owner.Stream.Session.PipeMemory;
        _pipe = new Pipe(new PipeOptions(pool, minimumSegmentSize: pool.MaxBufferSize, pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    }

    public void OnData(ReadOnlySpan<byte> data)
    {
        // Under the driver's gate: copy into the pipe and publish; a flush never waits here.
        _pipe.Writer.Write(data);
        _ = _pipe.Writer.FlushAsync();
    }

    public void OnEnd(Exception? failure)
    {
        if (_ended)
        {
            return;
        }

        _ended = true;
        _pipe.Writer.Complete(failure);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var result = await _pipe.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        _last = result.Buffer;
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_pipe.Reader.TryRead(out result))
        {
            _last = result.Buffer;
            return true;
        }

        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        long taken = _last.Slice(_last.Start, consumed).Length;
        long left = _last.Length - taken;
        bool examinedAll = _last.Slice(examined).IsEmpty;
        _pipe.Reader.AdvanceTo(consumed, examined);
        _last = default;
        lock (_owner.Driver.Gate)
        {
            var channel = _owner.Channel;
            if (taken > 0)
            {
                channel.Consume((int)taken);
            }

            // Everything was examined, the window is full of it, and the reader wants more:
            // without more credit the peer cannot send what the reader waits for.
            if (examinedAll && left > 0 && left >= channel.ReceiveWindowSize)
            {
                channel.ExtendWindow((int)Math.Min(channel.ReceiveWindowSize, int.MaxValue));
            }

            // Credit, if any, goes out; most advances produce none and wake nothing.
            _owner.Driver.TakeEventsAndSignal();
        }
    }

    public override void CancelPendingRead() => _pipe.Reader.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        _pipe.Reader.Complete(exception);
        lock (_owner.Driver.Gate)
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
        }

        _owner.Driver.SignalSend();
    }
}
