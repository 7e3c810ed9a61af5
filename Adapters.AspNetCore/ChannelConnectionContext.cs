using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace TcpChan;

/// <summary>One TcpChan channel as a Kestrel connection.</summary>
internal sealed class ChannelConnectionContext : ConnectionContext
{
    private readonly ChannelPipe _pipe;

    public ChannelConnectionContext(ChannelPipe pipe, TcpChanEndPoint endPoint, long number)
    {
        _pipe = pipe;
        Transport = pipe;
        LocalEndPoint = endPoint;
        ConnectionId = $"tcpchan-{pipe.Stream.ChannelId}-{number}";
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override void Abort(ConnectionAbortedException abortReason) => _pipe.Stream.Abort();

    public override ValueTask DisposeAsync()
    {
        // Kestrel completes both halves first; disposing closes whatever is left.
        _pipe.Stream.Dispose();
        return default;
    }
}
