namespace TcpChan.Core.Frames;

/// <summary>The op byte of a frame: what the frame is.</summary>
/// <remarks>
/// Ops 1 to 5 are version 0, exactly as Python tcpchan 0.1.1 encodes them. Version 1 keeps
/// their numbers, gives op 3 a label and op 4 the meaning "end of data" (half-close), and
/// adds ops 6 to 10. docs/PROTOCOL.md has every layout.
/// </remarks>
public enum FrameType : byte
{
    /// <summary>Client to server, first frame of a connection: <c>magic u32</c>.</summary>
    HandshakeRequest = 1,

    /// <summary>Server to client, answer to the request: <c>magic u32</c>.</summary>
    HandshakeReply = 2,

    /// <summary>Opens a channel: <c>channel u32</c>; version 1 adds <c>labelLength u8 | label</c>.</summary>
    CreateChannel = 3,

    /// <summary>Version 0: closes a channel. Version 1: the sender writes no more on it (end of data). <c>channel u32</c>.</summary>
    CloseChannel = 4,

    /// <summary>Bytes for a channel: <c>channel u32 | length u16 | payload</c>.</summary>
    ChannelPayload = 5,

    /// <summary>Version 1: more credit for a channel, or for the session (channel 0): <c>channel u32 | increment u32</c>.</summary>
    WindowUpdate = 6,

    /// <summary>Version 1: aborts a channel, or refuses its open: <c>channel u32 | code u32</c>.</summary>
    ResetChannel = 7,

    /// <summary>Version 1: the sender's settings: <c>count u8 | count × (id u8 | value u32)</c>.</summary>
    Settings = 8,

    /// <summary>Version 1: liveness and round-trip time: <c>flags u8 | opaque u64</c>; flag 1 marks the answer.</summary>
    Ping = 9,

    /// <summary>Version 1: the sender shuts down: <c>lastChannelId u32 | code u32</c>.</summary>
    GoAway = 10,
}
