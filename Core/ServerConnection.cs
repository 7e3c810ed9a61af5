using TcpChan.Core.Frames;

namespace TcpChan.Core;

/// <summary>
/// The side that answers the handshake: it waits for the client's request, and replies
/// when the magic matches.
/// </summary>
public sealed class ServerConnection : Connection
{
    /// <summary>Creates a server connection whose channels come from <paramref name="channelFactory"/>.</summary>
    public ServerConnection(Func<Channel> channelFactory, ConnectionOptions? options = null)
        : this(ClientConnection.WrapFactory(channelFactory), options)
    {
    }

    /// <summary>Creates a server connection whose factory is told which channel it makes.</summary>
    public ServerConnection(Func<ChannelOpenInfo, Channel> channelFactory, ConnectionOptions? options = null)
        : base(channelFactory, options)
    {
    }

    /// <inheritdoc />
    public override bool IsClient => false;

    private protected override void OnConnectionEstablished()
    {
    }

    private protected override void OnHandshakeFrame(in FrameHeader header)
    {
        if (header.Type != FrameType.HandshakeRequest)
        {
            HandshakeFailure(HandshakeFailureReason.UnexpectedFrame, $"Expected a handshake request, got {header.Type}.");
            return;
        }

        if (header.Magic != HandshakeMagic)
        {
            // Like the reference: no reply, the handshake just fails.
            HandshakeFailure(HandshakeFailureReason.MagicMismatch, $"Mismatched magic: expected 0x{HandshakeMagic:X8}, got 0x{header.Magic:X8}.");
            return;
        }

        // The request's version byte is the newest the client offers (the reference always
        // sends 0, and answers any request with 0). The reply carries the version both use.
        Version = Math.Min(header.Version, MaxVersion);
        WriteShortFrame(FrameType.HandshakeReply, HandshakeMagic);
        HandshakeAccepted(Version);
    }
}
