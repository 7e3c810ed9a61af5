namespace TcpChan.Core.Frames;

/// <summary>The outcome of reading a frame header from a span.</summary>
public enum FrameReadStatus
{
    /// <summary>The whole header was read.</summary>
    Complete,

    /// <summary>The span ends before the header does; more bytes are needed.</summary>
    NeedMoreData,

    /// <summary>The op byte names no frame of this protocol.</summary>
    UnknownType,
}
