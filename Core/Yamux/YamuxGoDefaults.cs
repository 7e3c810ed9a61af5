namespace TcpChan.Core.Yamux;

/// <summary>
/// What a Go peer with <c>yamux.DefaultConfig()</c> does (hashicorp/yamux <c>mux.go</c>), the
/// peer this implementation is tested against. These are facts about the peer that the
/// connection must live with, not settings of this implementation.
/// </summary>
internal static class YamuxGoDefaults
{
    /// <summary>
    /// Streams the peer holds opened but not yet accepted by its application (and, as an
    /// opener, SYNs it keeps unacknowledged at once). An open past it is reset.
    /// </summary>
    public const int AcceptBacklog = 256;

    /// <summary>The peer pings this often, on stream 0, whatever the traffic (keepalive on by default).</summary>
    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the peer waits for a ping's answer, and for a frame of its own to be written,
    /// before it closes the whole session (no go-away).
    /// </summary>
    public static readonly TimeSpan ConnectionWriteTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The peer's stream receive window never grows past this: with the defaults, the initial 256 KiB.</summary>
    public const uint MaxStreamWindowSize = YamuxProtocol.InitialStreamWindow;

    /// <summary>
    /// Newer hashicorp/yamux only (not the 2019 version Debian ships): how long an open may
    /// wait for its ack before the peer closes the whole session.
    /// </summary>
    public static readonly TimeSpan StreamOpenTimeout = TimeSpan.FromSeconds(75);

    /// <summary>
    /// Newer hashicorp/yamux only: how long a stream the peer half-closed waits for this side's
    /// FIN before the peer resets it.
    /// </summary>
    public static readonly TimeSpan StreamCloseTimeout = TimeSpan.FromMinutes(5);
}
