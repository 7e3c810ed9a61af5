using BenchmarkDotNet.Attributes;
using TcpChan.Core;
using TcpChan.Core.Frames;

namespace TcpChan.Bench.Micro;

/// <summary>
/// The core's data paths, one write of <see cref="Payload"/> bytes per operation, on an
/// established in-memory pair with default options (version 1: 256 KiB channel windows, a
/// 8 MiB session budget):
/// <list type="bullet">
/// <item><see cref="Receive"/>: the frames of one write (as the peer's core encoded them) into
/// <see cref="Connection.DataReceived(ReadOnlySpan{byte})"/>, through to the channel's
/// <c>DataReceived</c>; the channel consumes automatically, so version 1 also writes the window
/// updates it owes (taken and disposed).</item>
/// <item><see cref="Send"/>: <see cref="Channel.Write"/> to the <see cref="DataTransmit"/> that
/// holds the frames, taken and disposed (its buffer is reused); version 1 then receives the
/// channel and session window updates that give the credit back.</item>
/// <item><see cref="SendReceive"/>: both, end to end: a write on one side, its bytes into the
/// other, and (version 1) that side's window updates back into the writer.</item>
/// </list>
/// </summary>
[MemoryDiagnoser]
public class CoreBenchmarks
{
    private byte[] _payload = [];
    private byte[] _input = [];
    private byte[] _credit = [];
    private Pair _receive = null!;
    private Pair _send = null!;
    private Pair _both = null!;

    [Params((byte)0, (byte)1)]
    public byte Version { get; set; }

    [Params(64, 1024, 16384, 65536)]
    public int Payload { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[Payload];
        _receive = new Pair(Version);
        _send = new Pair(Version);
        _both = new Pair(Version);

        // What the receiving side gets for one write: the frames the writer's core produces.
        var capture = new Pair(Version);
        capture.Channel.Write(_payload);
        _input = Pair.TakeOutput(capture.Client);

        // The credit a receiver gives back for one write: channel and session window updates.
        _credit = new byte[2 * FrameWriter.LongFrameLength];
        FrameWriter.WriteWindowUpdate(_credit, Version, _send.Channel.ChannelId, (uint)Payload);
        FrameWriter.WriteWindowUpdate(_credit.AsSpan(FrameWriter.LongFrameLength), Version, 0, (uint)Payload);

        // Let each path settle into its steady state (buffers grown, queues sized).
        for (int i = 0; i < 1000; i++)
        {
            Receive();
            Send();
            SendReceive();
        }
    }

    [Benchmark]
    public void Receive()
    {
        _receive.Server.DataReceived(_input);
        Pair.Drain(_receive.Server);
    }

    [Benchmark]
    public void Send()
    {
        _send.Channel.Write(_payload);
        Pair.Drain(_send.Client);
        if (Version > 0)
        {
            _send.Client.DataReceived(_credit);
            Pair.Drain(_send.Client);
        }
    }

    [Benchmark]
    public void SendReceive()
    {
        _both.Channel.Write(_payload);
        _both.Pump();
    }

    /// <summary>A client and a server joined in memory, with one channel the client opened.</summary>
    private sealed class Pair
    {
        public Pair(byte version)
        {
            var options = new ConnectionOptions { MaxVersion = version, Random = new Random(1) };
            Client = new ClientConnection(() => new CountingChannel(), options);
            Server = new ServerConnection(() => new CountingChannel(), new ConnectionOptions { MaxVersion = version, Random = new Random(2) });
            Server.ConnectionEstablished();
            Client.ConnectionEstablished();
            Pump();
            Channel = Client.CreateChannel();
            Pump();
        }

        public ClientConnection Client { get; }

        public ServerConnection Server { get; }

        public Channel Channel { get; }

        /// <summary>Moves bytes both ways until both sides are quiet; transmits are disposed for reuse.</summary>
        public void Pump()
        {
            while (Client.HasEvents || Server.HasEvents)
            {
                Deliver(Client, Server);
                Deliver(Server, Client);
            }
        }

        public static void Drain(Connection connection)
        {
            while (connection.NextEvent() is { } e)
            {
                (e as DataTransmit)?.Dispose();
            }
        }

        public static byte[] TakeOutput(Connection connection)
        {
            var all = new MemoryStream();
            while (connection.NextEvent() is { } e)
            {
                if (e is DataTransmit transmit)
                {
                    all.Write(transmit.Payload.Span);
                    transmit.Dispose();
                }
            }

            return all.ToArray();
        }

        private static void Deliver(Connection from, Connection to)
        {
            while (from.NextEvent() is { } e)
            {
                if (e is DataTransmit transmit)
                {
                    to.DataReceived(transmit.Payload.Span);
                    transmit.Dispose();
                }
            }
        }
    }

    /// <summary>Counts what arrives (consumes automatically).</summary>
    private sealed class CountingChannel : Channel
    {
        public long Received { get; private set; }

        protected override void DataReceived(ReadOnlySpan<byte> data) => Received += data.Length;
    }
}
