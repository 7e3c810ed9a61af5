using TcpChan.Core.Frames;

namespace TcpChan.Core;

/// <summary>
/// The side that starts the handshake. On <see cref="Connection.ConnectionEstablished()"/>
/// it sends a handshake request and waits for the server's reply.
/// </summary>
public sealed class ClientConnection : Connection
{
    /// <summary>Creates a client connection whose channels come from <paramref name="channelFactory"/>.</summary>
    public ClientConnection(Func<Channel> channelFactory, ConnectionOptions? options = null)
        : this(WrapFactory(channelFactory), options)
    {
    }

    /// <summary>Creates a client connection whose factory is told which channel it makes.</summary>
    public ClientConnection(Func<ChannelOpenInfo, Channel> channelFactory, ConnectionOptions? options = null)
        : base(channelFactory, options)
    {
    }

    /// <inheritdoc />
    public override bool IsClient => true;

    private protected override void OnConnectionEstablished()
    {
        // The request carries the newest version offered in its version byte. The reference
        // does not look at that byte and answers with version 0, which settles version 0.
        Version = MaxVersion;
        WriteShortFrame(FrameType.HandshakeRequest, HandshakeMagic);
        StartReplyTimer();
    }

    private protected override void OnHandshakeFrame(in FrameHeader header)
    {
        StopReplyTimer();
        if (header.Type != FrameType.HandshakeReply)
        {
            HandshakeFailure(HandshakeFailureReason.UnexpectedFrame, $"Expected a handshake reply, got {header.Type}.");
            return;
        }

        if (header.Magic != HandshakeMagic)
        {
            HandshakeFailure(HandshakeFailureReason.MagicMismatch, $"Mismatched magic: expected 0x{HandshakeMagic:X8}, got 0x{header.Magic:X8}.");
            return;
        }

        if (header.Version > MaxVersion)
        {
            HandshakeFailure(HandshakeFailureReason.VersionMismatch, $"The server chose version {header.Version}; this client offered at most {MaxVersion}.");
            return;
        }

        HandshakeAccepted(header.Version);
    }

    internal static Func<ChannelOpenInfo, Channel> WrapFactory(Func<Channel> factory)
    {
        if (factory is null)
        {
            throw new ArgumentNullException(nameof(factory));
        }

        return _ => factory();
    }
}
