using Microsoft.Extensions.Logging;
using TcpChan.Core;

namespace TcpChan;

/// <summary>Settings of a session (and of a protocol's driver).</summary>
public sealed class TcpChanSessionOptions
{
    /// <summary>The core's settings: the protocol (TcpChan or yamux), magic, version, windows, budget, keepalive.</summary>
    public ConnectionOptions Connection { get; set; } = new();

    /// <summary>Where sessions log; nothing per frame above Trace. Null: no logging.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>Bytes read from the transport at once.</summary>
    public int ReceiveBufferSize { get; set; } = 64 * 1024;

    /// <summary>
    /// Writers wait while this many bytes are written but not yet handed to the transport,
    /// so that a fast writer cannot grow memory faster than the transport drains it. Checked
    /// before each write, so it is also about the most one transport write carries.
    /// </summary>
    public int MaxUnsentBytes { get; set; } = 1024 * 1024;

    /// <summary>Accepted channels waiting for <see cref="TcpChanSession.AcceptChannelAsync"/>; more are reset with <see cref="ErrorCode.Refused"/>.</summary>
    public int AcceptBacklog { get; set; } = 1024;
}
