using TcpChan.Core;
using TcpChan.Core.Frames;
using TcpChan.Tests.V1;
using Xunit;

namespace TcpChan.Tests.Support;

/// <summary>
/// A client whose output is pulled, handshaken with a server (events) that grants 16 MiB
/// windows and a 1 GiB budget. The client's frames are read as they leave; the server takes
/// them whole, so that it can give credit back when a test asks (DeliverCredit).
/// </summary>
internal sealed class PulledLink
{
    /// <summary>A client frame as it left: its type, channel, payload length and (when asked) payload.</summary>
    public readonly record struct Frame(FrameType Type, uint Channel, int Length, byte[] Payload);

    private readonly List<byte[]> _toServer = new();

    public PulledLink(ConnectionOptions? server = null)
    {
        Client = new ClientConnection(() => ClientChannels());
        Client.OutputAsEvents = false;
        Server = new ServerConnection(
            () => new TestChannel(),
            server ?? new ConnectionOptions { InitialChannelWindow = 16 << 20, MaxChannelWindow = 16 << 20, SessionReceiveBudget = 1 << 30 });
        Server.ConnectionEstablished();
        Client.ConnectionEstablished();
        Settle();
        Assert.Equal(ConnectionState.Established, Client.State);
    }

    public ClientConnection Client { get; }

    /// <summary>Makes the client's channels (TestChannel unless a test says otherwise).</summary>
    public Func<Channel> ClientChannels { get; set; } = () => new TestChannel();

    public ServerConnection Server { get; }

    /// <summary>Delivers everything both ways until both are quiet.</summary>
    public void Settle()
    {
        for (int i = 0; i < 100; i++)
        {
            bool any = false;
            while (Client.TakeOutput(int.MaxValue) is { } transmit)
            {
                Server.DataReceived(transmit.Payload.Span);
                transmit.Dispose();
                any = true;
            }

            foreach (var e in Wire.Drain(Server))
            {
                if (e is DataTransmit t)
                {
                    Client.DataReceived(t.Payload.Span);
                    t.Dispose();
                    any = true;
                }
            }

            Wire.Drain(Client);
            if (!any)
            {
                return;
            }
        }
    }

    /// <summary>One take of the client's output, as frames; what was taken is kept for the server.</summary>
    public List<Frame> TakeFrames(int maxBytes, bool keepPayload = false)
    {
        var frames = new List<Frame>();
        if (Client.TakeOutput(maxBytes) is not { } transmit)
        {
            return frames;
        }

        var bytes = transmit.Payload.ToArray();
        transmit.Dispose();
        _toServer.Add(bytes);
        foreach (var (header, payload) in Wire.DecodeAll(bytes))
        {
            if (header.Type is FrameType.ChannelPayload or FrameType.CloseChannel)
            {
                frames.Add(new Frame(header.Type, header.ChannelId, payload.Length, keepPayload ? payload : []));
            }
        }

        return frames;
    }

    /// <summary>The server gets what was taken, its channels consume it, and its credit comes back.</summary>
    public void DeliverCredit()
    {
        foreach (var bytes in _toServer)
        {
            Server.DataReceived(bytes);
        }

        _toServer.Clear();
        foreach (var e in Wire.Drain(Server))
        {
            if (e is DataTransmit t)
            {
                Client.DataReceived(t.Payload.Span);
                t.Dispose();
            }
        }

        Wire.Drain(Client);
    }
}
