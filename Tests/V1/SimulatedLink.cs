using TcpChan.Core;
using TcpChan.Core.Frames;

namespace TcpChan.Tests.V1;

/// <summary>
/// A client and a server joined by a simulated link with a virtual clock: each direction
/// has a one-way latency and a bandwidth, bytes arrive in order, and the clock jumps to the
/// next arrival or timer. Deterministic: no threads, no real time.
/// </summary>
public sealed class SimulatedLink
{
    private readonly Direction _toServer;
    private readonly Direction _toClient;

    public SimulatedLink(ClientConnection client, ServerConnection server, TimeSpan latency = default, double bytesPerSecond = 0)
    {
        Client = client;
        Server = server;
        _toServer = new Direction(server, latency, bytesPerSecond);
        _toClient = new Direction(client, latency, bytesPerSecond);
    }

    public ClientConnection Client { get; }

    public ServerConnection Server { get; }

    public TimeSpan Now { get; private set; }

    public List<ConnectionEvent> ClientEvents { get; } = new();

    public List<ConnectionEvent> ServerEvents { get; } = new();

    /// <summary>Called after every step (delivery or timer) so tests can act, e.g. a slow reader consuming.</summary>
    public Action<SimulatedLink>? OnStep { get; set; }

    /// <summary>When true, bytes reaching a side are held (the peer stopped reading or went silent).</summary>
    public bool ClientSilent { get => _toClient.Silent; set => _toClient.Silent = value; }

    public bool ServerSilent { get => _toServer.Silent; set => _toServer.Silent = value; }

    /// <summary>How many frames of each type went toward the server.</summary>
    public Dictionary<FrameType, int> FramesToServer => _toServer.Frames;

    /// <summary>How many frames of each type went toward the client.</summary>
    public Dictionary<FrameType, int> FramesToClient => _toClient.Frames;

    public long BytesToServer => _toServer.Total;

    public long BytesToClient => _toClient.Total;

    public void Start()
    {
        Server.ConnectionEstablished(Now);
        Client.ConnectionEstablished(Now);
        Drain();
    }

    /// <summary>Runs until nothing is in flight and no timer is due before <paramref name="limit"/> (virtual time).</summary>
    public void Run(TimeSpan limit)
    {
        Drain();
        while (true)
        {
            var next = NextTime();
            if (next is null || next.Value > limit)
            {
                break;
            }

            Now = next.Value > Now ? next.Value : Now;
            Step();
            OnStep?.Invoke(this);
            Drain();
        }
    }

    /// <summary>Runs while there is traffic in flight, ignoring keepalive timers (they would run forever).</summary>
    public void RunUntilQuiet(TimeSpan limit)
    {
        Drain();
        while (_toServer.Pending || _toClient.Pending)
        {
            var next = Min(_toServer.NextArrival, _toClient.NextArrival)!.Value;
            if (next > limit)
            {
                break;
            }

            Now = next > Now ? next : Now;
            Step();
            OnStep?.Invoke(this);
            Drain();
        }
    }

    /// <summary>Delivers what has arrived and tells both sides the time (which runs due timers).</summary>
    private void Step()
    {
        _toServer.Deliver(Now);
        _toClient.Deliver(Now);
        Client.HandleTimeout(Now);
        Server.HandleTimeout(Now);
        Drain();
    }

    public void Drain()
    {
        bool again = true;
        while (again)
        {
            again = DrainOne(Client, _toServer, ClientEvents) | DrainOne(Server, _toClient, ServerEvents);
        }
    }

    private bool DrainOne(Connection from, Direction to, List<ConnectionEvent> log)
    {
        bool any = false;
        while (from.NextEvent() is { } e)
        {
            any = true;
            if (e is DataTransmit t)
            {
                to.Send(Now, t.Payload.ToArray());
                t.Dispose();
            }
            else
            {
                TcpChan.Tests.Support.ChannelLife.Route(e);
                log.Add(e);
            }
        }

        return any;
    }

    private TimeSpan? NextTime() =>
        Min(Min(_toServer.NextArrival, _toClient.NextArrival), Min(Client.NextDeadline, Server.NextDeadline));

    private static TimeSpan? Min(TimeSpan? a, TimeSpan? b) =>
        a is null ? b : b is null ? a : (a < b ? a : b);

    private sealed class Direction
    {
        private readonly Connection _to;
        private readonly TimeSpan _latency;
        private readonly double _bytesPerSecond;
        private readonly Queue<(TimeSpan At, byte[] Bytes)> _inFlight = new();
        private TimeSpan _busyUntil;

        public Dictionary<FrameType, int> Frames { get; } = new();

        public Direction(Connection to, TimeSpan latency, double bytesPerSecond)
        {
            _to = to;
            _latency = latency;
            _bytesPerSecond = bytesPerSecond;
        }

        public long Total { get; private set; }

        /// <summary>Set when the receiving side hears nothing: bytes wait, and count as not pending.</summary>
        public bool Silent { get; set; }

        public bool Pending => _inFlight.Count > 0 && !Silent;

        public TimeSpan? NextArrival => Pending ? _inFlight.Peek().At : null;

        public void Send(TimeSpan now, byte[] bytes)
        {
            // Like a real link, a large write arrives progressively, in segments.
            const int Segment = 64 * 1024;
            for (int offset = 0; offset < bytes.Length; offset += Segment)
            {
                var piece = bytes.AsSpan(offset, Math.Min(Segment, bytes.Length - offset)).ToArray();
                var start = now > _busyUntil ? now : _busyUntil;
                var serialization = _bytesPerSecond > 0 ? TimeSpan.FromSeconds(piece.Length / _bytesPerSecond) : TimeSpan.Zero;
                _busyUntil = start + serialization;
                _inFlight.Enqueue((_busyUntil + _latency, piece));
            }

            Total += bytes.Length;
            Count(bytes);
        }

        // Frame counting walks headers only: payload bytes are skipped, not parsed or copied.
        private readonly byte[] _header = new byte[FrameHeader.MaxLength];
        private int _headerLength;
        private long _skip;

        private void Count(byte[] bytes)
        {
            var span = bytes.AsSpan();
            while (!span.IsEmpty)
            {
                if (_skip > 0)
                {
                    int n = (int)Math.Min(_skip, span.Length);
                    _skip -= n;
                    span = span.Slice(n);
                    continue;
                }

                int take = Math.Min(span.Length, _header.Length - _headerLength);
                span.Slice(0, take).CopyTo(_header.AsSpan(_headerLength));
                var status = FrameHeader.TryRead(_header.AsSpan(0, _headerLength + take), out var header);
                if (status != FrameReadStatus.Complete)
                {
                    _headerLength += take;
                    return;
                }

                int used = header.Length - _headerLength;
                _headerLength = 0;
                span = span.Slice(used);
                _skip = header.PayloadLength;
                Frames[header.Type] = Frames.GetValueOrDefault(header.Type) + 1;
            }
        }

        public void Deliver(TimeSpan now)
        {
            while (!Silent && _inFlight.Count > 0 && _inFlight.Peek().At <= now)
            {
                var bytes = _inFlight.Dequeue().Bytes;
                if (_to.State is ConnectionState.Handshaking or ConnectionState.Established)
                {
                    _to.DataReceived(bytes, now);
                }
            }
        }
    }
}
