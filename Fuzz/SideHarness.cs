using System.Text;
using TcpChan.Core;
using TcpChan.Core.Frames;

namespace TcpChan.Fuzz;

/// <summary>A failure: a stable key (for de-duplication and regression tests) and the details.</summary>
public sealed record FuzzFailure(string Key, string Detail)
{
    public override string ToString() => $"{Key}: {Detail}";
}

/// <summary>
/// Drives one connection and checks the invariants after every call: no exception escapes
/// DataReceived, HandleTimeout or NextEvent; local calls throw only the documented misuse
/// exceptions, and only on misuse; BufferedBytes stays within the budget; nothing follows a
/// HandshakeFailed, ProtocolError or KeepAliveTimedOut event, nor comes from input after
/// Close() or ConnectionLost(); ChannelClosed only for a created channel, once; the output is
/// whole, well-formed frames of the right version.
/// </summary>
public sealed class SideHarness
{
    /// <summary>More events than this from one drain is a runaway.</summary>
    public const int MaxEventsPerDrain = 200_000;

    private readonly Dictionary<uint, Channel> _open = new();
    private readonly Dictionary<uint, int> _factoryFailed = new();
    private readonly List<ulong> _userPings = new();
    private readonly List<(DataTransmit Transmit, byte[] Bytes)> _held = new();
    private readonly IOutputCheck _output;
    private ConnectionState _lastState = ConnectionState.Idle;
    private bool _factoryFailedInCall;
    private bool _quietAfterLocal;
    private int? _handshakeVersion;
    private string? _terminal;

    public SideHarness(SideConfig config, List<FuzzFailure> failures, HashSet<string> features)
    {
        Config = config;
        Failures = failures;
        Features = features;
        Name = config.Client ? "client" : "server";
        var options = config.ToOptions();
        Conn = config.Client ? new ClientConnection(Factory, options) : new ServerConnection(Factory, options);
        Conn.OutputAsEvents = config.PullBudget == 0;
        _output = config.Yamux ? new YamuxOutputChecker(this) : new OutputChecker(this);
    }

    /// <summary>Version 1 and yamux: flow control, half-close, reset, ping, go-away (version 0 has none).</summary>
    public bool HasVersion1Features => Conn.Protocol == WireProtocol.Yamux || Conn.Version > 0;

    /// <summary>Ids are never used twice (a pair of ours): the yamux output checker then follows each stream's life.</summary>
    public bool CheckStreamLives { get; init; }

    public SideConfig Config { get; }

    public Connection Conn { get; }

    public string Name { get; }

    public List<FuzzFailure> Failures { get; }

    public HashSet<string> Features { get; }

    /// <summary>Every channel the factory made, in order (index = Step.Ch).</summary>
    public List<FuzzChannel> Channels { get; } = new();

    public TimeSpan Now { get; private set; }

    /// <summary>Called with every transmitted buffer (pair mode delivers it to the peer).</summary>
    public Action<byte[]>? OnTransmit { get; set; }

    /// <summary>Non-transmit events, in order (kept only when asked).</summary>
    public List<ConnectionEvent>? Log { get; set; }

    /// <summary>The last non-transmit event.</summary>
    public ConnectionEvent? LastEvent { get; private set; }

    /// <summary>A HandshakeFailed, ProtocolError or KeepAliveTimedOut was seen (the name), or null.</summary>
    public string? Terminal => _terminal;

    public ProtocolError? Error { get; private set; }

    public HandshakeFailed? HandshakeFailure { get; private set; }

    public bool SawKeepAliveTimeout { get; private set; }

    /// <summary>Nothing may be emitted any more: a terminal event was taken, or Close()/ConnectionLost() ran.</summary>
    public bool Quiet => _terminal is not null || _quietAfterLocal;

    public long EventCount { get; private set; }

    /// <summary>A ping sent by Connection.Ping from a callback.</summary>
    public void NoteUserPing(ulong opaque) => _userPings.Add(opaque);

    /// <summary>Channels created from inside an OnClosed callback (behaviour create-in-closed): failures are tagged with it.</summary>
    public int CreatedFromOnClosed { get; set; }

    public long TransmittedBytes { get; private set; }

    public void Establish()
    {
        Guard("ConnectionEstablished", () => Conn.ConnectionEstablished(Now));
        Drain();
        CheckState();
    }

