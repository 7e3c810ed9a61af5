using System.Net.Sockets;
using System.Text;
using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// The Protocol API (the shape of the Python asyncio adapter) over TCP: a listener serving many
/// clients at once, callbacks in order, handshake failures, and clients that do not speak TCPChan.
/// </summary>
public class ProtocolTests
{
    private static TcpChanSessionOptions Options(byte version, uint magic = ConnectionOptions.DefaultHandshakeMagic) =>
        new() { Connection = new ConnectionOptions { MaxVersion = version, HandshakeMagic = magic } };

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_listener_serves_many_clients_at_once_with_callbacks_in_order(byte version)
    {
        const int Clients = 20;
        await using var listener = TcpChanListener.Start(Loopback.AnyPort);
        var servers = new List<RecordingServer>();
        using var stop = new CancellationTokenSource();
        var serving = listener.ServeAsync(
            () =>
            {
                var server = new RecordingServer(Options(version));
                lock (servers)
                {
                    servers.Add(server);
                }

                return server;
            },
            stop.Token);

        var clients = Enumerable.Range(0, Clients).Select(i => new HelloClient(Options(version), Encoding.UTF8.GetBytes($"hello {i} ".PadRight(10_000 + i, '.')))).ToList();
        await Task.WhenAll(clients.Select(c => TcpChanClient.RunAsync(listener.LocalEndPoint, c))).WaitAsync(Loopback.Timeout);

        foreach (var client in clients)
        {
            Assert.Equal(["HandshakeSuccess", "ChannelCreated", "ChannelClosed", "ConnectionLost Closed"], client.Events);
            Assert.Equal(client.Payload, client.Echoed.ToArray());
            Assert.Equal(version, client.Version);
        }

        await Task.WhenAll(servers.Select(s => s.Lost.Task)).WaitAsync(Loopback.Timeout);
        Assert.Equal(Clients, servers.Count);

        // Version 1 says goodbye with a go-away, so the server sees a close; version 0 just closes.
        var end = version == 0 ? "ConnectionLost ConnectionLost" : "ConnectionLost Closed";
        Assert.All(servers, s => Assert.Equal(["HandshakeSuccess", "ChannelCreated", "ChannelClosed", end], s.Events));
        stop.Cancel();
        await serving.WaitAsync(Loopback.Timeout);
    }

    [Fact]
    public async Task A_wrong_magic_fails_the_handshake_on_both_sides()
    {
        await using var listener = TcpChanListener.Start(Loopback.AnyPort);
        var servers = new List<RecordingServer>();
        using var stop = new CancellationTokenSource();
        var serving = listener.ServeAsync(
            () =>
            {
                var server = new RecordingServer(Options(1));
                lock (servers)
                {
                    servers.Add(server);
                }

                return server;
            },
            stop.Token);

        // The session API: ConnectAsync throws.
        var error = await Assert.ThrowsAsync<TcpChanSessionException>(() => TcpChanClient.ConnectAsync(listener.LocalEndPoint, Options(1, magic: 0x01020304)).WaitAsync(Loopback.Timeout));
        Assert.Equal(SessionEndReason.HandshakeFailed, error.Reason);

        // The protocol API: HandshakeFailed, then ConnectionLost, and nothing else.
        var client = new HelloClient(Options(1, magic: 0x01020304), "never sent"u8.ToArray());
        await TcpChanClient.RunAsync(listener.LocalEndPoint, client).WaitAsync(Loopback.Timeout);
        Assert.Equal(["HandshakeFailed", "ConnectionLost HandshakeFailed"], client.Events);

        await Loopback.UntilAsync(() => { lock (servers) { return servers.Count == 2; } }, "both connections were served");
        await Task.WhenAll(servers.Select(s => s.Lost.Task)).WaitAsync(Loopback.Timeout);
        Assert.All(servers, s => Assert.Equal(["HandshakeFailed", "ConnectionLost HandshakeFailed"], s.Events));
        Assert.All(servers, s => Assert.Contains("magic", s.HandshakeFailure, StringComparison.OrdinalIgnoreCase));
        stop.Cancel();
        await serving.WaitAsync(Loopback.Timeout);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Clients_that_do_not_speak_TCPChan_do_not_disturb_the_listener(bool protocols)
    {
        await using var listener = TcpChanListener.Start(Loopback.AnyPort);
        using var stop = new CancellationTokenSource();
        Task serving = protocols
            ? listener.ServeAsync(() => new RecordingServer(Options(1)), stop.Token)
            : Task.Run(async () =>
            {
                try
                {
                    await foreach (var session in listener.AcceptSessionsAsync(stop.Token))
                    {
                        _ = Loopback.EchoAllAsync(session);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });

        // One client says nothing at all (its handshake is pending throughout), one speaks HTTP, one sends noise.
        using var silent = new TcpClient();
        await silent.ConnectAsync(listener.LocalEndPoint).WaitAsync(Loopback.Timeout);
        var noise = new byte[2048];
        new Random(7).NextBytes(noise);
        var http = SendAndWaitForCloseAsync(listener, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray());
        var random = SendAndWaitForCloseAsync(listener, noise);

        // Meanwhile, and afterwards, real clients are served.
        for (int round = 0; round < 2; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 5).Select(async i =>
            {
                if (protocols)
                {
                    var client = new HelloClient(Options(1), new byte[1000 + i]);
                    await TcpChanClient.RunAsync(listener.LocalEndPoint, client).WaitAsync(Loopback.Timeout);
                    Assert.Equal(client.Payload, client.Echoed.ToArray());
                }
                else
                {
                    await using var session = await TcpChanClient.ConnectAsync(listener.LocalEndPoint).WaitAsync(Loopback.Timeout);
                    await using var stream = await session.OpenChannelAsync();
                    await stream.WriteAsync(new byte[1000 + i]).AsTask().WaitAsync(Loopback.Timeout);
                    stream.CompleteWrites();
                    Assert.Equal(1000 + i, (await Loopback.ReadAllAsync(stream).WaitAsync(Loopback.Timeout)).Length);
                }
            }));

            // The server hangs up on the impostors (without a word: they get no handshake reply).
            Assert.Empty(await http.WaitAsync(Loopback.Timeout));
            Assert.Empty(await random.WaitAsync(Loopback.Timeout));
        }

        stop.Cancel();
        if (!protocols)
        {
            await listener.DisposeAsync();
        }

        await serving.WaitAsync(Loopback.Timeout);
    }

    [Fact]
    public async Task A_protocol_factory_that_throws_costs_only_its_connection()
    {
        await using var listener = TcpChanListener.Start(Loopback.AnyPort);
        int made = 0;
        using var stop = new CancellationTokenSource();
        var serving = listener.ServeAsync(
            () => Interlocked.Increment(ref made) == 1 ? throw new InvalidOperationException("the application's bug") : new RecordingServer(Options(1)),
            stop.Token);

        // The first connection is dropped (the client sees its handshake fail), the next is served.
        var first = new HelloClient(Options(1), new byte[10]);
        await TcpChanClient.RunAsync(listener.LocalEndPoint, first).WaitAsync(Loopback.Timeout);
        Assert.Equal(["HandshakeFailed", "ConnectionLost HandshakeFailed"], first.Events);
        var second = new HelloClient(Options(1), new byte[10]);
        await TcpChanClient.RunAsync(listener.LocalEndPoint, second).WaitAsync(Loopback.Timeout);
        Assert.Equal(new byte[10], second.Echoed.ToArray());
        Assert.False(serving.IsCompleted);
        stop.Cancel();
        await serving.WaitAsync(Loopback.Timeout);
    }

    /// <summary>Sends <paramref name="data"/> on a plain connection and returns what came back before the server closed it.</summary>
    private static async Task<byte[]> SendAndWaitForCloseAsync(TcpChanListener listener, byte[] data)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(listener.LocalEndPoint);
        var stream = client.GetStream();
        await stream.WriteAsync(data);
        try
        {
            return await Loopback.ReadAllAsync(stream);
        }
        catch (IOException)
        {
            return []; // reset rather than closed: the server had unread noise
        }
    }

