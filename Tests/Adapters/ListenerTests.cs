using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>The session listener's life: what disposing it does to sessions accepted and not.</summary>
public class ListenerTests
{
    [Fact]
    public async Task Disposing_the_listener_closes_sessions_never_accepted_and_keeps_accepted_ones()
    {
        var listener = TcpChanListener.Start(Loopback.AnyPort);
        var accepting = listener.AcceptSessionAsync().AsTask();
        await using var kept = await TcpChanClient.ConnectAsync(listener.LocalEndPoint).WaitAsync(Loopback.Timeout);
        await using var accepted = await accepting.WaitAsync(Loopback.Timeout);

        // Handshaken by the listener, but nobody accepts it.
        await using var orphan = await TcpChanClient.ConnectAsync(listener.LocalEndPoint).WaitAsync(Loopback.Timeout);
        await orphan.PingAsync().WaitAsync(Loopback.Timeout); // answered: its server side is established
        await listener.DisposeAsync().AsTask().WaitAsync(Loopback.Timeout);

        // Closed with a go-away once queued; closed during its handshake if the listener had not queued it yet.
        await orphan.Completion.WaitAsync(Loopback.Timeout);
        Assert.Contains(orphan.EndError!.Reason, new[] { SessionEndReason.Closed, SessionEndReason.ConnectionLost });
        await kept.PingAsync().WaitAsync(Loopback.Timeout);
        Assert.Null(accepted.EndError);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => listener.AcceptSessionAsync().AsTask());
    }
}
