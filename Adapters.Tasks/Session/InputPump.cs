using System.Buffers;
using System.Runtime.CompilerServices;

namespace TcpChan.Internal;

/// <summary>
/// Transport to core: reads the transport, hands each chunk to the core under the gate, then,
/// with the gate free, hands the channels their data (<see cref="ChannelInbox"/>: a copy
/// straight into a waiting reader's buffer, or into the inbox) and wakes who was waiting.
/// </summary>
/// <remarks>
/// The core gets the chunk as memory, so a channel's data is a slice of the pump's buffer: the
/// channel posts it here (<see cref="PostData"/>) and the pump copies it once the gate is free,
/// in order with the channel's end or failure, before it reads into that buffer again.
/// Wake-ups wait for the end of the pass (<see cref="WakeBatch"/>). When the next receive has to
/// wait, the pump first registers its continuation (the next input is read on another thread)
/// and then runs the woken readers' continuations right here: one thread hop per chunk, as a
/// plain socket read, and the session never waits for user code. When more input is there at
/// once, the woken run on the thread pool instead and the pump goes on reading.
/// </remarks>
internal sealed class InputPump
{
    // Set while a thread runs a session's wake-ups inline: writes made then leave sending to
    // the output pump (a woken continuation must not make the next one wait for a send).
    [ThreadStatic]
    private static InputPump? t_waking;

    private readonly SessionCore _core;
    private readonly ITcpChanTransport _transport;
    private readonly ISequenceTransport? _sequences;
    private readonly CancellationTokenSource _stop = new();
    private readonly Action _onReceived;
    private readonly Action<ReadOnlySequence<byte>> _deliverSequence;
    private readonly Action<WakeBatch> _runWakes;
    private readonly DeliveryQueue _deliveries;
    private byte[]? _buffer;
    private ValueTask<bool> _receive;
    private WakeBatch _wakes;
    // Batches run on the thread pool can overlap the next passes: a few spares, so none is made per pass.
    private readonly FreeList<WakeBatch> _spareWakes = new(max: 8, keptWhenIdle: 8, release: null);
    private bool _parsing; // under the gate: the core is parsing this pump's input
    private int _ended;

    public InputPump(SessionCore core, ITcpChanTransport transport)
    {
        _core = core;
        _transport = transport;
        _sequences = transport as ISequenceTransport;
        _onReceived = () =>
        {
            // The receive that had to wait completed: the pump goes on, here.
            if (Finish(_receive))
            {
                ReceiveLoop();
            }
        };
        _deliverSequence = Process;
        _runWakes = RunWakes;
        _wakes = new WakeBatch(_runWakes);
        _deliveries = new DeliveryQueue(core);
    }

    /// <summary>True when this thread is running <paramref name="core"/>'s wake-ups inline.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public static bool IsWaking(SessionCore core) => t_waking?._core == core;

    public void Start()
    {
        if (_sequences is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(_core.Options.ReceiveBufferSize);
        }

        ThreadPool.UnsafeQueueUserWorkItem(static pump => pump.ReceiveLoop(), this, preferLocal: false);
    }

    /// <summary>The session is ending: a pending receive is canceled.</summary>
    public void Stop() => _stop.Cancel();

    // ---- what channels post while the core parses (under the gate) -------------------------

    /// <summary>Data for a channel's inbox: copied once the gate is free when this pump is parsing, now otherwise.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void PostData(ChannelInbox inbox, ReadOnlyMemory<byte> data)
    {
        if (_parsing)
        {
            _deliveries.AddData(inbox, data);
        }
        else
        {
            inbox.Deliver(data.Span, null, out bool due);
            if (due)
            {
                inbox.GiveCreditBackLocked();
            }
        }
    }

    /// <summary>The end of a channel's data, in order after its data.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void PostEnd(ChannelInbox inbox)
    {
        if (_parsing)
        {
            _deliveries.AddEnd(inbox);
        }
        else
        {
            inbox.End(null, out bool due);
            if (due)
            {
                inbox.GiveCreditBackLocked();
            }
        }
    }

