namespace TcpChan.Core;

/// <summary>
/// Why a connection or channel failed. The numbers are the wire values of version 1's
/// reset and go-away frames; version 0 has no error frames, so there they are reported
/// locally only. Values from <see cref="ApplicationBase"/> up are the application's own
/// (<see cref="Channel.Abort"/>). docs/PROTOCOL.md has the table of when each is sent.
/// </summary>
public enum ErrorCode : uint
{
    /// <summary>No error: a graceful go-away.</summary>
    NoError = 0,

    /// <summary>A frame that is not allowed in the current state (second handshake, wrong version byte, data after end of data, an id of the wrong side).</summary>
    ProtocolError = 1,

    /// <summary>The op byte names no frame.</summary>
    UnknownFrameType = 2,

    /// <summary>The peer opened a channel whose id is already open or was used before.</summary>
    ChannelIdInUse = 3,

    /// <summary>A payload frame above the receiver's largest frame setting.</summary>
    FrameSizeError = 4,

    /// <summary>Something failed inside this implementation.</summary>
    InternalError = 5,

    /// <summary>Data beyond the channel's or the session's credit, or credit above 2^31-1.</summary>
    FlowControlError = 6,

    /// <summary>The open was refused: too many channels, or the receiver is going away. Nothing was processed; retry is safe.</summary>
    Refused = 7,

    /// <summary>The application aborted the channel without a code of its own.</summary>
    Cancel = 8,

    /// <summary>Sent in a go-away when the peer was silent past the keepalive timeout.</summary>
    KeepAliveTimeout = 9,

    /// <summary>A settings value out of range.</summary>
    SettingsError = 10,

    /// <summary>The first code free for applications.</summary>
    ApplicationBase = 0x100,
}