    /// <summary>One DataReceived call: it must not throw.</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        if (Conn.State == ConnectionState.Idle)
        {
            return;
        }

        try
        {
            Conn.DataReceived(data, Now);
        }
        catch (Exception ex)
        {
            Fail($"escape:DataReceived:{ex.GetType().Name}", Describe(ex));
        }

        Drain();
        CheckState();
        QuietIfClosed();
    }

    /// <summary>A callback may have closed the connection (Close, ConnectionLost): from then on nothing may come.</summary>
    private void QuietIfClosed()
    {
        if (Conn.State == ConnectionState.Closed)
        {
            _quietAfterLocal = true;
        }
    }

    /// <summary>Advances the clock by <paramref name="ms"/> (maybe negative) and runs HandleTimeout: it must not throw.</summary>
    public void Time(int ms)
    {
        Now += TimeSpan.FromMilliseconds(ms);
        if (Now < TimeSpan.Zero)
        {
            Now = TimeSpan.Zero;
        }

        try
        {
            Conn.HandleTimeout(Now);
        }
        catch (Exception ex)
        {
            Fail($"escape:HandleTimeout:{ex.GetType().Name}", Describe(ex));
        }

        Drain();
        CheckState();
        QuietIfClosed();

        // A driver that calls HandleTimeout when NextDeadline passes must not spin.
        if (Conn.NextDeadline is { } deadline && deadline <= Conn.Now)
        {
            Fail("deadline-in-past", $"After HandleTimeout({Conn.Now}) NextDeadline is {deadline} (state {Conn.State}).");
        }
    }

    /// <summary>A local action. Misuse exceptions are allowed, but only when the call really is misuse.</summary>
    public void Act(Step step)
    {
        var channel = Channels.Count == 0 ? null : Channels[(int)((uint)(step.Ch ?? 0) % (uint)Channels.Count)];
        string op = step.Op;
        bool mustWork = false;
        _factoryFailedInCall = false;
        bool wasQuiet = Quiet;
        try
        {
            switch (op)
            {
                case "create":
                    mustWork = Conn.State == ConnectionState.Established && !Conn.IsGoingAway
                        && (!HasVersion1Features || step.Label is null || Encoding.UTF8.GetByteCount(step.Label) <= 255);
                    if (Conn.Protocol == WireProtocol.Yamux && step.Label is not null)
                    {
                        // Yamux has no labels: refused, whatever the state, and nothing sent.
                        mustWork = false;
                        long before = TransmittedBytes;
                        int open = Conn.OpenChannelCount;
                        try
                        {
                            Conn.CreateChannel(step.Label);
                            Fail("yamux-label-taken", $"CreateChannel(\"{step.Label}\") did not throw on yamux.");
                        }
                        catch (NotSupportedException)
                        {
                            Features.Add("act:create:label-refused");
                        }

                        if (Conn.HasEvents || Conn.OpenChannelCount != open || TransmittedBytes != before)
                        {
                            Fail("yamux-label-effect", "A refused label changed the connection.");
                        }

                        break;
                    }

                    Conn.CreateChannel(step.Label);
                    break;
                case "write":
                case "trywrite":
                    if (channel is null)
                    {
                        return;
                    }

                    mustWork = !channel.IsClosed && !channel.WritesDone;
                    long writable = channel.WritableBytes;
                    int asked = Math.Max(0, step.N ?? 0);
                    if (writable < 0 || (channel.IsClosed && writable != 0))
                    {
                        Fail("writable-bytes", $"WritableBytes {writable} (closed {channel.IsClosed}).");
                    }

                    int accepted = channel.WritePattern(asked, op == "trywrite");
                    if (op == "trywrite" && accepted != Math.Min(asked, writable))
                    {
                        Fail("trywrite-accepted", $"TryWrite({asked}) took {accepted} bytes; WritableBytes said {writable}.");
                    }

                    break;
                case "complete":
                    if (channel is null)
                    {
                        return;
                    }

                    mustWork = true;
                    channel.WritesDone = true;
                    if (!HasVersion1Features)
                    {
                        channel.LostIncoming = true; // version 0 has no half-close: this closes
                    }

                    channel.CompleteWrites();
                    break;
                case "close":
                    if (channel is null)
                    {
                        return;
                    }

                    mustWork = true;
                    channel.WritesDone = true;
                    channel.LostIncoming = true;
                    channel.Held = 0; // Close() drops what is held
                    channel.Close();
                    break;
                case "abort":
                    if (channel is null)
                    {
                        return;
                    }

                    mustWork = true;
                    channel.WritesDone = true;
                    channel.LostIncoming = true;
                    channel.LostOutgoing = true;
                    channel.Abort((ErrorCode)(step.Code ?? (uint)ErrorCode.Cancel));
                    break;
                case "consume":
                case "consumeall":
                    if (channel is null)
                    {
                        return;
                    }

                    int n = op == "consumeall" ? (int)Math.Min(channel.Held, int.MaxValue) : step.N ?? 0;
                    if (op == "consumeall" && (n == 0 || channel.AutoConsume))
                    {
                        return;
                    }

                    bool wasOpen = !channel.IsClosed;
                    mustWork = !channel.AutoConsume && wasOpen && n >= 0 && n <= channel.Held;
                    channel.Consume(n);
                    if (wasOpen)
                    {
                        channel.Held -= n;
                    }

                    break;
                case "urgency":
                    if (channel is null)
                    {
                        return;
                    }

                    // Any channel, open or closed, takes 0 to 7 (only the scheduler reads it); beyond is misuse.
                    mustWork = step.N is >= 0 and <= 7;
                    channel.Urgency = step.N ?? 0;
                    break;
                case "extend":
                    if (channel is null)
                    {
                        return;
                    }

                    mustWork = true; // does nothing where it cannot grow the window
                    channel.ExtendWindow(step.N ?? 0);
                    break;
                case "ping":
                    ulong opaque = (ulong)(step.N ?? 0);
                    mustWork = Conn.State == ConnectionState.Established && HasVersion1Features && _userPings.Count < 64
                        && (Conn.Protocol != WireProtocol.Yamux || opaque <= uint.MaxValue);
                    Conn.Ping(opaque);
                    _userPings.Add(opaque);
                    break;
                case "goaway":
                    mustWork = Conn.State == ConnectionState.Established && HasVersion1Features;
                    Conn.GoAway((ErrorCode)(step.Code ?? 0));
                    break;
                case "closeid":
                    mustWork = true;
                    uint id = channel is not null && (step.N ?? 0) == 0 ? channel.ChannelId : (uint)(step.N ?? 0);
                    if (Conn.GetChannel(id) is FuzzChannel c)
                    {
                        c.WritesDone = true;
                        c.LostIncoming = true;
                        c.Held = 0;
                    }

                    Conn.CloseChannel(id);
                    break;
                case "closeconn":
                    mustWork = true;
                    MarkAllLossy();
                    Conn.Close();
                    _quietAfterLocal = true;
                    break;
                case "establish":
                    Conn.ConnectionEstablished(Now); // always misuse here: it was called at the start
                    break;
                case "lost":
                    mustWork = true;
                    MarkAllLossy();
                    Conn.ConnectionLost();
                    _quietAfterLocal = true;
                    break;
                default:
                    Fail("harness:unknown-op", op);
                    return;
            }

            Features.Add($"act:{op}:ok");
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            Features.Add($"act:{op}:{ex.GetType().Name}");
            if (mustWork && !(op == "create" && _factoryFailedInCall))
            {
                Fail($"spurious-local-exception:{op}:{ex.GetType().Name}", Describe(ex));
            }
        }
        catch (Exception ex)
        {
            Fail($"escape:{op}:{ex.GetType().Name}", Describe(ex));
        }

        // Events of the action itself (Close's go-away and channel closes) are fine; later input's are not.
        bool quietBefore = wasQuiet;
        DrainAfterAction(quietBefore);
        CheckState();
        QuietIfClosed();
    }

    private void MarkAllLossy()
    {
        foreach (var c in Channels)
        {
            c.LostIncoming = true;
            c.LostOutgoing = true;
        }
    }

    private void DrainAfterAction(bool quietBefore)
    {
        bool saved = _quietAfterLocal;
        if (!quietBefore)
        {
            _quietAfterLocal = false;
        }

        Drain();
        _quietAfterLocal = saved;
    }

    /// <summary>Takes every event, checking each (pulled output first: it was made before the events).</summary>
    public void Drain()
    {
        if (!Conn.OutputAsEvents)
        {
            TakeOutput();
        }

        int count = 0;
        while (true)
        {
            ConnectionEvent? e;
            try
            {
                e = Conn.NextEvent();
            }
            catch (Exception ex)
            {
                Fail($"escape:NextEvent:{ex.GetType().Name}", Describe(ex));
                return;
            }

            if (e is null)
            {
                break;
            }

            if (++count > MaxEventsPerDrain)
            {
                Fail("runaway-events", $"More than {MaxEventsPerDrain} events from one drain.");
                return;
            }

            EventCount++;
            Handle(e);
        }

        if (!Conn.OutputAsEvents)
        {
            TakeOutput();
        }
    }

    /// <summary>Pulled output: takes it in pieces of about the budget, as a driver whose transport is ready for that much, until none is left.</summary>
    private void TakeOutput()
    {
        for (int takes = 0; Conn.HasOutput; takes++)
        {
            if (takes > MaxEventsPerDrain)
            {
                Fail("runaway-output", $"HasOutput after {MaxEventsPerDrain} takes.");
                return;
            }

            DataTransmit? transmit;
            try
            {
                transmit = Conn.TakeOutput(Config.PullBudget);
            }
            catch (Exception ex)
            {
                Fail($"escape:TakeOutput:{ex.GetType().Name}", Describe(ex));
                return;
            }

            if (transmit is null)
            {
                Fail("has-output-but-none", "HasOutput was true but TakeOutput returned nothing.");
                return;
            }

            Features.Add($"take:{Math.Min(transmit.Payload.Length / 4096, 16)}");
            Handle(transmit);

            // Taking output may complete channels (their end of data went): those events too.
            while (Conn.NextEvent() is { } e)
            {
                EventCount++;
                Handle(e);
            }
        }
    }

    private void Handle(ConnectionEvent e)
    {
        if (Quiet)
        {
            string after = _terminal ?? "Close()/ConnectionLost()";
            Fail($"event-after-end:{e.GetType().Name}", $"{e} after {after}.");
        }

        if (e is DataTransmit transmit)
        {
            var bytes = transmit.Payload.ToArray();
            Hold(transmit, bytes);
            TransmittedBytes += bytes.Length;
            _output.Check(bytes);
            OnTransmit?.Invoke(bytes);
            return;
        }

        Log?.Add(e);
        Features.Add($"seq:{LastEvent?.GetType().Name ?? "start"}>{e.GetType().Name}");
        LastEvent = e;
        switch (e)
        {
            case HandshakeSuccess success:
                Features.Add($"ev:HandshakeSuccess:{success.Version}");
                if (_handshakeVersion is not null)
                {
                    Fail("handshake-twice", $"A second {e}.");
                }

                _handshakeVersion = success.Version;
                if (success.Version > Config.MaxVersion)
                {
                    Fail("handshake-version", $"{e} above MaxVersion {Config.MaxVersion}.");
                }

                _output.Settled(success.Version);
                break;
            case ChannelCreated created:
                Features.Add($"ev:ChannelCreated:{(created.Channel.IsRemote ? "remote" : "local")}:{(created.Channel as FuzzChannel)?.Behaviour}");
                if (_handshakeVersion is null)
                {
                    Fail("created-before-handshake", e.ToString() ?? string.Empty);
                }

                if (created.Channel is not FuzzChannel)
                {
                    Fail("created-foreign-channel", e.ToString() ?? string.Empty);
                }

                if (created.Channel is FuzzChannel { CreatedCalls: not 0 } made)
                {
                    Fail("created-twice", $"{e}: the channel's ChannelCreated was taken {made.CreatedCalls + 1} times.");
                }

                if (!_open.TryAdd(created.Channel.ChannelId, created.Channel))
                {
                    Fail("created-twice", $"{e}: channel {created.Channel.ChannelId} is already open.");
                }

                if (created.Channel is FuzzChannel react)
                {
                    React(react, "created", react.Created);
                }

                break;
            case ChannelClosed closed:
                Features.Add($"ev:ChannelClosed:{closed.Reason}:{CodeBucket(closed.Code)}:{(closed.Exception is null ? "-" : closed.Exception.GetType().Name)}");
                if (!_open.Remove(closed.ChannelId, out var gone))
                {
                    if (closed.Reason == ChannelCloseReason.ApplicationError && _factoryFailed.GetValueOrDefault(closed.ChannelId) > 0)
                    {
                        _factoryFailed[closed.ChannelId]--;
                        break;
                    }

                    Fail("closed-not-open", $"{e}: no ChannelCreated for it, or closed twice.");
                    break;
                }

                // The object of the open channel with this id (version 0 may reuse an id within one call).
                if (!ReferenceEquals(gone, closed.Channel) || !gone.IsClosed || gone.CloseReason != closed.Reason || gone is FuzzChannel { ClosedCalls: not 0 })
                {
                    Fail("closed-channel-state", $"{e}: the channel says closed={gone.IsClosed}, reason {gone.CloseReason}, closed before {(gone as FuzzChannel)?.ClosedCalls} times.");
                }

                if (gone is FuzzChannel closedChannel)
                {
                    React(closedChannel, "closed", () => closedChannel.Closed(closed.Reason));
                }

                break;
            case ProtocolError error:
                Features.Add($"ev:ProtocolError:{error.Code}:{Template(error.Message)}");
                if ((_handshakeVersion > 0 || Config.Yamux) && _output.GoAways == 0)
                {
                    Fail("error-without-goaway", $"{e} on version 1 without a go-away sent.");
                }

                Error = error;
                _terminal = nameof(ProtocolError);
                break;
            case HandshakeFailed failed:
                Features.Add($"ev:HandshakeFailed:{Template(failed.Reason)}");
                HandshakeFailure = failed;
                _terminal = nameof(HandshakeFailed);
                break;
            case KeepAliveTimedOut:
                Features.Add("ev:KeepAliveTimedOut");
                if (_output.GoAways == 0)
                {
                    Fail("error-without-goaway", $"{e} without a go-away sent.");
                }

                SawKeepAliveTimeout = true;
                _terminal = nameof(KeepAliveTimedOut);
                break;
            case DataDiscarded discarded:
                Features.Add("ev:DataDiscarded");
                if (discarded.ByteCount <= 0)
                {
                    Fail("discarded-nothing", e.ToString() ?? string.Empty);
                }

                break;
            case PingAcknowledged ack:
                Features.Add("ev:PingAcknowledged");
                if (!_userPings.Remove(ack.Opaque))
                {
                    Fail("ping-ack-unsent", $"{e} for no ping sent by Connection.Ping.");
                }

                if (ack.RoundTripTime < TimeSpan.Zero)
                {
                    Fail("ping-negative-rtt", e.ToString() ?? string.Empty);
                }

                break;
            case GoAwayReceived goAway:
                Features.Add($"ev:GoAwayReceived:{CodeBucket(goAway.Code)}");
                break;
            default:
                Features.Add($"ev:{e.GetType().Name}");
                break;
        }
    }

    /// <summary>
    /// Like a driver that writes asynchronously, keeps up to a few taken transmits before
    /// disposing them (how many and in which order depends on the case), and checks that the
    /// connection never wrote into a buffer the driver still held.
    /// </summary>
    private void Hold(DataTransmit transmit, byte[] copy)
    {
        int keep = (int)((uint)Config.RandomSeed % 4);
        _held.Add((transmit, copy));
        foreach (var (held, bytes) in _held)
        {
            if (!held.Payload.Span.SequenceEqual(bytes))
            {
                Fail("transmit-changed", $"A DataTransmit of {bytes.Length} bytes changed after it was taken and before it was disposed.");
            }
        }

        while (_held.Count > keep)
        {
            int at = (Config.RandomSeed & 4) == 0 ? 0 : _held.Count - 1;
            _held[at].Transmit.Dispose();
            _held.RemoveAt(at);
        }
    }

    /// <summary>
    /// The application's reaction to a channel's event, run while draining as a driver would:
    /// misuse exceptions (the channel closed meanwhile, version 0 has no go-away) are allowed;
    /// the harness's own fault aborts the channel, as an adapter that catches it would.
    /// </summary>
    private void React(FuzzChannel channel, string what, Action reaction)
    {
        try
        {
            reaction();
        }
        catch (FuzzFault)
        {
            Features.Add($"react:{what}:fault");
            if (!channel.IsClosed && Conn.State == ConnectionState.Established)
            {
                channel.WritesDone = true;
                channel.LostIncoming = true;
                channel.Abort();
            }
        }
        catch (InvalidOperationException ex)
        {
            Features.Add($"react:{what}:{ex.GetType().Name}");
        }
    }

    /// <summary>Invariants that hold between calls.</summary>
    private void CheckState()
    {
        var state = Conn.State;
        bool legal = (_lastState, state) switch
        {
            var (a, b) when a == b => true,
            (_, ConnectionState.Closed) => true,
            (ConnectionState.Idle, ConnectionState.Handshaking) => !Config.Yamux,
            (ConnectionState.Idle, ConnectionState.Established) => Config.Yamux, // no handshake
            (ConnectionState.Handshaking, ConnectionState.Established or ConnectionState.HandshakeFailed) => true,
            (ConnectionState.Handshaking, ConnectionState.Failed) => _handshakeVersion is not null, // succeeded, then failed, in one call
            (ConnectionState.Established, ConnectionState.Failed) => true,
            _ => false,
        };
        if (!legal)
        {
            Fail("state-transition", $"{_lastState} -> {state}.");
        }

        _lastState = state;
        if (_terminal == nameof(ProtocolError) && state is not (ConnectionState.Failed or ConnectionState.Closed))
        {
            Fail("state-after-error", $"State {state} after ProtocolError.");
        }

        if (_terminal == nameof(HandshakeFailed) && state is not (ConnectionState.HandshakeFailed or ConnectionState.Closed))
        {
            Fail("state-after-error", $"State {state} after HandshakeFailed.");
        }

        long buffered = Conn.BufferedBytes;
        long bound = Config.BufferBound(Conn.OpenChannelCount);
        if (buffered < 0 || buffered > bound)
        {
            Fail("budget", $"BufferedBytes {buffered} outside 0..{bound}.");
        }

        if (Conn.OpenChannelCount != _open.Count)
        {
            Fail("open-count", $"OpenChannelCount {Conn.OpenChannelCount}, but the events leave {_open.Count} open.");
        }

        if (Quiet && _terminal is not null && Conn.OpenChannelCount != 0)
        {
            Fail("open-after-end", $"{Conn.OpenChannelCount} channels open after {_terminal}.");
        }

        if (state == ConnectionState.Established && Conn.Version > 0 && (Conn.SessionSendCredit < 0 || Conn.SessionSendCredit > int.MaxValue))
        {
            Fail("session-send-credit", $"SessionSendCredit {Conn.SessionSendCredit}.");
        }

        if (Config.Yamux && state == ConnectionState.Established && Conn.SessionSendCredit != long.MaxValue)
        {
            Fail("session-send-credit", $"SessionSendCredit {Conn.SessionSendCredit} on yamux, which has no session window.");
        }

        if (Conn.HasEvents)
        {
            Fail("events-left", "HasEvents after a full drain.");
        }
    }

    private Channel Factory(ChannelOpenInfo info)
    {
        var behaviour = Config.Faults ? FuzzChannel.BehaviourOf(info.Label, info.ChannelId) : Behaviour.Plain;
        if (behaviour == Behaviour.FactoryThrow)
        {
            _factoryFailed[info.ChannelId] = _factoryFailed.GetValueOrDefault(info.ChannelId) + 1;
            _factoryFailedInCall = true;
            throw new FuzzFault("factory");
        }

        if (behaviour == Behaviour.FactoryNull)
        {
            _factoryFailed[info.ChannelId] = _factoryFailed.GetValueOrDefault(info.ChannelId) + 1;
            _factoryFailedInCall = true;
            return null!;
        }

        bool autoConsume = Config.Consume switch
        {
            "manual" => false,
            "mixed" => ((info.ChannelId * 2654435761u) >> 31) == 0,
            _ => true,
        };
        var channel = new FuzzChannel(this, autoConsume, behaviour, Channels.Count);
        Channels.Add(channel);
        return channel;
    }

    private void Guard(string what, Action action)
    {
        try
        {
            action();
        }
        catch (Exception ex)
        {
            Fail($"escape:{what}:{ex.GetType().Name}", Describe(ex));
        }
    }

    internal void Fail(string key, string detail)
    {
        // One of each per input is enough.
        if (Failures.Count < 20 && !Failures.Exists(f => f.Key == key))
        {
            string tag = CreatedFromOnClosed > 0 ? " [created from OnClosed]" : string.Empty;
            Failures.Add(new FuzzFailure(key, $"[{Name} max{Config.MaxVersion} v{_handshakeVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}]{tag} {detail}"));
        }
    }

    private static string Describe(Exception ex) => $"{ex.GetType().FullName}: {ex.Message}\n{ex.StackTrace}";

    private static string CodeBucket(ErrorCode? code) => code switch
    {
        null => "-",
        <= ErrorCode.SettingsError => code.Value.ToString(),
        >= ErrorCode.ApplicationBase => "application",
        _ => "other",
    };

    /// <summary>A message with its numbers taken out: which branch produced it.</summary>
    public static string Template(string message)
    {
        var sb = new StringBuilder(message.Length);
        bool inNumber = false;
        foreach (char c in message)
        {
            if (char.IsAsciiDigit(c) || (inNumber && (char.IsAsciiHexDigit(c) || c is 'x' or 'X')))
            {
                if (!inNumber)
                {
                    sb.Append('#');
                }

                inNumber = true;
                continue;
            }

            inNumber = false;
            sb.Append(c);
            if (sb.Length >= 60)
            {
                break;
            }
        }

        return sb.ToString();
    }

    /// <summary>Parses the output stream: whole frames, known ops, the right version byte, sizes the peer accepts.</summary>
    private sealed class OutputChecker : OutputStreamChecker
    {
        private int? _settled;
        private int _handshakeFrames;
        private int _settingsFrames;

        public OutputChecker(SideHarness side)
            : base(side, FrameHeader.MaxLength)
        {
        }

        public override void Settled(int version) => _settled = version;

        protected override int ReadFrame(ReadOnlySpan<byte> header, out long payloadLength)
        {
            payloadLength = 0;
            var status = FrameHeader.TryRead(header, out var frame);
            if (status == FrameReadStatus.NeedMoreData)
            {
                return 0;
            }

            if (status == FrameReadStatus.UnknownType)
            {
                Side.Fail("output-unknown-frame", $"Emitted bytes that are no frame: {Convert.ToHexString(header.Slice(0, Math.Min(header.Length, 12)))}.");
                return -1;
            }

            payloadLength = frame.PayloadLength;
            Frame(frame);
            return frame.Length;
        }

        private void Frame(in FrameHeader header)
        {
            var conn = Side.Conn;
            Side.Features.Add($"out:{header.Type}:v{header.Version}");
            if (header.Version > Side.Config.MaxVersion)
            {
                Side.Fail("output-version", $"Emitted {header} above MaxVersion {Side.Config.MaxVersion}.");
            }

            if (_settled is { } v && header.Version != v)
            {
                Side.Fail("output-version", $"Emitted {header} on a version-{v} connection.");
            }

            switch (header.Type)
            {
                case FrameType.HandshakeRequest or FrameType.HandshakeReply:
                    bool expected = header.Type == (Side.Config.Client ? FrameType.HandshakeRequest : FrameType.HandshakeReply);
                    if (!expected || ++_handshakeFrames > 1)
                    {
                        Side.Fail("output-handshake", $"Emitted {header} (handshake frames so far {_handshakeFrames}).");
                    }

                    if (header.Magic != Side.Config.Magic)
                    {
                        Side.Fail("output-handshake", $"Emitted {header} with a foreign magic.");
                    }

                    break;
                case FrameType.Settings:
                    if (++_settingsFrames > 1)
                    {
                        Side.Fail("output-settings", "Emitted a second settings frame.");
                    }

                    break;
                case FrameType.ChannelPayload:
                    if (header.PayloadLength == 0)
                    {
                        Side.Fail("output-empty-payload", $"Emitted {header}.");
                    }

                    if (conn.Version > 0 && header.PayloadLength > conn.PeerSettings.MaxFramePayload)
                    {
                        Side.Fail("output-frame-size", $"Emitted {header} above the peer's MaxFramePayload {conn.PeerSettings.MaxFramePayload}.");
                    }

                    break;
                case FrameType.GoAway:
                    GoAways++;
                    break;
                case FrameType.WindowUpdate:
                    if (header.Argument == 0 || header.Argument > int.MaxValue)
                    {
                        Side.Fail("output-window-update", $"Emitted {header}.");
                    }

                    break;
            }
        }
    }
}
