using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>What a session's core reports to the API built on it (<see cref="TcpChanSession"/> or <see cref="TcpChanProtocol"/>).</summary>
internal interface ISessionHandler
{
    /// <summary>An event other than <see cref="DataTransmit"/>, under the gate.</summary>
    void OnEvent(ConnectionEvent e);

    /// <summary>The timer ran (at least once a second while the session lives), under the gate.</summary>
    void OnTick();

    /// <summary>The session ended: fail whatever still waits. Called once, not under the gate.</summary>
    void OnTerminated(TcpChanSessionException error);
}
