using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.V1;

public class FlowControlRegressionTests
{
    [Fact]
    public void A_channel_whose_credit_returns_while_the_session_has_none_is_told_when_the_session_credit_comes()
    {
        // Found by the pipe adapter's tests: a writer held back by its channel's window got
        // that credit back at a moment when other channels had spent all session credit; it
        // was then never told when session credit returned, and waited forever.
        var server = new ConnectionOptions { InitialChannelWindow = 4096, SessionReceiveBudget = 32768 };
        var link = new SimulatedLink(
            new ClientConnection(() => new TestChannel()),
            new ServerConnection(() => new TestChannel(), server),
            TimeSpan.FromMilliseconds(10));
        link.Start();
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));

        var held = (TestChannel)link.Client.CreateChannel();
        Assert.Equal(4096, held.TryWrite(new byte[5000])); // limited by its channel window
        for (int i = 0; i < 7; i++)
        {
            Assert.Equal(4096, link.Client.CreateChannel().TryWrite(new byte[4096])); // spends the session's
        }

        Assert.Equal(0, link.Client.SessionSendCredit);
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.Equal(1, held.WritableCalls);
        Assert.True(held.WritableBytes > 0);
    }
}

public class ZeroCreditRegressionTests
{
    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void An_empty_payload_for_a_channel_that_stopped_reading_sends_no_window_update_of_zero(Feed feed)
    {
        // Found by the fuzzer's CI pass: after Close(), an empty payload frame was "dropped"
        // and credited with 0, which sent a window update with increment 0 (a protocol error
        // for the peer).
        // A window under 4 bytes makes "a quarter window" 0, so crediting 0 bytes passed the test.
        var peer = new RawPeer(Role.Server, feed, new ConnectionOptions { InitialChannelWindow = 3 }, autoConsume: _ => false);
        peer.Handshake();
        uint id = peer.PeerOpens();
        peer.Send(RawPeer.Payload(id, 3));   // the whole window, held unconsumed
        peer.Ours.GetChannel(id)!.Close();   // dropped and credited back
        var mark = peer.Mark();
        peer.Send(RawPeer.Payload(id, 0));
        Assert.DoesNotContain(peer.FramesSince(mark), f => f.Type == TcpChan.Core.Frames.FrameType.WindowUpdate && f.Argument == 0);
        Assert.DoesNotContain(peer.AllFrames(), f => f.Type == TcpChan.Core.Frames.FrameType.WindowUpdate && f.Argument == 0);
        Assert.Equal(ConnectionState.Established, peer.Ours.State);
    }
}
