using TcpChan.Core;

namespace TcpChan.Tests.Support;

/// <summary>
/// How a transmitted buffer is cut into <see cref="Connection.DataReceived"/> calls: given the
/// number of bytes still to deliver (at least 1), returns the length of the next chunk
/// (clamped to 1..remaining).
/// </summary>
public delegate int Chunker(int remaining);

/// <summary>Ready-made <see cref="Chunker"/>s.</summary>
public static class Chunkers
{
    /// <summary>Each transmit is delivered in one call.</summary>
    public static Chunker Whole { get; } = remaining => remaining;

    /// <summary>One byte per call.</summary>
    public static Chunker OneByte { get; } = _ => 1;

    /// <summary>Chunks of <paramref name="size"/> bytes (the last one shorter).</summary>
    public static Chunker Fixed(int size) => remaining => Math.Min(size, remaining);

    /// <summary>Random chunk lengths in 1..<paramref name="maxChunk"/>, from a seeded generator.</summary>
    public static Chunker Random(int seed, int maxChunk)
    {
        var random = new Random(seed);
        return remaining => random.Next(1, Math.Min(maxChunk, remaining) + 1);
    }
}

/// <summary>
/// A client and a server connected back to back in memory, driven deterministically. Both
/// speak version 0 (<see cref="V0"/>) unless options or <c>version</c> say otherwise.
/// <see cref="Pump"/> takes each side's events, feeds every <see cref="DataTransmit"/> to the
/// other side (re-chunked by <see cref="Chunker"/>), disposes it, records every other event
/// per side, and stops when neither side has events.
/// </summary>
/// <remarks>
/// Seams for subclasses (a virtual clock with latency can queue in <see cref="Transmit"/>
/// and deliver later from <see cref="Deliver"/>): <see cref="Drain"/>, <see cref="Transmit"/>,
/// <see cref="Deliver"/>, <see cref="Record"/>.
/// </remarks>
public class InMemoryPair
{
    public InMemoryPair(
        Func<ChannelOpenInfo, Channel>? clientFactory = null,
        Func<ChannelOpenInfo, Channel>? serverFactory = null,
        ConnectionOptions? clientOptions = null,
        ConnectionOptions? serverOptions = null,
        Chunker? chunker = null,
        byte version = 0)
    {
        // Version 0 unless told otherwise: most tests here pin the reference's exact behaviour.
        Client = new ClientConnection(
            clientFactory ?? (_ => Made(ClientChannels)),
            clientOptions ?? TestOptions.For(version, seed: 1));
        Server = new ServerConnection(
            serverFactory ?? (_ => Made(ServerChannels)),
            serverOptions ?? TestOptions.For(version, seed: 2));
        Chunker = chunker ?? Chunkers.Whole;
    }

    public ClientConnection Client { get; }

    public ServerConnection Server { get; }

    /// <summary>Every event the client produced, except DataTransmit, in order.</summary>
    public List<ConnectionEvent> ClientEvents { get; } = new();

    /// <summary>Every event the server produced, except DataTransmit, in order.</summary>
    public List<ConnectionEvent> ServerEvents { get; } = new();

    /// <summary>The channels the default client factory made (local and remote), in order.</summary>
    public List<RecordingChannel> ClientChannels { get; } = new();

    /// <summary>The channels the default server factory made (local and remote), in order.</summary>
    public List<RecordingChannel> ServerChannels { get; } = new();

    /// <summary>How transmits are cut into DataReceived calls.</summary>
    public Chunker Chunker { get; set; }

    public long BytesSentByClient { get; private set; }

    public long BytesSentByServer { get; private set; }

    /// <summary>How many DataReceived calls were made on either side.</summary>
    public long DeliveryCount { get; private set; }

    /// <summary>Pump gives up (and throws) after this many rounds, e.g. two echo channels ping-ponging.</summary>
    public int MaxRounds { get; set; } = 100_000;

    /// <summary>The other side.</summary>
    public Connection PeerOf(Connection side) => ReferenceEquals(side, Client) ? Server : Client;

    /// <summary>The recorded events of a side.</summary>
    public List<ConnectionEvent> EventsOf(Connection side) => ReferenceEquals(side, Client) ? ClientEvents : ServerEvents;

    /// <summary>Transport up on both sides, then pump; throws unless both report success.</summary>
    public void Handshake()
    {
        Server.ConnectionEstablished();
        Client.ConnectionEstablished();
        Pump();
        if (Client.State != ConnectionState.Established || Server.State != ConnectionState.Established)
        {
            throw new InvalidOperationException($"Handshake did not complete: client {Client.State}, server {Server.State}.");
        }
    }

    /// <summary>Runs until neither side has events; returns the number of rounds.</summary>
    public int Pump()
    {
        int rounds = 0;
        while (Client.HasEvents || Server.HasEvents)
        {
            if (++rounds > MaxRounds)
            {
                throw new InvalidOperationException($"Pump did not become idle within {MaxRounds} rounds.");
            }

            Drain(Client);
            Drain(Server);
        }

        return rounds;
    }

    /// <summary>Takes every event queued on <paramref name="from"/> now.</summary>
    protected virtual void Drain(Connection from)
    {
        while (from.NextEvent() is { } e)
        {
            if (e is DataTransmit transmit)
            {
                try
                {
                    if (ReferenceEquals(from, Client))
                    {
                        BytesSentByClient += transmit.Payload.Length;
                    }
                    else
                    {
                        BytesSentByServer += transmit.Payload.Length;
                    }

                    Transmit(from, transmit.Payload);
                }
                finally
                {
                    transmit.Dispose();
                }
            }
            else
            {
                ChannelLife.Route(e);
                Record(from, e);
            }
        }
    }

    /// <summary>
    /// Bytes leave <paramref name="from"/>. By default they arrive at once; a subclass with
    /// latency copies them here and calls <see cref="Deliver"/> later. The memory is valid
    /// only during this call.
    /// </summary>
    protected virtual void Transmit(Connection from, ReadOnlyMemory<byte> bytes) => Deliver(PeerOf(from), bytes.Span);

    /// <summary>Feeds bytes to <paramref name="to"/>, cut by <see cref="Chunker"/>.</summary>
    protected virtual void Deliver(Connection to, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            int n = Math.Clamp(Chunker(bytes.Length), 1, bytes.Length);
            DeliveryCount++;
            to.DataReceived(bytes.Slice(0, n));
            bytes = bytes.Slice(n);
        }
    }

    /// <summary>Keeps a non-transmit event of <paramref name="side"/>.</summary>
    protected virtual void Record(Connection side, ConnectionEvent e) => EventsOf(side).Add(e);

    private static RecordingChannel Made(List<RecordingChannel> list)
    {
        var channel = new RecordingChannel();
        list.Add(channel);
        return channel;
    }
}
