namespace TcpChan.Core;

// Time, given from outside: the handshake timeout, keepalive, and round-trip times.
public abstract partial class Connection
{
    private const int MaxUserPings = 64;
    private readonly List<PendingPing> _pings = new();
    private TimeSpan _now;
    private TimeSpan? _handshakeDeadline;
    private TimeSpan? _replyDeadline; // a client's, until the server's handshake reply has come
    private TimeSpan _lastReceivedAt;
    private bool _keepAlivePingOutstanding;
    private ulong _internalPingCount;
    private TimeSpan? _smoothedRtt;
    private bool _goAwaySent;
    private bool _goAwayReceived;

    /// <summary>The latest time given to the connection.</summary>
    public TimeSpan Now => _now;

    /// <summary>Version 1: the smoothed round-trip time measured by pings, or null before the first answer.</summary>
    public TimeSpan? SmoothedRtt => _smoothedRtt;

    /// <summary>
    /// When <see cref="HandleTimeout"/> must next be called (handshake timeout, keepalive
    /// ping, keepalive timeout), or null when no timer runs.
    /// </summary>
    public TimeSpan? NextDeadline
    {
        get
        {
            if (State == ConnectionState.Handshaking)
            {
                return _replyDeadline is { } reply && (_handshakeDeadline is not { } whole || reply < whole) ? reply : _handshakeDeadline;
            }

            if (State != ConnectionState.Established || IsVersion0)
            {
                return null;
            }

            TimeSpan deadline = _lastReceivedAt + _options.KeepAliveTimeout;
            if (_options.KeepAliveInterval is { } interval && !_keepAlivePingOutstanding)
            {
                deadline = Min(deadline, _lastReceivedAt + interval);
            }

            return deadline;
        }
    }

    /// <summary>
    /// Tells the connection the time (monotonic; any epoch, the same for every call) and
    /// runs the timers that are due: the handshake fails after its timeout; version 1 pings
    /// a silent peer after the keepalive interval and gives up after the keepalive timeout
    /// (<see cref="KeepAliveTimedOut"/>). Time never goes backwards: an earlier time is ignored.
    /// </summary>
    public void HandleTimeout(TimeSpan now)
    {
        AdvanceTime(now);
        if (State == ConnectionState.Handshaking)
        {
            if (_replyDeadline is { } reply && _now >= reply)
            {
                // Whatever came is still in the header buffer: a whole frame would have been handled.
                HandshakeFailure(HandshakeFailureReason.NoReply, PeerBytes.NoReply(_options.HandshakeReplyTimeout!.Value, _headerBuffer.AsSpan(0, _headerLength)));
            }
            else if (_handshakeDeadline is { } deadline && _now >= deadline)
            {
                HandshakeFailure(HandshakeFailureReason.TimedOut, $"The handshake did not complete within {PeerBytes.Seconds(_options.HandshakeTimeout!.Value)}.");
            }

            return;
        }

        if (State != ConnectionState.Established || IsVersion0)
        {
            return;
        }

        var silence = _now - _lastReceivedAt;
        if (silence >= _options.KeepAliveTimeout)
        {
            if (!_goAwaySent)
            {
                SendGoAway(ErrorCode.KeepAliveTimeout);
            }

            State = ConnectionState.Closed;
            CloseAllChannels(ChannelCloseReason.KeepAliveTimeout);
            Enqueue(new KeepAliveTimedOut(silence));
            return;
        }

        if (_options.KeepAliveInterval is { } interval && silence >= interval && !_keepAlivePingOutstanding)
        {
            _keepAlivePingOutstanding = true;
            SendPing(userOpaque: null);
        }
    }

    /// <summary>A client starts waiting for the server's handshake reply (<see cref="ConnectionOptions.HandshakeReplyTimeout"/>).</summary>
    private protected void StartReplyTimer() => _replyDeadline = _options.HandshakeReplyTimeout is { } timeout ? _now + timeout : null;

    /// <summary>The server's handshake reply has come, right or wrong.</summary>
    private protected void StopReplyTimer() => _replyDeadline = null;

    /// <summary>
    /// Version 1 and yamux: sends a ping carrying <paramref name="opaque"/> (on yamux at most
    /// 2^32 - 1, its ping's size); its answer arrives as <see cref="PingAcknowledged"/> with the
    /// round-trip time.
    /// </summary>
    /// <exception cref="InvalidOperationException">Version 0, not established, or 64 pings already unanswered.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Yamux: <paramref name="opaque"/> above 2^32 - 1.</exception>
    public void Ping(ulong opaque = 0)
    {
        if (_yamux && opaque > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(opaque), opaque, "A yamux ping carries a u32.");
        }

        RequireEstablished();
        RequireVersion1(nameof(Ping));
        int outstanding = 0;
        foreach (var ping in _pings)
        {
            outstanding += ping.IsUser ? 1 : 0;
        }

        if (outstanding >= MaxUserPings)
        {
            throw new InvalidOperationException($"{MaxUserPings} pings are already waiting for an answer.");
        }

        SendPing(opaque);
    }

    private void SendPing(ulong? userOpaque)
    {
        // The connection's own pings are told apart from the application's by the list, not the
        // value ("tc" in the high bits only to be recognisable; yamux's pings are 32 bits).
        ulong opaque = userOpaque ?? (_yamux ? 0x7463_0000U | (++_internalPingCount & 0xFFFF) : 0x7463_0000_0000_0000UL | ++_internalPingCount);
        if (_pings.Count >= 2 * MaxUserPings)
        {
            _pings.RemoveAt(0);
        }

        _pings.Add(new PendingPing(opaque, _now, userOpaque.HasValue));
        WritePing(ack: false, opaque);
    }

    private void HandlePing(uint flags, ulong opaque)
    {
        if ((flags & 1) == 0)
        {
            WritePing(ack: true, opaque);
            return;
        }

        for (int i = 0; i < _pings.Count; i++)
        {
            var ping = _pings[i];
            if (ping.Opaque != opaque)
            {
                continue;
            }

            _pings.RemoveAt(i);
            var rtt = _now - ping.SentAt;
            _smoothedRtt = _smoothedRtt is { } smoothed ? TimeSpan.FromTicks(((smoothed.Ticks * 7) + rtt.Ticks) / 8) : rtt;
            if (ping.IsUser)
            {
                Enqueue(new PingAcknowledged(opaque, rtt));
            }

            return;
        }

        // An answer to nothing we sent (or to a ping we stopped tracking): harmless, ignored.
    }

    private void AdvanceTime(TimeSpan now)
    {
        if (now > _now)
        {
            _now = now;
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private readonly struct PendingPing
    {
        public PendingPing(ulong opaque, TimeSpan sentAt, bool isUser)
        {
            Opaque = opaque;
            SentAt = sentAt;
            IsUser = isUser;
        }

        public ulong Opaque { get; }

        public TimeSpan SentAt { get; }

        public bool IsUser { get; }
    }
}
