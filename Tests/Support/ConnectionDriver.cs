using TcpChan.Core;
using TcpChan.Tests.V1;

namespace TcpChan.Tests.Support;

/// <summary>
/// One real connection of ours (client or server) driven by bytes a test writes by hand, as a
/// peer would send them: fed whole or a byte per call, everything our side reports and sends
/// recorded, with views of what came after a <see cref="Mark"/>. No link, no clock but the one
/// the test gives. The wire format is the subclass's (<see cref="RawPeer"/>: TcpChan version 1;
/// <see cref="Yamux.YamuxPeer"/>: yamux).
/// </summary>
public abstract class ConnectionDriver
{
    private readonly List<byte> _sent = new();
    private readonly List<ConnectionEvent> _events = new();

    /// <param name="role">The role of OUR connection; the peer plays the other one.</param>
    /// <param name="feed">Whole frames per call, or one byte per call.</param>
    /// <param name="options">Our connection's options.</param>
    /// <param name="autoConsume">Whether our channel with this id consumes automatically (default: all do).</param>
    protected ConnectionDriver(Role role, Feed feed, ConnectionOptions? options, Func<uint, bool>? autoConsume)
    {
        Role = role;
        FeedMode = feed;
        Func<ChannelOpenInfo, Channel> factory = info =>
        {
            var channel = new TestChannel(autoConsume?.Invoke(info.ChannelId) ?? true);
            Channels[info.ChannelId] = channel;
            return channel;
        };
        Ours = role == Role.Client ? new ClientConnection(factory, options) : new ServerConnection(factory, options);
    }

    public Role Role { get; }

    public Feed FeedMode { get; }

    /// <summary>Our real connection.</summary>
    public Connection Ours { get; }

    /// <summary>Every channel our factory made, by id.</summary>
    public Dictionary<uint, TestChannel> Channels { get; } = new();

    /// <summary>Every event our side reported except <see cref="DataTransmit"/>, in order.</summary>
    public IReadOnlyList<ConnectionEvent> Events => _events;

    /// <summary>Every byte our side sent.</summary>
    public IReadOnlyList<byte> Sent => _sent;

    /// <summary>The n-th id (1-based) of the peer's parity: odd for a client peer, even for a server peer.</summary>
    public uint PeerId(int n) => Role == Role.Server ? (uint)((2 * n) - 1) : (uint)(2 * n);

    /// <summary>The n-th id (1-based) of our side's parity.</summary>
    public uint OurId(int n) => Role == Role.Client ? (uint)((2 * n) - 1) : (uint)(2 * n);

    /// <summary>Feeds bytes to our connection (all parts in one call, or one byte per call) and drains its events.</summary>
    public void Send(params byte[][] parts) => SendAt(null, parts);

    /// <summary>As <see cref="Send"/>, at time <paramref name="now"/> (default: the connection's).</summary>
    public void SendAt(TimeSpan? now, params byte[][] parts)
    {
        var bytes = Wire.Concat(parts);
        var at = now ?? Ours.Now;
        if (FeedMode == Feed.Whole)
        {
            Ours.DataReceived(bytes, at);
            Drain();
            return;
        }

        for (int i = 0; i < bytes.Length; i++)
        {
            Ours.DataReceived(bytes.AsSpan(i, 1), at);
            Drain();
        }
    }

    /// <summary>Takes our queued events: transmits into <see cref="Sent"/>, the rest into <see cref="Events"/>.</summary>
    public void Drain()
    {
        while (Ours.NextEvent() is { } e)
        {
            if (e is DataTransmit t)
            {
                _sent.AddRange(t.Payload.ToArray());
                t.Dispose();
            }
            else
            {
                ChannelLife.Route(e);
                _events.Add(e);
            }
        }
    }

    /// <summary>A position in what was reported and sent, to look at what came after.</summary>
    public (int Events, int Bytes) Mark()
    {
        Drain();
        return (_events.Count, _sent.Count);
    }

    /// <summary>What our side reported since <paramref name="mark"/> (its queued events taken first, as for the other views).</summary>
    public List<ConnectionEvent> EventsSince((int Events, int Bytes) mark)
    {
        Drain();
        return _events.Skip(mark.Events).ToList();
    }

    /// <summary>What our side sent since <paramref name="mark"/>.</summary>
    public byte[] BytesSince((int Events, int Bytes) mark)
    {
        Drain();
        return _sent.Skip(mark.Bytes).ToArray();
    }
}
