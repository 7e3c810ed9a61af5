using System.Buffers;
using Microsoft.Extensions.Logging;
using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>
/// Runs one core connection over one transport: a receive loop that hands the core whatever
/// arrives, a send loop that writes everything the core produced (all frames queued while the
/// previous write was in flight leave in one write), and a timer loop for the core's deadlines.
/// Every call into the core holds <see cref="Gate"/>, and whoever calls it takes its events right
/// there (<see cref="DrainEvents"/>): output goes to the outbox for the send loop, the rest to the
/// handler, so a send stuck on a dead peer never delays a keepalive timeout or a protocol error.
/// A stream writer sends its own output when no send is in progress (<see cref="SendNowAsync"/>),
/// one thread hop less per write; one sender at a time owns the transport's send side, so frames
/// leave in order. The session ends in one place, <see cref="Terminate"/>, which fails every
/// pending operation.
/// </summary>
internal sealed class ConnectionDriver
{
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MaxTimerSleep = TimeSpan.FromSeconds(1);

    private readonly ITcpChanTransport _transport;
    private readonly TcpChanSessionOptions _options;
    private readonly IDriverHandler _handler;
    private readonly AsyncSignal _sendSignal = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _sendAbort = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TaskCompletionSource> _drainWaiters = new();
    private List<DataTransmit> _outbox = new();  // taken from the core, not yet sent (under the gate)
    private List<DataTransmit> _sending = new(); // the send loop's batch in flight
    private long _unsent;                         // bytes written or in the outbox, not yet sent (under the gate)
    private long _framesSentReported;
    private long _framesReceivedReported;
    private int _channelsReported;
    private TimeSpan? _rttReported;
    private ErrorCode? _peerGoAway;
    private bool _terminating;
    private int _sendOwned; // 1 while the send loop or a writer sends: one sender at a time, in order
    private byte[]? _coalesce; // the send side's buffer for batches of small transmits
    private List<AsyncSignal> _wakes = new();      // readers and writers to wake once the receive loop lets go of the gate
    private List<AsyncSignal> _waking = new();
    private bool _deferWakes;                      // under the gate: the receive loop is handing input to the core
    private ReadOnlyMemory<byte> _input;           // under the gate: the input the core is parsing, while it is
    private List<(StreamChannel Channel, ReadOnlyMemory<byte> Data)> _copies = new(); // received data to copy once the gate is free
    private List<(StreamChannel Channel, ReadOnlyMemory<byte> Data)> _copying = new();
    private const int CoalesceLimit = 16 * 1024;       // transmits up to this size are copied into one write
    private const int CoalesceBufferSize = 256 * 1024;
    private int _loopsRunning;

    public ConnectionDriver(Connection connection, ITcpChanTransport transport, TcpChanSessionOptions options, IDriverHandler handler)
    {
        Connection = connection;
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _options = options;
        _handler = handler;
    }

    /// <summary>The lock every call into the core holds.</summary>
    public object Gate { get; } = new();

    public Connection Connection { get; }

    public ILogger? Logger => _options.Logger;

    /// <summary>Why the session ended, once it has.</summary>
    public TcpChanSessionException? Error { get; private set; }

    public bool IsTerminating => _terminating;

    /// <summary>Completes when the loops have stopped, every event was handled and the transport is closed.</summary>
    public Task Completion => _completion.Task;

    public void Start()
    {
        TcpChanMetrics.Sessions.Add(1);
        lock (Gate)
        {
            Connection.ConnectionEstablished(Clock.Now);
            DrainEvents();
        }

        _loopsRunning = 3;
        _ = Task.Run(ReceiveLoopAsync);
        _ = Task.Run(SendLoopAsync);
        _ = Task.Run(TimerLoopAsync);
    }

    /// <summary>
    /// Wakes a channel's reader or writer (under <see cref="Gate"/>). While the receive loop hands
    /// input to the core, the wake-up waits until it lets go of the gate: a reader woken at once
    /// would only block on the gate the loop still holds, for the rest of the input.
    /// </summary>
    public void Wake(AsyncSignal signal)
    {
        if (_deferWakes)
        {
            _wakes.Add(signal);
        }
        else
        {
            signal.Set();
        }
    }

