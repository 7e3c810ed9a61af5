using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>What a driver reports to the API built on it (a session or a protocol).</summary>
internal interface IDriverHandler
{
    /// <summary>An event other than <see cref="DataTransmit"/>, under the driver's lock.</summary>
    void OnEvent(ConnectionEvent e);

    /// <summary>The timer loop ran (at least once a second while the session lives), under the driver's lock.</summary>
    void OnTick();

    /// <summary>The session ended: fail whatever still waits. Called once.</summary>
    void OnTerminated(TcpChanSessionException error);
}
