namespace TcpChan.Core.Yamux;

/// <summary>The code a yamux go-away carries in its length field (hashicorp/yamux <c>spec.md</c>, "Session termination").</summary>
internal enum YamuxGoAwayCode : uint
{
    /// <summary>Normal termination: the sender accepts no new streams; open streams go on.</summary>
    Normal = 0,

    /// <summary>The sender saw a protocol error and is closing the session.</summary>
    ProtocolError = 1,

    /// <summary>The sender failed internally and is closing the session. Go's yamux defines it but never sends it.</summary>
    InternalError = 2,
}
