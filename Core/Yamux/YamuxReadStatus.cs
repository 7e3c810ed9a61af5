namespace TcpChan.Core.Yamux;

/// <summary>The outcome of reading a yamux frame header from a span.</summary>
internal enum YamuxReadStatus
{
    /// <summary>The whole 12-byte header was read.</summary>
    Complete,

    /// <summary>The span ends before the header does; more bytes are needed.</summary>
    NeedMoreData,

    /// <summary>The version byte is not 0, the only version yamux has.</summary>
    BadVersion,

    /// <summary>The type byte names no frame (4 to 255).</summary>
    UnknownType,
}
