using TcpChan.Core;
using TcpChan.Tests.Support;
using TcpChan.Tests.V1;
using Xunit;

namespace TcpChan.Tests.Yamux;

/// <summary>Two yamux connections of ours back to back in memory: whole conversations, any chunking.</summary>
public sealed class YamuxPairTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 7)]
    [InlineData(3, 1 << 16)]
    [InlineData(4, 100_000)]
    public void Channels_carry_every_byte_both_ways_over_the_window_and_complete(int seed, int maxChunk)
    {
        var clientChannels = new List<TestChannel>();
        var serverChannels = new List<TestChannel>();
        var pair = Pair(clientChannels, serverChannels, Chunkers.Random(seed, maxChunk));
        pair.Handshake();
        Assert.Equal([WireProtocol.Yamux, WireProtocol.Yamux], new Connection[] { pair.Client, pair.Server }.Select(c => c.Protocol));

        var random = new Random(seed);
        var sent = new Dictionary<uint, (byte[] Up, byte[] Down)>();
        for (int i = 0; i < 3; i++)
        {
            var channel = pair.Client.CreateChannel();
            sent[channel.ChannelId] = (Wire.Pattern(random.Next(0, 700_000), seed * 10 + i), Wire.Pattern(random.Next(0, 700_000), seed * 100 + i));
        }

        pair.Pump();
        foreach (var channel in serverChannels)
        {
            channel.Write(sent[channel.ChannelId].Down);
            channel.CompleteWrites();
        }

        foreach (var channel in clientChannels)
        {
            channel.Write(sent[channel.ChannelId].Up);
            channel.CompleteWrites();
        }

        Settle(pair, clientChannels, serverChannels);

        foreach (var channel in serverChannels)
        {
            Assert.Equal(sent[channel.ChannelId].Up, channel.Received.ToArray());
            Assert.Equal(ChannelCloseReason.Completed, channel.CloseReason);
        }

        foreach (var channel in clientChannels)
        {
            Assert.Equal(sent[channel.ChannelId].Down, channel.Received.ToArray());
            Assert.Equal(ChannelCloseReason.Completed, channel.CloseReason);
        }

        Assert.Equal((0, 0), (pair.Client.OpenChannelCount, pair.Server.OpenChannelCount));
        Assert.Empty(pair.ClientEvents.Concat(pair.ServerEvents).OfType<DataDiscarded>());
    }

    [Fact]
    public void Ping_go_away_and_close_between_two_of_ours()
    {
        var pair = Pair([], [], Chunkers.Whole);
        pair.Handshake();
        var open = pair.Client.CreateChannel();
        pair.Pump();

        pair.Server.Ping(42);
        pair.Server.GoAway();
        pair.Pump();
        Assert.Contains(pair.ServerEvents, e => e is PingAcknowledged { Opaque: 42 });
        Assert.Contains(pair.ClientEvents, e => e is GoAwayReceived { Code: ErrorCode.NoError, LastChannelId: uint.MaxValue });
        Assert.Throws<InvalidOperationException>(() => pair.Client.CreateChannel());

        open.Write("still"u8);
        pair.Pump();
        Assert.Equal("still"u8.ToArray(), ((TestChannel)pair.Server.GetChannel(1)!).Received.ToArray());

        pair.Client.Close();
        pair.Pump();
        Assert.Equal(ConnectionState.Closed, pair.Client.State);
        Assert.Equal(1, pair.Server.OpenChannelCount); // a go-away closes nothing: the transport's end does
    }

    private static InMemoryPair Pair(List<TestChannel> clientChannels, List<TestChannel> serverChannels, Chunker chunker)
    {
        static Func<ChannelOpenInfo, Channel> Factory(List<TestChannel> list) => _ =>
        {
            var channel = new TestChannel(autoConsume: false);
            list.Add(channel);
            return channel;
        };

        return new InMemoryPair(
            Factory(clientChannels),
            Factory(serverChannels),
            new ConnectionOptions { Protocol = WireProtocol.Yamux },
            new ConnectionOptions { Protocol = WireProtocol.Yamux },
            chunker);
    }

    /// <summary>Consumes everything on both sides and pumps, until nothing moves.</summary>
    private static void Settle(InMemoryPair pair, List<TestChannel> a, List<TestChannel> b)
    {
        for (int round = 0; round < 10_000; round++)
        {
            pair.Pump();
            bool held = false;
            foreach (var channel in a.Concat(b).Where(c => !c.IsClosed && c.Held > 0))
            {
                held = true;
                channel.ConsumeAll();
            }

            if (!held && !pair.Client.HasEvents && !pair.Server.HasEvents)
            {
                return;
            }
        }

        throw new InvalidOperationException("The pair did not settle.");
    }
}