    /// <summary>
    /// For a channel that received <paramref name="data"/> (under <see cref="Gate"/>): when it is
    /// a slice of the input the receive loop is handing to the core, notes it and returns true;
    /// the loop copies it into the channel's buffer (<see cref="StreamChannel.FinishCopy"/>) once
    /// it has let go of the gate, before it reads more input, so the copies of a whole input
    /// chunk do not hold up every other call into the session.
    /// </summary>
    public bool TryDeferCopy(StreamChannel channel, ReadOnlySpan<byte> data)
    {
        if (!_deferWakes || _input.IsEmpty)
        {
            return false;
        }

        var input = _input.Span;
        nint offset = System.Runtime.CompilerServices.Unsafe.ByteOffset(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(input),
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(data));
        if (offset < 0 || offset > input.Length - data.Length)
        {
            return false;
        }

        _copies.Add((channel, _input.Slice((int)offset, data.Length)));
        return true;
    }

    /// <summary>Tells the send loop that the core may have output (after an API call into it).</summary>
    public void SignalSend() => _sendSignal.Set();

    /// <summary>Counts bytes a channel wrote (under <see cref="Gate"/>), for the writers' limit.</summary>
    public void AddUnsent(int count) => _unsent += count;

    /// <summary>True when more than the limit is written but not yet sent. Under <see cref="Gate"/>.</summary>
    public bool IsOverUnsentLimit => _unsent > _options.MaxUnsentBytes && !_terminating;

    /// <summary>
    /// After an API call into the core, under <see cref="Gate"/>: takes its events (output into
    /// the outbox). True when there is output; the caller sends it with <see cref="SendNowAsync"/>
    /// or wakes the send loop with <see cref="SignalSend"/>.
    /// </summary>
    public bool TakeEvents() => DrainEvents(signal: false);

    /// <summary>Takes the core's events after an API call (under <see cref="Gate"/>) and wakes the send loop if there is output.</summary>
    public void TakeEventsAndSignal() => DrainEvents(signal: true);

