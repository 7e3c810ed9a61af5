namespace TcpChan.Core.Yamux;

/// <summary>The type byte of a yamux frame (hashicorp/yamux <c>spec.md</c>, "Type Field").</summary>
internal enum YamuxFrameType : byte
{
    /// <summary>Bytes for a stream: the length field counts the payload that follows the header.</summary>
    Data = 0,

    /// <summary>More receive window for a stream: the length field is the delta. Also opens, accepts, half-closes or resets a stream by its flags.</summary>
    WindowUpdate = 1,

    /// <summary>Liveness and round-trip time, on stream 0: the length field is an opaque value the answer echoes.</summary>
    Ping = 2,

    /// <summary>The sender shuts the session down, on stream 0: the length field is a <see cref="YamuxGoAwayCode"/>.</summary>
    GoAway = 3,
}
