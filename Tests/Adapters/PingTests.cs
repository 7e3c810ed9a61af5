using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>Round trips measured by <see cref="TcpChanSession.PingAsync"/> over loopback.</summary>
public class PingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Ping_of_an_idle_session_measures_the_round_trip_not_the_idle_time()
    {
        // The session's timer runs about once a second while idle; a ping stamped with the time
        // of its last tick would come back up to a second "late". Pings at different points of
        // that cycle must all be short over loopback.
        var (listener, client, server) = await LoopbackSessionTests.PairAsync();
        await using var _ = listener;
        await using var __ = client;
        await using var ___ = server;
        var rtts = new List<TimeSpan>();
        for (int i = 0; i < 5; i++)
        {
            await Task.Delay(330);
            rtts.Add(await client.PingAsync().WaitAsync(Timeout));
        }

        Assert.True(rtts.Max() < TimeSpan.FromMilliseconds(250), "round trips: " + string.Join(", ", rtts.Select(r => r.TotalMilliseconds + " ms")));
        Assert.True(client.SmoothedRtt < TimeSpan.FromMilliseconds(250), $"smoothed: {client.SmoothedRtt}");
    }
}
