namespace TcpChan.Tests.QuickStart;

// README:begin by-hand
using System.Text;
using TcpChan.Core;

// Keeps what arrives on a channel.
public sealed class CollectingChannel : Channel
{
    public MemoryStream Received { get; } = new();

    protected override void DataReceived(ReadOnlySpan<byte> data) => Received.Write(data);
}

public static class ByHand
{
    // A client and an echo server joined in memory: the client says "hello" on one channel
    // and returns what comes back.
    public static string Hello()
    {
        var server = EchoService.CreateServer();
        var client = new ClientConnection(() => new CollectingChannel());
        server.ConnectionEstablished(); // transport up: the server waits for the handshake
        client.ConnectionEstablished(); // the client queues its handshake request
        Pump(client, server);           // request, reply, both sides' settings: Established

        var channel = (CollectingChannel)client.CreateChannel();
        channel.Write("hello"u8);
        Pump(client, server);           // open and payload frames over, the echo back

        channel.Close();                // ends our side; the echo channel ends its side too,
        Pump(client, server);           // and the channel closes on both sides as Completed
        return Encoding.UTF8.GetString(channel.Received.ToArray());
    }

    // The driver's whole job: take each side's events until both are quiet. The bytes of a
    // DataTransmit go to the other side, as a socket would carry them.
    public static void Pump(Connection a, Connection b)
    {
        while (a.HasEvents || b.HasEvents)
        {
            Deliver(a, b);
            Deliver(b, a);
        }
    }

    private static void Deliver(Connection from, Connection to)
    {
        while (from.NextEvent() is { } e)
        {
            switch (e)
            {
                case DataTransmit transmit:
                    to.DataReceived(transmit.Payload.Span); // over TCP: write it to the socket
                    transmit.Dispose();                     // hands the buffer back for reuse
                    break;
                case HandshakeFailed or ProtocolError or KeepAliveTimedOut:
                    // The connection is over: a real driver closes the transport here.
                    throw new InvalidOperationException($"{(from.IsClient ? "client" : "server")}: {e}");
                default:
                    // HandshakeSuccess, ChannelCreated, ChannelClosed, DataDiscarded,
                    // PingAcknowledged, GoAwayReceived: for information.
                    break;
            }
        }
    }
}
// README:end by-hand
