namespace TcpChan.Core.Frames;

/// <summary>The op byte of a frame: what the frame is.</summary>
/// <remarks>Ops 1 to 5 are version 0, exactly as Python tcpchan 0.1.1 encodes them.</remarks>
public enum FrameType : byte
{
    /// <summary>Client to server, first frame of a connection: <c>magic u32</c>.</summary>
    HandshakeRequest = 1,

    /// <summary>Server to client, answer to the request: <c>magic u32</c>.</summary>
    HandshakeReply = 2,

    /// <summary>Either side opens a channel: <c>channel u32</c>.</summary>
    CreateChannel = 3,

    /// <summary>Either side closes a channel: <c>channel u32</c>.</summary>
    CloseChannel = 4,

    /// <summary>Bytes for a channel: <c>channel u32 | length u16 | payload</c>.</summary>
    ChannelPayload = 5,
}
