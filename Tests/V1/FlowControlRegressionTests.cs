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