    /// <summary>
    /// For a writer that has just produced output: sends the outbox from this thread when no
    /// send is in progress, without waking the send loop; otherwise the sender in progress takes
    /// it before it lets go. Never called from the receive loop, which must not wait for sends.
    /// The returned task never faults: a failed send ends the session.
    /// </summary>
    public ValueTask SendNowAsync()
    {
        if (Interlocked.CompareExchange(ref _sendOwned, 1, 0) != 0)
        {
            return default;
        }

        return SendOwnedAsync();
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendOwnedAsync()
    {
        try
        {
            if (await SendAllAsync().ConfigureAwait(false))
            {
                // The session is ending: the send loop sends what is left and closes the transport.
                SignalSend();
            }
        }
        catch (Exception ex)
        {
            if (!_terminating)
            {
                Terminate(new TcpChanSessionException(SessionEndReason.ConnectionLost, $"Sending failed: {ex.Message}", innerException: ex), graceful: false);
            }
        }
    }

    /// <summary>Waits while more than the limit is written but not yet sent; fails once the session ended.</summary>
    public Task WaitForDrainAsync(CancellationToken cancellationToken)
    {
        // The common case without the lock: a racy read only moves a soft limit by one write.
        if (!Volatile.Read(ref _terminating) && Volatile.Read(ref _unsent) <= _options.MaxUnsentBytes)
        {
            return Task.CompletedTask;
        }

        TaskCompletionSource waiter;
        lock (Gate)
        {
            if (_terminating)
            {
                // What was written may never leave: the writer must not take it for sent.
                return Task.FromException(EndException());
            }

            if (_unsent <= _options.MaxUnsentBytes)
            {
                return Task.CompletedTask;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _drainWaiters.Add(waiter);
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>A new exception carrying <see cref="Error"/> (one per throw, so stack traces stay truthful).</summary>
    public TcpChanSessionException EndException()
    {
        var error = Error ?? new TcpChanSessionException(SessionEndReason.Closed, "The session was closed.");
        return new TcpChanSessionException(error.Reason, error.Message, error.Code, error);
    }

    /// <summary>
    /// Ends the session, once: the core closes every channel (which fails their pending
    /// operations), their events are handled, the handler fails what it holds, and the send
    /// loop sends what is queued (a graceful close's go-away) within a bound, then closes the
    /// transport. A transport lost during the handshake is a failed handshake (a server that
    /// rejects the magic just closes); lost after the peer's go-away without error, a close.
    /// </summary>
    public void Terminate(TcpChanSessionException error, bool graceful)
    {
        lock (Gate)
        {
            if (_terminating)
            {
                return;
            }

            if (error.Reason == SessionEndReason.ConnectionLost)
            {
                if (Connection.State == ConnectionState.Handshaking)
                {
                    error = new TcpChanSessionException(SessionEndReason.HandshakeFailed, $"The handshake failed: the peer closed the connection during the handshake (not a TCPChan server, or another magic?). {error.Message}", innerException: error.InnerException);
                }
                else if (_peerGoAway == ErrorCode.NoError)
                {
                    error = new TcpChanSessionException(SessionEndReason.Closed, "The peer closed the session.", innerException: error.InnerException);
                }
            }

            _terminating = true;
            Error = error;
            if (graceful)
            {
                Connection.Close();
            }
            else
            {
                Connection.ConnectionLost();
            }

            foreach (var waiter in _drainWaiters)
            {
                waiter.TrySetException(EndException());
            }

            _drainWaiters.Clear();
            DrainEvents();
        }

        var level = error.Reason is SessionEndReason.Closed ? LogLevel.Information : LogLevel.Warning;
        Logger?.Log(level, error.InnerException, "TcpChan session ended: {Reason}: {Message}", error.Reason, error.Message);
        if (error.Reason == SessionEndReason.ProtocolError)
        {
            TcpChanMetrics.ProtocolErrors.Add(1, new KeyValuePair<string, object?>("code", error.Code?.ToString()));
        }

        _stop.Cancel();

        // A peer silent past the keepalive timeout will not take the go-away either: no flush wait.
        // (CancelAfter, even for zero: the cancellation runs on a timer thread, not inside this call.)
        _sendAbort.CancelAfter(error.Reason == SessionEndReason.KeepAliveTimeout ? TimeSpan.Zero : FlushTimeout);
        try
        {
            _handler.OnTerminated(error);
        }
        catch (Exception ex)
        {
            Logger?.LogError(ex, "A TcpChan end-of-session handler threw.");
        }

        SignalSend();
    }

    private async Task ReceiveLoopAsync()
    {
        if (_transport is ISequenceTransport sequences)
        {
            await ReceiveSequencesAsync(sequences).ConfigureAwait(false);
            return;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.ReceiveBufferSize);
        try
        {
            while (true)
            {
                int n = await _transport.ReceiveAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    Terminate(new TcpChanSessionException(SessionEndReason.ConnectionLost, "The peer closed the connection."), graceful: false);
                    return;
                }

                TcpChanMetrics.BytesReceived.Add(n);
                lock (Gate)
                {
                    if (_terminating)
                    {
                        return;
                    }

                    _deferWakes = true;
                    try
                    {
                        _input = buffer.AsMemory(0, n);
                        Connection.DataReceived(buffer.AsSpan(0, n), Clock.Now);
                        DrainEvents();
                    }
                    finally
                    {
                        EndInput();
                    }
                }

                FinishInput();
            }
        }
        catch (Exception ex)
        {
            if (!_terminating)
            {
                Terminate(new TcpChanSessionException(SessionEndReason.ConnectionLost, $"The connection failed: {ex.Message}", innerException: ex), graceful: false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            LoopEnded();
        }
    }

    /// <summary>The receive loop for a pipe: the core parses straight out of the pipe's segments.</summary>
    private async Task ReceiveSequencesAsync(ISequenceTransport transport)
    {
        Action<System.Buffers.ReadOnlySequence<byte>> deliver = Deliver;
        try
        {
            while (await transport.ReceiveAsync(deliver, _stop.Token).ConfigureAwait(false))
            {
                if (_terminating)
                {
                    return;
                }
            }

            Terminate(new TcpChanSessionException(SessionEndReason.ConnectionLost, "The peer closed the connection."), graceful: false);
        }
        catch (Exception ex)
        {
            if (!_terminating)
            {
                Terminate(new TcpChanSessionException(SessionEndReason.ConnectionLost, $"The connection failed: {ex.Message}", innerException: ex), graceful: false);
            }
        }
        finally
        {
            LoopEnded();
        }
    }

    /// <summary>The receive loop, still under the gate, once the core has taken its input.</summary>
    private void EndInput()
    {
        _deferWakes = false;
        _input = default;
        (_wakes, _waking) = (_waking, _wakes);
        (_copies, _copying) = (_copying, _copies);
    }

    /// <summary>The receive loop, after it let go of the gate: the copies and wake-ups its input produced.</summary>
    private void FinishInput()
    {
        foreach (var (channel, data) in _copying)
        {
            channel.FinishCopy(data.Span);
        }

        _copying.Clear();
        foreach (var signal in _waking)
        {
            signal.Set();
        }

        _waking.Clear();
    }

    private void Deliver(System.Buffers.ReadOnlySequence<byte> data)
    {
        TcpChanMetrics.BytesReceived.Add(data.Length);
        lock (Gate)
        {
            if (_terminating)
            {
                return;
            }

            var now = Clock.Now;
            _deferWakes = true;
            try
            {
                foreach (var segment in data)
                {
                    _input = segment;
                    Connection.DataReceived(segment.Span, now);
                }

                DrainEvents();
            }
            finally
            {
                EndInput();
            }
        }

        FinishInput();
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (true)
            {
                await _sendSignal.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                if (Interlocked.CompareExchange(ref _sendOwned, 1, 0) != 0)
                {
                    // A writer is sending: it takes what is queued (and sees the end) before it lets go.
                    continue;
                }

                if (await SendAllAsync().ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            if (!_terminating)
            {
                Terminate(new TcpChanSessionException(SessionEndReason.ConnectionLost, $"Sending failed: {ex.Message}", innerException: ex), graceful: false);
            }
        }
        finally
        {
            // Everything there was to send is sent (or cannot be): close the transport, which
            // also ends a receive that does not observe cancellation.
            lock (Gate)
            {
                DrainEvents(signal: false);
                _outbox.Clear();
            }

            await CloseTransportAsync().ConfigureAwait(false);
            LoopEnded();
        }
    }

    /// <summary>
    /// Sends everything queued, batch after batch (all frames queued while a write was in flight
    /// leave in the next), until nothing is left; the caller owns the send side and, when this
    /// returns, no longer does (it lets go under the gate, where output is queued, so nothing
    /// queued meanwhile is missed). True when the session is ending and everything is sent.
    /// </summary>
    private async ValueTask<bool> SendAllAsync()
    {
        int sent = 0;
        try
        {
            while (true)
            {
                bool terminating;
                lock (Gate)
                {
                    if (sent > 0)
                    {
                        Sent(sent);
                        sent = 0;
                    }

                    DrainEvents(signal: false);
                    (_outbox, _sending) = (_sending, _outbox);
                    terminating = _terminating;
                    if (_sending.Count == 0)
                    {
                        Interlocked.Exchange(ref _sendOwned, 0);
                        return terminating;
                    }
                }

                if (_sending.Count > 1)
                {
                    sent = await SendCoalescedAsync().ConfigureAwait(false);
                }
                else
                {
                    var transmit = _sending[0];
                    sent = transmit.Payload.Length;
                    await _transport.SendAsync(transmit.Payload, _sendAbort.Token).ConfigureAwait(false);
                    transmit.Dispose();
                }

                TcpChanMetrics.BytesSent.Add(sent);
                _sending.Clear();
            }
        }
        catch
        {
            _sending.Clear();
            ReleaseSend();
            throw;
        }
    }

    /// <summary>
    /// Sends a batch of several transmits: the small ones (many channels' frames, each taken
    /// after its own call into the core) are copied into one buffer and leave in one transport
    /// write, not one write each; a large one goes as it is, without the copy.
    /// </summary>
    private async ValueTask<int> SendCoalescedAsync()
    {
        int total = 0;
        int pending = 0;
        foreach (var transmit in _sending)
        {
            var payload = transmit.Payload;
            total += payload.Length;
            if (payload.Length <= CoalesceLimit && pending + payload.Length <= CoalesceBufferSize)
            {
                _coalesce ??= new byte[CoalesceBufferSize];
                payload.Span.CopyTo(_coalesce.AsSpan(pending));
                pending += payload.Length;
                transmit.Dispose();
                continue;
            }

            if (pending > 0)
            {
                await _transport.SendAsync(_coalesce.AsMemory(0, pending), _sendAbort.Token).ConfigureAwait(false);
                pending = 0;
            }

            if (payload.Length <= CoalesceLimit)
            {
                payload.Span.CopyTo(_coalesce);
                pending = payload.Length;
                transmit.Dispose();
                continue;
            }

            await _transport.SendAsync(payload, _sendAbort.Token).ConfigureAwait(false);
            transmit.Dispose();
        }

        if (pending > 0)
        {
            await _transport.SendAsync(_coalesce.AsMemory(0, pending), _sendAbort.Token).ConfigureAwait(false);
        }

        return total;
    }

    /// <summary>
    /// Lets go of the send side. Output queued meanwhile by someone who found it taken, or the
    /// session's end, is then the send loop's: wake it, so nothing waits for a later write.
    /// </summary>
    private void ReleaseSend()
    {
        Interlocked.Exchange(ref _sendOwned, 0);
        bool more;
        lock (Gate)
        {
            more = _outbox.Count > 0 || Connection.HasEvents || _terminating;
        }

        if (more)
        {
            SignalSend();
        }
    }

    private async Task TimerLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                TimeSpan delay;
                lock (Gate)
                {
                    var deadline = Connection.NextDeadline;
                    delay = deadline is { } d ? d - Clock.Now : MaxTimerSleep;
                }

                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay < MaxTimerSleep ? delay : MaxTimerSleep, _stop.Token).ConfigureAwait(false);
                }

                lock (Gate)
                {
                    if (_terminating)
                    {
                        return;
                    }

                    Connection.HandleTimeout(Clock.Now);
                    DrainEvents();
                    _handler.OnTick();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            LoopEnded();
        }
    }

    /// <summary>A write to the transport finished: writers waiting for room may go on.</summary>
    private void Sent(int length)
    {
        // Under the gate.
        _unsent = Math.Max(0, _unsent - length);
        if (_unsent > _options.MaxUnsentBytes || _drainWaiters.Count == 0)
        {
            return;
        }

        foreach (var waiter in _drainWaiters)
        {
            waiter.TrySetResult();
        }

        _drainWaiters.Clear();
    }

    /// <summary>Takes the core's events: output into the outbox, the rest to the handler. Under the gate. True when there is output to send.</summary>
    private bool DrainEvents(bool signal = true)
    {
        bool output = false;
        while (Connection.NextEvent() is { } e)
        {
            if (e is DataTransmit transmit)
            {
                _outbox.Add(transmit);
                output = true;
                continue;
            }

            switch (e)
            {
                case HandshakeSuccess success:
                    Logger?.LogInformation("TcpChan session established: version {Version}, {Role}.", success.Version, Connection.IsClient ? "client" : "server");
                    break;
                case ChannelClosed closed:
                    Logger?.LogDebug("Channel {ChannelId} closed: {Reason} {Code}.", closed.ChannelId, closed.Reason, closed.Code);
                    break;
                case DataDiscarded discarded:
                    Logger?.LogDebug("Dropped {Bytes} bytes for channel {ChannelId}, which is not open.", discarded.ByteCount, discarded.ChannelId);
                    break;
                case GoAwayReceived goAway:
                    _peerGoAway = goAway.Code;
                    Logger?.Log(goAway.Code == ErrorCode.NoError ? LogLevel.Information : LogLevel.Warning, "The peer is going away: last channel {Last}, code {Code}.", goAway.LastChannelId, goAway.Code);
                    break;
            }

            try
            {
                _handler.OnEvent(e);
            }
            catch (Exception ex)
            {
                // An application callback's bug must not take the driver down with a wrong reason.
                Logger?.LogError(ex, "A TcpChan callback threw on {Event}.", e.GetType().Name);
            }

            switch (e)
            {
                case HandshakeFailed failed:
                    Terminate(new TcpChanSessionException(SessionEndReason.HandshakeFailed, $"The handshake failed: {failed.Reason}"), graceful: true);
                    break;
                case ProtocolError error:
                    Terminate(new TcpChanSessionException(SessionEndReason.ProtocolError, $"The peer broke the protocol ({error.Code}): {error.Message}", error.Code), graceful: true);
                    break;
                case KeepAliveTimedOut timedOut:
                    Terminate(new TcpChanSessionException(SessionEndReason.KeepAliveTimeout, $"Nothing arrived from the peer for {timedOut.Silence.TotalSeconds:F1} s."), graceful: true);
                    break;
            }
        }

        ReportCounters();
        if (output && signal)
        {
            SignalSend();
        }

        return output;
    }

    private void ReportCounters()
    {
        // Open channels by the core's count, not by events: a channel whose factory threw is
        // reported closed without ever being created.
        int channels = Connection.OpenChannelCount;
        if (channels != _channelsReported)
        {
            TcpChanMetrics.Channels.Add(channels - _channelsReported);
            _channelsReported = channels;
        }

        long sent = Connection.FramesSent;
        long received = Connection.FramesReceived;
        if (sent != _framesSentReported)
        {
            TcpChanMetrics.FramesSent.Add(sent - _framesSentReported);
            _framesSentReported = sent;
        }

        if (received != _framesReceivedReported)
        {
            TcpChanMetrics.FramesReceived.Add(received - _framesReceivedReported);
            _framesReceivedReported = received;
        }

        var rtt = Connection.SmoothedRtt;
        if (rtt is { } value && rtt != _rttReported)
        {
            _rttReported = rtt;
            TcpChanMetrics.RoundTripTime.Record(value.TotalMilliseconds);
        }
    }

    private void LoopEnded()
    {
        if (Interlocked.Decrement(ref _loopsRunning) != 0)
        {
            return;
        }

        TcpChanMetrics.Sessions.Add(-1);
        _completion.TrySetResult();
    }

    private async Task CloseTransportAsync()
    {
        try
        {
            await _transport.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Logger?.LogDebug(ex, "Closing the transport failed.");
        }
    }
}
