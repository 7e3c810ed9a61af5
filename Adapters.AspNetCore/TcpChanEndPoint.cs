using System.Net;

namespace TcpChan;

/// <summary>
/// A Kestrel endpoint made of a TcpChan session: every channel the peer opens on it is one
/// incoming connection. Listen on it with <c>options.Listen(new TcpChanEndPoint(session))</c>
/// after <see cref="TcpChanWebHostExtensions.UseTcpChan"/>.
/// </summary>
public sealed class TcpChanEndPoint : EndPoint
{
    /// <summary>Accepts the channels of <paramref name="session"/>.</summary>
    public TcpChanEndPoint(TcpChanSession session) => Session = session ?? throw new ArgumentNullException(nameof(session));

    /// <summary>The session whose channels are accepted.</summary>
    public TcpChanSession Session { get; }

    /// <inheritdoc />
    public override string ToString() => $"tcpchan:session({(Session.IsClient ? "client" : "server")}, version {Session.Version})";
}
