using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.V1;

public class FlowControlTests
{
    private static SimulatedLink Pair(ConnectionOptions? client = null, ConnectionOptions? server = null, Func<Channel>? serverChannels = null, TimeSpan latency = default, double bandwidth = 0)
    {
        var link = new SimulatedLink(
            new ClientConnection(() => new TestChannel(), client),
            new ServerConnection(serverChannels ?? (() => new TestChannel()), server),
            latency,
            bandwidth);
        link.Start();
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.Equal(ConnectionState.Established, link.Client.State);
        Assert.Equal(1, link.Client.Version);
        return link;
    }

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void Ids_are_odd_for_the_client_and_even_for_the_server_and_increase()
    {
        var link = Pair();
        var c1 = link.Client.CreateChannel();
        var c2 = link.Client.CreateChannel();
        var s1 = link.Server.CreateChannel();
        var s2 = link.Server.CreateChannel();
        Assert.Equal(new uint[] { 1, 3, 2, 4 }, new[] { c1.ChannelId, c2.ChannelId, s1.ChannelId, s2.ChannelId });
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.Equal(4, link.Server.OpenChannelCount);
        Assert.Equal(4, link.Client.OpenChannelCount);
    }

    [Fact]
    public void A_writer_without_credit_queues_and_is_told_when_it_may_write_again()
    {
        var link = Pair(server: new ConnectionOptions { InitialChannelWindow = 4096 }, serverChannels: () => new TestChannel(autoConsume: false));
        var channel = (TestChannel)link.Client.CreateChannel();
        var data = Bytes(20_000, 1);
        channel.Write(data);
        Assert.Equal(20_000 - 4096, channel.QueuedBytes);
        Assert.Equal(0, channel.WritableBytes);
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        var far = (TestChannel)link.Server.GetChannel(channel.ChannelId)!;
        Assert.Equal(4096, far.Received.Length);

        // Credit comes back only when the application consumes.
        while (far.Received.Length < data.Length)
        {
            far.ConsumeAll();
            link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(data, far.Received.ToArray());
        Assert.Equal(0, channel.QueuedBytes);
        Assert.Equal(2, channel.WritableCalls); // when credit covered its queue, and when the queue had all left
    }

    [Fact]
    public void TryWrite_takes_only_what_credit_allows()
    {
        var link = Pair(server: new ConnectionOptions { InitialChannelWindow = 1000, SessionReceiveBudget = 1000 });
        var channel = link.Client.CreateChannel();
        Assert.Equal(1000, channel.TryWrite(new byte[5000]));
        Assert.Equal(0, channel.TryWrite(new byte[10]));
        Assert.Equal(0, channel.QueuedBytes);
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.Equal(1, ((TestChannel)channel).WritableCalls);
    }

    [Fact]
    public void Window_updates_are_batched()
    {
        var link = Pair();
        var channel = link.Client.CreateChannel();
        for (int i = 0; i < 1000; i++)
        {
            channel.Write(new byte[1024]);
            link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        }

        // 1,000 KiB through a 256 KiB window: a credit per quarter window, not per frame.
        int updates = link.FramesToClient.GetValueOrDefault(TcpChan.Core.Frames.FrameType.WindowUpdate);
        Assert.Equal(1000, link.FramesToServer[TcpChan.Core.Frames.FrameType.ChannelPayload]);
        Assert.InRange(updates, 10, 40);
    }

    [Fact]
    public void Both_sides_writing_more_than_a_window_before_reading_do_not_deadlock()
    {
        var link = Pair(new ConnectionOptions { InitialChannelWindow = 8192 }, new ConnectionOptions { InitialChannelWindow = 8192 });
        var a = (TestChannel)link.Client.CreateChannel();
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        var b = (TestChannel)link.Server.GetChannel(a.ChannelId)!;
        var da = Bytes(1_000_000, 2);
        var db = Bytes(1_000_000, 3);
        a.Write(da);
        b.Write(db);
        link.RunUntilQuiet(TimeSpan.FromSeconds(100));
        Assert.Equal(da, b.Received.ToArray());
        Assert.Equal(db, a.Received.ToArray());
    }

    [Fact]
    public void A_stalled_reader_on_one_channel_does_not_stop_100_others_and_memory_stays_within_budget()
    {
        const int budget = 1 << 20;
        var serverOptions = new ConnectionOptions { SessionReceiveBudget = budget, InitialChannelWindow = 64 * 1024 };
        int created = 0;
        var link = Pair(server: serverOptions, serverChannels: () => new TestChannel(autoConsume: created++ != 0));
        var stalled = link.Client.CreateChannel();
        var others = new List<Channel>();
        for (int i = 0; i < 100; i++)
        {
            others.Add(link.Client.CreateChannel());
        }

        stalled.Write(new byte[10_000_000]);
        var payload = Bytes(300_000, 4);
        foreach (var c in others)
        {
            c.Write(payload);
            c.CompleteWrites();
        }

        long peak = 0;
        link.OnStep = l => peak = Math.Max(peak, l.Server.BufferedBytes);
        link.RunUntilQuiet(TimeSpan.FromSeconds(1000));
        foreach (var c in others)
        {
            var far = (TestChannel)link.Server.GetChannel(c.ChannelId)!;
            Assert.Equal(payload.Length, far.Received.Length);
            Assert.True(far.EndOfData);
        }

        var stalledFar = (TestChannel)link.Server.GetChannel(stalled.ChannelId)!;
        Assert.Equal(64 * 1024, stalledFar.Held);
        Assert.True(peak <= budget, $"peak {peak}");
        Assert.True(link.Server.BufferedBytes <= budget);
    }

    [Fact]
    public void Half_close_ends_each_direction_and_the_channel_completes_when_both_have()
    {
        var link = Pair(serverChannels: () => new TestChannel(echo: true));
        var channel = (TestChannel)link.Client.CreateChannel();
        channel.Write(Bytes(100_000, 5));
        channel.CompleteWrites();
        Assert.Throws<InvalidOperationException>(() => channel.Write(new byte[1]));
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.True(channel.EndOfData);
        Assert.Equal(100_000, channel.Received.Length);
        Assert.Equal(ChannelCloseReason.Completed, channel.ClosedWith);
        Assert.Equal(0, link.Client.OpenChannelCount);
        Assert.Equal(0, link.Server.OpenChannelCount);
    }

    [Fact]
    public void Reset_reaches_the_peer_with_its_code_and_later_writes_fail_fast()
    {
        var link = Pair();
        var channel = (TestChannel)link.Client.CreateChannel();
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        var far = (TestChannel)link.Server.GetChannel(channel.ChannelId)!;
        far.Abort(ErrorCode.ApplicationBase + 7);
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.Equal(ChannelCloseReason.RemoteReset, channel.ClosedWith);
        Assert.Equal(ErrorCode.ApplicationBase + 7, channel.CloseCode);
        var ex = Assert.Throws<ChannelClosedException>(() => channel.Write(new byte[1]));
        Assert.Equal(ChannelCloseReason.RemoteReset, ex.Reason);
        var closed = Assert.Single(link.ClientEvents.OfType<ChannelClosed>());
        Assert.Equal(ErrorCode.ApplicationBase + 7, closed.Code);
    }

    [Fact]
    public void Windows_grow_toward_bandwidth_times_delay()
    {
        // 50 ms one way, 100 MB/s: a bandwidth-delay product of 10 MB, far above 256 KiB.
        var latency = TimeSpan.FromMilliseconds(50);
        const double bandwidth = 100e6;
        double Throughput(bool tune)
        {
            var link = Pair(server: new ConnectionOptions { AutoTuneWindows = tune }, latency: latency, bandwidth: bandwidth);
            var channel = link.Client.CreateChannel();
            channel.Write(new byte[64 << 20]);
            channel.CompleteWrites();
            var start = link.Now;
            link.RunUntilQuiet(TimeSpan.FromSeconds(1000));
            var far = (TestChannel)link.Server.GetChannel(channel.ChannelId)!;
            Assert.True(far.EndOfData);
            Assert.Equal(64 << 20, far.Received.Length);
            return (64 << 20) / (link.Now - start).TotalSeconds;
        }

        double fixedWindow = Throughput(false);
        double tuned = Throughput(true);
        Assert.True(tuned > 5 * fixedWindow, $"tuned {tuned / 1e6:F1} MB/s, fixed {fixedWindow / 1e6:F1} MB/s");
    }
}
