using System.Net;
using Microsoft.AspNetCore.Connections;

namespace TcpChan;

/// <summary>Hands Kestrel each channel the peer opens, as a connection, until the session ends or Kestrel unbinds.</summary>
internal sealed class TcpChanConnectionListener : IConnectionListener
{
    private readonly TcpChanEndPoint _endPoint;
    private readonly CancellationTokenSource _unbind = new();
    private long _accepted;

    public TcpChanConnectionListener(TcpChanEndPoint endPoint) => _endPoint = endPoint;

    public EndPoint EndPoint => _endPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _unbind.Token);
        try
        {
            var stream = await _endPoint.Session.AcceptChannelAsync(linked.Token).ConfigureAwait(false);
            return new ChannelConnectionContext(stream.AsDuplexPipe(), _endPoint, Interlocked.Increment(ref _accepted));
        }
        catch (Exception ex) when (ex is TcpChanSessionException || _unbind.IsCancellationRequested)
        {
            // The session is over or Kestrel stopped listening: no more connections (null says so).
            return null;
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _unbind.Cancel();
        return default;
    }

    public ValueTask DisposeAsync()
    {
        _unbind.Cancel();
        _unbind.Dispose();
        return default;
    }
}
