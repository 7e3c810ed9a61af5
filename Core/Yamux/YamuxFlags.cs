namespace TcpChan.Core.Yamux;

/// <summary>
/// The flags field of a yamux frame (hashicorp/yamux <c>spec.md</c>, "Flag Field"). The four
/// defined bits may be combined; the other twelve are kept as read, for the connection to
/// ignore, as Go's yamux does.
/// </summary>
[Flags]
internal enum YamuxFlags : ushort
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>Opens a stream (on its first data or window update); on a ping, marks the request.</summary>
    Syn = 1,

    /// <summary>Accepts a stream opened by the peer; on a ping, marks the answer.</summary>
    Ack = 2,

    /// <summary>Half-close: the sender writes no more on the stream.</summary>
    Fin = 4,

    /// <summary>Resets the stream at once, or refuses its open when sent instead of an ack.</summary>
    Rst = 8,
}
