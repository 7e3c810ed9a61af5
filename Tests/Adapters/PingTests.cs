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
        // Deterministic, whatever the load: a round trip can never be longer than the call that
        // measured it. A ping stamped with an older time (the bug) breaks that after idle time.
        for (int i = 0; i < 5; i++)
        {
            await Task.Delay(330); // idle time, so the timer's last tick is in the past
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            var rtt = await client.PingAsync().WaitAsync(Timeout);
            var call = System.Diagnostics.Stopwatch.GetElapsedTime(start);
            Assert.True(rtt <= call, $"round trip {rtt.TotalMilliseconds} ms, but the call took {call.TotalMilliseconds} ms");
        }
    }
}
