namespace TcpChan.Core.Yamux;

/// <summary>
/// The fixed numbers of the yamux wire protocol (hashicorp/yamux <c>spec.md</c>) and its
/// stream-id rules. docs/PROTOCOL.md, "Yamux", has how this implementation uses them.
/// </summary>
internal static class YamuxProtocol
{
    /// <summary>Bytes of every frame header: version u8 | type u8 | flags u16 | stream id u32 | length u32.</summary>
    public const int HeaderLength = 12;

    /// <summary>The only version there is; a frame with another version byte is an error.</summary>
    public const byte Version = 0;

    /// <summary>The stream id of the session itself, which pings and go-aways carry.</summary>
    public const uint SessionStreamId = 0;

    /// <summary>
    /// The receive window every stream starts with, in each direction, from its first frame on:
    /// 256 KiB. Both sides assume it; a larger one is granted by window updates only.
    /// </summary>
    public const uint InitialStreamWindow = 256 * 1024;

    /// <summary>The largest window a u32 can hold; credit beyond it cannot be expressed.</summary>
    public const uint MaxWindow = uint.MaxValue;

    /// <summary>The first stream id a client opens (odd ids, 1, 3, 5, ...).</summary>
    public const uint FirstClientStreamId = 1;

    /// <summary>The first stream id a server opens (even ids, 2, 4, 6, ...).</summary>
    public const uint FirstServerStreamId = 2;

    /// <summary>
    /// The last id Go's yamux hands out: it refuses to open a stream once the next id would be
    /// <c>2^32 - 2</c> or more, so <c>2^32 - 3</c> (client) and <c>2^32 - 4</c> (server) are the last.
    /// </summary>
    public const uint StreamIdLimit = uint.MaxValue - 1;

    /// <summary>True for an id the client side opens (odd), false for the server's (even, 0 excepted).</summary>
    public static bool IsClientStreamId(uint streamId) => (streamId & 1) == 1;

    /// <summary>
    /// True when <paramref name="streamId"/> is one the peer may open: not 0, and of the
    /// peer's parity (odd when the peer is the client).
    /// </summary>
    public static bool IsPeerStreamId(uint streamId, bool peerIsClient) =>
        streamId != SessionStreamId && IsClientStreamId(streamId) == peerIsClient;
}
