namespace TcpChan.Core;

/// <summary>
/// Something the connection reports to its driver, taken with
/// <see cref="Connection.NextEvent"/>. Each kind is its own class; switch on the type.
/// </summary>
public abstract class ConnectionEvent
{
    private protected ConnectionEvent()
    {
    }
}
