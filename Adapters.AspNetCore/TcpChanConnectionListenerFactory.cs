using System.Net;
using Microsoft.AspNetCore.Connections;

namespace TcpChan;

/// <summary>Lets Kestrel bind <see cref="TcpChanEndPoint"/>s (and only those; other endpoints go to the other factories).</summary>
public sealed class TcpChanConnectionListenerFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    /// <inheritdoc />
    public bool CanBind(EndPoint endpoint) => endpoint is TcpChanEndPoint;

    /// <inheritdoc />
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not TcpChanEndPoint tcpChan)
        {
            throw new NotSupportedException($"{endpoint} is not a TcpChan endpoint.");
        }

        return new ValueTask<IConnectionListener>(new TcpChanConnectionListener(tcpChan));
    }
}
