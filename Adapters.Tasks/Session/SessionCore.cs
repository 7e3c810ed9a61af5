using Microsoft.Extensions.Logging;
using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>
/// One session's core connection, the lock around it, and the three parts that drive it over
/// a transport: the <see cref="InputPump"/> (transport to core), the <see cref="OutputPump"/>
/// (core to transport) and the <see cref="SessionTimer"/> (the core's deadlines).
/// </summary>
/// <remarks>
/// The threading rule: every call into the core holds <see cref="Gate"/>, and whoever calls
/// takes the core's events right after (<see cref="TakeEvents"/>, still under the gate) for the
/// <see cref="ISessionHandler"/> (a session or a protocol), then lets the output pump know
/// (<see cref="OutputPump.Kick"/>, after the gate). Nothing waits while holding the gate: no I/O, no user continuation (wake-ups
/// run after it is released). The session ends in one place, <see cref="Terminate"/>.
/// </remarks>
internal sealed class SessionCore
{
    private readonly ISessionHandler _handler;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SessionTimer _timer;
    private long _framesSentReported;
    private long _framesReceivedReported;
    private int _channelsReported;
    private TimeSpan? _rttReported;
    private ErrorCode? _peerGoAway;
    private int _partsRunning;

    public SessionCore(Connection connection, ITcpChanTransport transport, TcpChanSessionOptions options, ISessionHandler handler)
    {
        Connection = connection;

        // Output stays in the core until the output pump takes it, so channels' data leaves fairly.
        connection.OutputAsEvents = false;
        Options = options;
        _handler = handler;
        Input = new InputPump(this, transport ?? throw new ArgumentNullException(nameof(transport)));
        Output = new OutputPump(this, transport);
        _timer = new SessionTimer(this);
    }

    /// <summary>The lock every call into the core holds.</summary>
    public object Gate { get; } = new();

    public Connection Connection { get; }

    public TcpChanSessionOptions Options { get; }

    public ILogger? Logger => Options.Logger;

    public InputPump Input { get; }

    public OutputPump Output { get; }

    /// <summary>Why the session ended, once it has (set under the gate, once).</summary>
    public TcpChanSessionException? Error { get; private set; }

    /// <summary>True once the session is ending: nothing new starts.</summary>
    public bool IsEnding => Volatile.Read(ref _ending);

    private bool _ending;

    /// <summary>Completes when the pumps and the timer stopped, every event was handled and the transport is closed.</summary>
    public Task Completion => _completion.Task;

    public void Start()
    {
        TcpChanMetrics.Sessions.Add(1);
        _partsRunning = 3;
        lock (Gate)
        {
            Connection.ConnectionEstablished(Clock.Now);
            TakeEvents();
        }

        Input.Start();
        _timer.Start();
        Output.Kick();
    }

    /// <summary>A new exception carrying <see cref="Error"/> (one per throw, so stack traces stay truthful).</summary>
    public TcpChanSessionException EndException() =>
        Error?.Rethrow() ?? new TcpChanSessionException(SessionEndReason.Closed, "The session was closed.");

    /// <summary>
    /// Takes the core's events after a call into it (under <see cref="Gate"/>) and hands them to
    /// the handler (output is not among them: the output pump takes it); a terminal event ends
    /// the session.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void TakeEvents()
    {
        while (Connection.NextEvent() is { } e)
        {
            Log(e);
            try
            {
                _handler.OnEvent(e);
            }
            catch (Exception ex)
            {
                // An application callback's bug must not take the session down with a wrong reason.
                Logger?.LogError(ex, "A TcpChan callback threw on {Event}.", e.GetType().Name);
            }

            switch (e)
            {
                case HandshakeFailed failed:
                    Terminate(new TcpChanSessionException(failed.Kind, $"The handshake failed: {failed.Reason}"), graceful: true);
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
    }

    /// <summary>The transport failed or reached its end (from either pump).</summary>
    public void TransportLost(Exception? error)
    {
        if (IsEnding)
        {
            return;
        }

        string message = error is null ? "The peer closed the connection." : $"The connection failed: {error.Message}";
        Terminate(new TcpChanSessionException(SessionEndReason.ConnectionLost, message, innerException: error), graceful: false);
    }

    /// <summary>
    /// Ends the session, once: the core closes every channel (which fails their pending
    /// operations), their events are handled, the handler fails what it holds, the output pump
    /// sends what is queued (a graceful close's go-away) within a bound and closes the transport.
    /// A transport lost during the handshake is a failed handshake (a server that rejects the
    /// magic just closes); lost after the peer's go-away without error, a close.
    /// </summary>
    public void Terminate(TcpChanSessionException error, bool graceful)
    {
        lock (Gate)
        {
            if (_ending)
            {
                return;
            }

            if (error.Reason == SessionEndReason.ConnectionLost)
            {
                if (Connection.State == ConnectionState.Handshaking)
                {
                    error = new TcpChanSessionException(HandshakeFailureReason.ConnectionClosed, $"The handshake failed: the peer closed the connection during the handshake (not a TCPChan server, or another magic?). {error.Message}", error.InnerException);
                }
                else if (_peerGoAway == ErrorCode.NoError)
                {
                    error = new TcpChanSessionException(SessionEndReason.Closed, "The peer closed the session.", innerException: error.InnerException);
                }
            }

            Volatile.Write(ref _ending, true);
            Error = error;
            if (graceful)
            {
                Connection.Close();
            }
            else
            {
                Connection.ConnectionLost();
            }

            TakeEvents();
            Output.Finish(fast: error.Reason == SessionEndReason.KeepAliveTimeout);
        }

        var level = error.Reason is SessionEndReason.Closed ? LogLevel.Information : LogLevel.Warning;
        Logger?.Log(level, error.InnerException, "TcpChan session ended: {Reason}: {Message}", error.Reason, error.Message);
        if (error.Reason == SessionEndReason.ProtocolError)
        {
            TcpChanMetrics.ProtocolErrors.Add(1, new KeyValuePair<string, object?>("code", error.Code?.ToString()));
        }

        Input.Stop();
        _timer.Stop();
        try
        {
            _handler.OnTerminated(error);
        }
        catch (Exception ex)
        {
            Logger?.LogError(ex, "A TcpChan end-of-session handler threw.");
        }

        Output.Kick();
    }

    /// <summary>One of the three parts (input, output, timer) is done; the last completes the session.</summary>
    public void PartEnded()
    {
        if (Interlocked.Decrement(ref _partsRunning) == 0)
        {
            TcpChanMetrics.Sessions.Add(-1);
            _completion.TrySetResult();
        }
    }

    /// <summary>The timer ran (under the gate): the handler's periodic work.</summary>
    public void OnTick() => _handler.OnTick();

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void Log(ConnectionEvent e)
    {
        switch (e)
        {
            case HandshakeSuccess success:
                Logger?.LogInformation("TcpChan session established: {Protocol} version {Version}, {Role}.", success.Protocol, success.Version, Connection.IsClient ? "client" : "server");
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
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
        if (sent != _framesSentReported)
        {
            TcpChanMetrics.FramesSent.Add(sent - _framesSentReported);
            _framesSentReported = sent;
        }

        long received = Connection.FramesReceived;
        if (received != _framesReceivedReported)
        {
            TcpChanMetrics.FramesReceived.Add(received - _framesReceivedReported);
            _framesReceivedReported = received;
        }

        if (Connection.SmoothedRtt is { } rtt && rtt != _rttReported)
        {
            _rttReported = rtt;
            TcpChanMetrics.RoundTripTime.Record(rtt.TotalMilliseconds);
        }
    }
}
