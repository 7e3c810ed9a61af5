namespace TcpChan.Core;

/// <summary>
/// Why a connection or channel failed. The numbers are the wire values of version 1's
/// reset and go-away frames; version 0 has no error frames, so there they are reported
/// locally only. docs/PROTOCOL.md has the table of when each is sent.
/// </summary>
public enum ErrorCode : uint
{
    /// <summary>No error: a graceful close.</summary>
    NoError = 0,

    /// <summary>A frame that is not allowed in the current state (second handshake, wrong version byte).</summary>
    ProtocolError = 1,

    /// <summary>The op byte names no frame.</summary>
    UnknownFrameType = 2,

    /// <summary>The peer created a channel whose id is already open.</summary>
    ChannelIdInUse = 3,

    /// <summary>A frame's length is out of bounds.</summary>
    FrameSizeError = 4,

    /// <summary>Something failed inside this implementation.</summary>
    InternalError = 5,
}
