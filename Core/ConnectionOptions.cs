namespace TcpChan.Core;

/// <summary>
/// Settings of a connection. The defaults speak TcpChan version 1 and fall back to version 0 with
/// Python tcpchan 0.1.1; <see cref="Protocol"/> chooses yamux instead.
/// </summary>
public sealed class ConnectionOptions
{
    /// <summary>Yamux: the default of <see cref="MaxConcurrentChannels"/>, Go's accept backlog.</summary>
    public const int DefaultYamuxMaxConcurrentChannels = 256;

    /// <summary>Yamux: the largest <see cref="MaxFramePayload"/> (the data frames this side sends).</summary>
    public const int MaxYamuxFramePayload = 16 * 1024 * 1024;

    private int? _maxConcurrentChannels;

    /// <summary>
    /// The wire protocol: TcpChan (default) or yamux. Both sides must choose the same; there is
    /// no negotiation between them. On yamux the handshake settings (<see cref="HandshakeMagic"/>,
    /// <see cref="MaxVersion"/>, <see cref="HandshakeTimeout"/>, <see cref="HandshakeReplyTimeout"/>)
    /// do not apply, and the rest are read as docs/PROTOCOL.md ("Yamux") says.
    /// </summary>
    public WireProtocol Protocol { get; set; } = WireProtocol.TcpChan;

    /// <summary>The handshake magic of the reference implementation.</summary>
    public const uint DefaultHandshakeMagic = 0xFEEDBACC;

    /// <summary>The newest protocol version this implementation speaks.</summary>
    public const byte LatestVersion = 1;

    /// <summary>Both sides must use the same magic, or the handshake fails.</summary>
    public uint HandshakeMagic { get; set; } = DefaultHandshakeMagic;

    /// <summary>
    /// The newest version this side offers (client) or accepts (server). 0 makes a
    /// version-0-only peer that behaves like the reference.
    /// </summary>
    public byte MaxVersion { get; set; } = LatestVersion;

    /// <summary>
    /// Source of random channel ids in version 0 (ids are random there, as the reference
    /// picks them). Set a seeded <see cref="Random"/> for reproducible tests.
    /// </summary>
    public Random? Random { get; set; }

    /// <summary>
    /// Version 1: credit each channel starts with for data sent to this side. Yamux: at least the
    /// protocol's 256 KiB (the default); more is granted on each stream's open or accept.
    /// </summary>
    public int InitialChannelWindow { get; set; } = Settings.DefaultInitialChannelWindow;

    /// <summary>Version 1: how far auto-tuning may grow a channel's window.</summary>
    public int MaxChannelWindow { get; set; } = 16 * 1024 * 1024;

    /// <summary>Version 1: grow a busy channel's window toward bandwidth × RTT.</summary>
    public bool AutoTuneWindows { get; set; } = true;

    /// <summary>
    /// Version 1: the most bytes this side buffers for all channels together (received,
    /// not yet consumed). Advertised as the session window, so a peer can never exceed it.
    /// Yamux has no session window: there it bounds what windows grow by above their initial
    /// size, all streams together (docs/PROTOCOL.md, "Yamux").
    /// </summary>
    public int SessionReceiveBudget { get; set; } = Settings.DefaultInitialSessionWindow;

    /// <summary>
    /// Version 1 and yamux: channels the peer may have open at once; more are refused
    /// (retryable). Default 4,096; on yamux 256 (<see cref="DefaultYamuxMaxConcurrentChannels"/>).
    /// </summary>
    public int MaxConcurrentChannels
    {
        get => _maxConcurrentChannels ?? (Protocol == WireProtocol.Yamux ? DefaultYamuxMaxConcurrentChannels : Settings.DefaultMaxConcurrentChannels);
        set => _maxConcurrentChannels = value;
    }

    /// <summary>
    /// Version 1: the largest payload frame this side accepts (1,024 to 65,535). Yamux: the
    /// largest data frame this side sends (1,024 to 16 MiB; it accepts any up to the window).
    /// </summary>
    public int MaxFramePayload { get; set; } = Settings.DefaultMaxFramePayload;

    /// <summary>
    /// The most payload one channel sends in one turn while other channels of its urgency also
    /// have data to send (a channel alone sends frames as large as the peer accepts): smaller
    /// gives finer interleaving, larger fewer frame headers. 1,024 to 65,535; default 16 KiB.
    /// </summary>
    public int SendQuantum { get; set; } = 16 * 1024;

    /// <summary>Version 1: after this long without input, send a ping. Null: no keepalive.</summary>
    public TimeSpan? KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Version 1: after this long without input, the connection is dead (<see cref="KeepAliveTimedOut"/>).</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>If the handshake has not completed this long after <see cref="Connection.ConnectionEstablished()"/>, it fails. Null: wait forever.</summary>
    public TimeSpan? HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Client: if the server's handshake reply has not arrived this long after
    /// <see cref="Connection.ConnectionEstablished()"/>, the handshake fails with a message that the
    /// server did not answer as TcpChan and what it sent instead, if anything. A TcpChan server
    /// replies as soon as it reads the request, before any application code runs, so silence
    /// means another protocol's server (one whose client speaks first, such as HTTP, or TLS).
    /// The rest of the handshake (version 1's settings) still has <see cref="HandshakeTimeout"/>.
    /// Null: only <see cref="HandshakeTimeout"/>. A server ignores it.
    /// </summary>
    public TimeSpan? HandshakeReplyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    internal void Validate()
    {
        if (Protocol is not (WireProtocol.TcpChan or WireProtocol.Yamux))
        {
            throw new ArgumentOutOfRangeException(nameof(Protocol), Protocol, "TcpChan or Yamux.");
        }

        if (Protocol == WireProtocol.Yamux)
        {
            ValidateYamux();
        }
        else if (MaxFramePayload < Settings.MinMaxFramePayload || MaxFramePayload > Settings.DefaultMaxFramePayload)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxFramePayload), MaxFramePayload, "1,024 to 65,535.");
        }

        if (MaxVersion > LatestVersion)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxVersion), MaxVersion, $"Versions 0 to {LatestVersion} exist.");
        }

        if (InitialChannelWindow < 1 || MaxChannelWindow < InitialChannelWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(InitialChannelWindow), "Need 1 <= InitialChannelWindow <= MaxChannelWindow.");
        }

        if (SessionReceiveBudget < InitialChannelWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(SessionReceiveBudget), "The session budget must hold at least one channel window.");
        }

        if (HandshakeReplyTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeReplyTimeout), HandshakeReplyTimeout, "Positive, or null for none.");
        }

        if (SendQuantum < Settings.MinMaxFramePayload || SendQuantum > Settings.DefaultMaxFramePayload)
        {
            throw new ArgumentOutOfRangeException(nameof(SendQuantum), SendQuantum, "1,024 to 65,535.");
        }

        if (MaxConcurrentChannels < 0 || KeepAliveTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentChannels));
        }
    }

    private void ValidateYamux()
    {
        if (InitialChannelWindow < Yamux.YamuxProtocol.InitialStreamWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(InitialChannelWindow), InitialChannelWindow, "Yamux streams start with a window of 256 KiB, which cannot be made smaller.");
        }

        if (MaxFramePayload < Settings.MinMaxFramePayload || MaxFramePayload > MaxYamuxFramePayload)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxFramePayload), MaxFramePayload, "Yamux: 1,024 to 16 MiB.");
        }
    }
}