    /// <summary>Echoes: writes back what arrives; ends its side when the peer ends (version 1).</summary>
    private sealed class EchoChannel : Channel
    {
        protected override void DataReceived(ReadOnlySpan<byte> data) => Write(data);

        protected override void OnEndOfData() => CompleteWrites();
    }

    /// <summary>Keeps what arrives; the client closes when all of its payload came back.</summary>
    private sealed class CollectingChannel : Channel
    {
        public MemoryStream Received { get; } = new();

        public Action? Complete { get; set; }

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            Received.Write(data);
            Complete?.Invoke();
        }

        protected override void OnEndOfData() => Complete?.Invoke();
    }

    /// <summary>A server protocol that records its callbacks in order.</summary>
    private sealed class RecordingServer : TcpChanServerProtocol
    {
        public RecordingServer(TcpChanSessionOptions options)
            : base(() => new EchoChannel(), options)
        {
        }

        public List<string> Events { get; } = new();

        public string HandshakeFailure { get; private set; } = string.Empty;

        public TaskCompletionSource Lost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void HandshakeSuccess() => Events.Add("HandshakeSuccess");

        public override void HandshakeFailed(string reason)
        {
            HandshakeFailure = reason;
            Events.Add("HandshakeFailed");
        }

        public override void ChannelCreated(Channel channel) => Events.Add("ChannelCreated");

        public override void ChannelClosed(Channel channel) => Events.Add("ChannelClosed");

        public override void ConnectionLost(TcpChanSessionException error)
        {
            Events.Add($"ConnectionLost {error.Reason}");
            Lost.TrySetResult();
        }
    }

    /// <summary>A client protocol that opens one channel on success, sends its payload, and closes once it came back.</summary>
    private sealed class HelloClient : TcpChanClientProtocol
    {
        private CollectingChannel? _channel;

        public HelloClient(TcpChanSessionOptions options, byte[] payload)
            : base(() => new CollectingChannel(), options)
        {
            Payload = payload;
        }

        public byte[] Payload { get; }

        public List<string> Events { get; } = new();

        public MemoryStream Echoed => _channel?.Received ?? new MemoryStream();

        public byte Version { get; private set; }

        public override void HandshakeSuccess()
        {
            Events.Add("HandshakeSuccess");
            Version = Connection.Version;
            _channel = (CollectingChannel)CreateChannel("hello");
            _channel.Complete = () =>
            {
                // Version 0 has no half-close: close once everything is back. Version 1 completes by itself.
                if (Version == 0 && _channel.Received.Length == Payload.Length)
                {
                    _channel.Close();
                }
            };
            _channel.Write(Payload);
            if (Version > 0)
            {
                _channel.CompleteWrites(); // version 0 has no half-close: this would close the channel
            }
        }

        public override void HandshakeFailed(string reason) => Events.Add("HandshakeFailed");

        public override void ChannelCreated(Channel channel) => Events.Add("ChannelCreated");

        public override void ChannelClosed(Channel channel)
        {
            Events.Add("ChannelClosed");
            Close();
        }

        public override void ConnectionLost(TcpChanSessionException error) => Events.Add($"ConnectionLost {error.Reason}");
    }
}
