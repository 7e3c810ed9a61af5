using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests;

public class V1SmokeTests
{
    private sealed class Rec : Channel
    {
        public readonly MemoryStream Data = new();
        public bool Ended;
        protected override void DataReceived(ReadOnlySpan<byte> data) => Data.Write(data);
        protected override void OnEndOfData() => Ended = true;
    }

    private static List<ConnectionEvent> Pump(Connection a, Connection b, List<ConnectionEvent> evA, List<ConnectionEvent> evB)
    {
        bool progress = true;
        while (progress)
        {
            progress = false;
            foreach (var (from, to, log) in new[] { (a, b, evA), (b, a, evB) })
            {
                while (from.NextEvent() is { } e)
                {
                    progress = true;
                    if (e is DataTransmit t)
                    {
                        if (to.State is ConnectionState.Handshaking or ConnectionState.Established) to.DataReceived(t.Payload.Span);
                        t.Dispose();
                    }
                    else log.Add(e);
                }
            }
        }
        return evA;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(0, 1, 0)]
    [InlineData(1, 0, 0)]
    [InlineData(0, 0, 0)]
    public void Negotiates_and_moves_data(byte clientMax, byte serverMax, byte expected)
    {
        var c = new ClientConnection(() => new Rec(), new ConnectionOptions { MaxVersion = clientMax });
        var s = new ServerConnection(() => new Rec(), new ConnectionOptions { MaxVersion = serverMax });
        var ec = new List<ConnectionEvent>(); var es = new List<ConnectionEvent>();
        s.ConnectionEstablished(); c.ConnectionEstablished();
        Pump(c, s, ec, es);
        Assert.Equal(expected, c.Version);
        Assert.Equal(expected, s.Version);
        Assert.Equal(ConnectionState.Established, c.State);
        Assert.Equal(ConnectionState.Established, s.State);
        var ch = (Rec)c.CreateChannel("hello");
        var big = new byte[1_000_000];
        new Random(1).NextBytes(big);
        ch.Write(big);
        Pump(c, s, ec, es);
        var sch = (Rec)s.GetChannel(ch.ChannelId)!;
        Assert.Equal(big, sch.Data.ToArray());
        if (expected == 1) Assert.Equal("hello", sch.Label);
        sch.Write(big);
        Pump(c, s, ec, es);
        Assert.Equal(big, ch.Data.ToArray());
        ch.Close();
        Pump(c, s, ec, es);
        if (expected == 1)
        {
            Assert.True(sch.Ended);
            sch.CompleteWrites();
            Pump(c, s, ec, es);
        }
        Assert.Equal(0, c.OpenChannelCount);
        Assert.Equal(0, s.OpenChannelCount);
        Assert.DoesNotContain(ec, e => e is ProtocolError or HandshakeFailed);
        Assert.DoesNotContain(es, e => e is ProtocolError or HandshakeFailed);
    }
}