    /// <summary>A channel's failure, in order after its data (which it drops).</summary>
    public void PostFailure(ChannelInbox inbox, Exception failure)
    {
        if (_parsing)
        {
            _deliveries.AddFailure(inbox, failure);
        }
        else
        {
            inbox.Fail(failure, null);
        }
    }

    /// <summary>Wakes a waiter (under the gate): at the end of this pump's pass when it is parsing, on the thread pool otherwise.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Wake(IWakeable target, object? argument = null)
    {
        if (_parsing)
        {
            _wakes.Add(target, argument);
        }
        else
        {
            target.Wake(argument, inline: false);
        }
    }

    // ---- the loop ------------------------------------------------------------------------

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void ReceiveLoop()
    {
        while (true)
        {
            // What the last pass woke is taken before the next receive starts: that receive may
            // complete on another thread at any moment, and its pass fills a new batch.
            var woken = TakeWakes();

            // (An async method: a failure comes in the ValueTask, never thrown here.)
            var receive = ReceiveAsync();
            if (!receive.IsCompleted)
            {
                // The next input resumes the pump on another thread; only then may this one run
                // user code, which may take as long as it likes.
                _receive = receive;
                receive.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onReceived);
                RunWakes(woken);
                return;
            }

            // More input was there at once (and is processed): the woken should not wait for it.
            if (woken.IsEmpty)
            {
                Recycle(woken);
            }
            else
            {
                woken.RunOnThreadPool();
            }

            if (!Finish(receive))
            {
                return;
            }
        }
    }

    /// <summary>Ends the pass of a receive; false when the pump stops (end of input, failure, session ending).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private bool Finish(ValueTask<bool> receive)
    {
        try
        {
            if (!receive.GetAwaiter().GetResult())
            {
                End(null);
                return false;
            }
        }
        catch (Exception ex)
        {
            End(ex);
            return false;
        }

        if (_core.IsEnding)
        {
            End(null);
            return false;
        }

        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private async ValueTask<bool> ReceiveAsync()
    {
        if (_sequences is not null)
        {
            // A pipe hands its buffers over in place (Process, per segment); false at its end.
            return await _sequences.ReceiveAsync(_deliverSequence, _stop.Token).ConfigureAwait(false);
        }

        int n = await _transport.ReceiveAsync(_buffer, _stop.Token).ConfigureAwait(false);
        if (n == 0)
        {
            return false;
        }

        Process(_buffer.AsMemory(0, n));
        return true;
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Process(ReadOnlySequence<byte> data)
    {
        foreach (var segment in data)
        {
            Process(segment);
        }
    }

    /// <summary>One chunk: the core parses it under the gate; the channels get their data after.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Process(ReadOnlyMemory<byte> chunk)
    {
        TcpChanMetrics.BytesReceived.Add(chunk.Length);
        lock (_core.Gate)
        {
            if (_core.IsEnding)
            {
                return;
            }

            _parsing = true;
            try
            {
                _core.Connection.DataReceived(chunk, Clock.Now);
                _core.TakeEvents();
            }
            finally
            {
                _parsing = false;
            }
        }

        _deliveries.Apply(_wakes);
        _core.Output.Kick();
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private WakeBatch TakeWakes()
    {
        var woken = _wakes;
        _wakes = _spareWakes.TryTake() ?? new WakeBatch(_runWakes);
        return woken;
    }

    /// <summary>Runs a batch of wake-ups on this thread, then sends what they wrote if nobody is sending.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void RunWakes(WakeBatch woken)
    {
        if (!woken.IsEmpty)
        {
            var outer = t_waking;
            t_waking = this;
            try
            {
                woken.Run(inline: true);
            }
            finally
            {
                t_waking = outer;
            }

            _core.Output.Kick();
        }

        Recycle(woken);
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Recycle(WakeBatch woken) => _spareWakes.Give(woken);

    private void End(Exception? error)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        _core.TransportLost(error);
        if (!_wakes.IsEmpty)
        {
            TakeWakes().RunOnThreadPool();
        }

        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _core.PartEnded();
    }
}
