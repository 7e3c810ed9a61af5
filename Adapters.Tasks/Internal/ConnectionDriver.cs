using System.Buffers;
using Microsoft.Extensions.Logging;
using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>
/// Runs one core connection over one transport: a receive loop that hands the core whatever
/// arrives, a send loop that writes everything the core produced (all frames queued while the
/// previous write was in flight leave in one write), and a timer loop for the core's deadlines.
/// Every call into the core holds <see cref="Gate"/>. The session ends in one place,
/// <see cref="Terminate"/>, which fails every pending operation.
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
    private readonly List<DataTransmit> _batch = new();
    private readonly List<TaskCompletionSource> _drainWaiters = new();
    private long _unsent;
    private long _framesSentReported;
    private long _framesReceivedReported;
    private TimeSpan? _rttReported;
    private bool _terminating;
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

    /// <summary>Completes when the loops have stopped and the transport is closed.</summary>
    public Task Completion => _completion.Task;

    public void Start()
    {
        lock (Gate)
        {
            Connection.ConnectionEstablished(Clock.Now);
        }

        TcpChanMetrics.Sessions.Add(1);
        _loopsRunning = 3;
        _ = Task.Run(ReceiveLoopAsync);
        _ = Task.Run(SendLoopAsync);
        _ = Task.Run(TimerLoopAsync);
        SignalSend();
    }

    /// <summary>Tells the send loop that the core may have output.</summary>
    public void SignalSend() => _sendSignal.Set();

    /// <summary>Counts bytes a channel wrote (under <see cref="Gate"/>), for the writers' limit.</summary>
    public void AddUnsent(int count) => _unsent += count;

    /// <summary>Waits while more than the limit is written but not yet taken by the send loop.</summary>
    public Task WaitForDrainAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (Gate)
        {
            if (_unsent <= _options.MaxUnsentBytes || _terminating)
            {
                return Task.CompletedTask;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _drainWaiters.Add(waiter);
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Ends the session, once: the core closes every channel (which fails their pending
    /// operations), the handler fails what it holds, and the send loop sends what is queued
    /// (a graceful close's go-away) within a bound, then closes the transport.
    /// </summary>
    public void Terminate(TcpChanSessionException error, bool graceful)
    {
        lock (Gate)
        {
            if (_terminating)
            {
                return;
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
                waiter.TrySetResult();
            }

            _drainWaiters.Clear();
        }

        var level = error.Reason is SessionEndReason.Closed ? LogLevel.Information : LogLevel.Warning;
        Logger?.Log(level, error.InnerException, "TcpChan session ended: {Reason}: {Message}", error.Reason, error.Message);
        if (error.Reason == SessionEndReason.ProtocolError)
        {
            TcpChanMetrics.ProtocolErrors.Add(1, new KeyValuePair<string, object?>("code", error.Code?.ToString()));
        }

        _stop.Cancel();
        _sendAbort.CancelAfter(FlushTimeout);
        _handler.OnTerminated(error);
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

                    Connection.DataReceived(buffer.AsSpan(0, n), Clock.Now);
                }

                SignalSend();
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

                SignalSend();
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
            foreach (var segment in data)
            {
                Connection.DataReceived(segment.Span, now);
            }
        }
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (true)
            {
                await _sendSignal.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                while (true)
                {
                    bool terminating;
                    lock (Gate)
                    {
                        DrainEvents();
                        terminating = _terminating;
                    }

                    if (_batch.Count == 0)
                    {
                        if (terminating)
                        {
                            return;
                        }

                        break;
                    }

                    foreach (var transmit in _batch)
                    {
                        await _transport.SendAsync(transmit.Payload, _sendAbort.Token).ConfigureAwait(false);
                        TcpChanMetrics.BytesSent.Add(transmit.Payload.Length);
                        transmit.Dispose();
                    }

                    _batch.Clear();
                }
            }
        }
        catch (Exception ex)
        {
            _batch.Clear();
            if (!_terminating)
            {
                Terminate(new TcpChanSessionException(SessionEndReason.ConnectionLost, $"Sending failed: {ex.Message}", innerException: ex), graceful: false);
            }
        }
        finally
        {
            // Everything there was to send is sent (or cannot be): close the transport, which
            // also ends a receive that does not observe cancellation.
            await CloseTransportAsync().ConfigureAwait(false);
            LoopEnded();
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
                }

                SignalSend();
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

    /// <summary>Takes the core's events: output into the batch, the rest to the handler. Under the gate.</summary>
    private void DrainEvents()
    {
        while (Connection.NextEvent() is { } e)
        {
            if (e is DataTransmit transmit)
            {
                _batch.Add(transmit);
                continue;
            }

            switch (e)
            {
                case HandshakeSuccess success:
                    Logger?.LogInformation("TcpChan session established: version {Version}, {Role}.", success.Version, Connection.IsClient ? "client" : "server");
                    break;
                case ChannelCreated:
                    TcpChanMetrics.Channels.Add(1);
                    break;
                case ChannelClosed closed:
                    TcpChanMetrics.Channels.Add(-1);
                    Logger?.LogDebug("Channel {ChannelId} closed: {Reason} {Code}.", closed.ChannelId, closed.Reason, closed.Code);
                    break;
                case DataDiscarded discarded:
                    Logger?.LogDebug("Dropped {Bytes} bytes for channel {ChannelId}, which is not open.", discarded.ByteCount, discarded.ChannelId);
                    break;
                case GoAwayReceived goAway:
                    Logger?.Log(goAway.Code == ErrorCode.NoError ? LogLevel.Information : LogLevel.Warning, "The peer is going away: last channel {Last}, code {Code}.", goAway.LastChannelId, goAway.Code);
                    break;
            }

            _handler.OnEvent(e);
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

        _unsent = 0;
        foreach (var waiter in _drainWaiters)
        {
            waiter.TrySetResult();
        }

        _drainWaiters.Clear();
        ReportCounters();
    }

    private void ReportCounters()
    {
        long sent = Connection.FramesSent;
        long received = Connection.FramesReceived;
        TcpChanMetrics.FramesSent.Add(sent - _framesSentReported);
        TcpChanMetrics.FramesReceived.Add(received - _framesReceivedReported);
        _framesSentReported = sent;
        _framesReceivedReported = received;
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
