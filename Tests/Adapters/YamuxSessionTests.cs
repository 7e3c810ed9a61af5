using System.Security.Cryptography;
using TcpChan.Core;
using TcpChan.Tests.Pipelines;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// Two sessions of ours on yamux (<see cref="WireProtocol.Yamux"/>): the Stream and pipe APIs
/// work unchanged, and what yamux cannot say (labels) is refused at the call. Against Go's yamux:
/// Tests/Interop.
/// </summary>
public sealed class YamuxSessionTests
{
    private static TcpChanSessionOptions Yamux() => new() { Connection = new ConnectionOptions { Protocol = WireProtocol.Yamux } };

    [Fact]
    public async Task Streams_over_loopback_echo_and_complete_with_the_session_on_yamux()
    {
        await using var pair = await Loopback.PairAsync(Yamux(), Yamux());
        Assert.Equal((WireProtocol.Yamux, (byte)0), (pair.Client.Protocol, pair.Client.Version));
        Assert.Equal(WireProtocol.Yamux, pair.Server.Protocol);
        _ = Loopback.EchoAllAsync(pair.Server);

        var data = RandomNumberGenerator.GetBytes(3_000_000);
        var hashes = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            await using var stream = await pair.Client.OpenChannelAsync();
            var reading = Loopback.HashToEndAsync(stream);
            await stream.WriteAsync(data);
            stream.CompleteWrites();
            return (await reading).Hash;
        })).WaitAsync(Loopback.Timeout);

        Assert.All(hashes, h => Assert.Equal(SHA256.HashData(data), h));
        Assert.True(await pair.Client.PingAsync().WaitAsync(Loopback.Timeout) > TimeSpan.Zero);
    }

    [Fact]
    public async Task A_label_is_refused_with_NotSupportedException_and_the_session_goes_on()
    {
        await using var pair = await Loopback.PairAsync(Yamux(), Yamux());

        // Misuse of the call, thrown by it (as a label over 255 bytes is on version 1); the pipe
        // view's open is an async method, so there it comes in the task.
        Assert.Throws<NotSupportedException>(() => { _ = pair.Client.OpenChannelAsync("web"); });
        await Assert.ThrowsAsync<NotSupportedException>(() => pair.Client.OpenPipeAsync("web"));

        await using var stream = await pair.Client.OpenChannelAsync();
        await using var accepted = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        Assert.Null(accepted.Label);
        Assert.Equal(1, pair.Client.OpenChannelCount);
    }

    [Fact]
    public async Task CloseAsync_sends_a_go_away_the_peer_opens_no_more_and_open_channels_finish()
    {
        await using var pair = await Loopback.PairAsync(Yamux(), Yamux());
        var open = await pair.Client.OpenChannelAsync();
        var accepted = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        await open.WriteAsync(new byte[10]).AsTask().WaitAsync(Loopback.Timeout);
        await accepted.ReadExactlyAsync(new byte[10]).AsTask().WaitAsync(Loopback.Timeout);

        // The go-away goes out before what the server writes after it: once the client has read
        // that, it has the go-away, and opens no more.
        var closing = pair.Server.CloseAsync(Loopback.Timeout);
        await accepted.WriteAsync("bye"u8.ToArray()).AsTask().WaitAsync(Loopback.Timeout);
        accepted.CompleteWrites();
        Assert.Equal("bye"u8.ToArray(), await Loopback.ReadAllAsync(open).WaitAsync(Loopback.Timeout));
        var refused = await Assert.ThrowsAsync<TcpChanSessionException>(() => pair.Client.OpenChannelAsync());
        Assert.Contains("going away", refused.Message, StringComparison.Ordinal);

        // The channel in flight finishes both ways, then the server's session closes.
        open.CompleteWrites();
        await closing.WaitAsync(Loopback.Timeout);
        await pair.Client.Completion.WaitAsync(Loopback.Timeout);
        Assert.Equal(SessionEndReason.Closed, pair.Client.EndError!.Reason);
    }

    [Fact]
    public async Task Protocol_classes_and_their_channels_on_yamux()
    {
        await using var listener = TcpChanListener.Start(Loopback.AnyPort);
        var server = new EchoServer(Yamux());
        using var stop = new CancellationTokenSource();
        var serving = listener.ServeAsync(() => server, stop.Token);
        var client = new HelloClient(Yamux());

        await TcpChanClient.RunAsync(listener.LocalEndPoint, client).WaitAsync(Loopback.Timeout);

        Assert.Equal("hello", await client.Reply.Task.WaitAsync(Loopback.Timeout));
        Assert.Equal(WireProtocol.Yamux, client.Connection.Protocol);
        Assert.IsType<NotSupportedException>(client.LabelError);
        await server.Lost.Task.WaitAsync(Loopback.Timeout);
        stop.Cancel();
        await serving.WaitAsync(Loopback.Timeout);
    }

    [Fact]
    public async Task Pipes_over_an_in_memory_pipe_pair_on_yamux()
    {
        var (client, server) = await PipeSessionTests.InMemoryPairAsync(Yamux(), Yamux());
        _ = PipeSessionTests.EchoPipesAsync(server);
        var data = RandomNumberGenerator.GetBytes(2_000_000);

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            var pipe = await client.OpenPipeAsync();
            var reading = Task.Run(async () =>
            {
                var all = new MemoryStream();
                await pipe.Input.CopyToAsync(all);
                await pipe.Input.CompleteAsync();
                return all.ToArray();
            });
            await pipe.Output.WriteAsync(data);
            await pipe.Output.CompleteAsync();
            return await reading;
        })).WaitAsync(Loopback.Timeout);

        Assert.All(results, r => Assert.Equal(SHA256.HashData(data), SHA256.HashData(r)));
        await client.DisposeAsync().AsTask().WaitAsync(Loopback.Timeout);
        await server.Completion.WaitAsync(Loopback.Timeout);
    }

    private sealed class EchoServer(TcpChanSessionOptions options) : TcpChanServerProtocol(() => new EchoChannel(), options)
    {
        public TaskCompletionSource Lost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void ConnectionLost(TcpChanSessionException error) => Lost.TrySetResult();
    }

    private sealed class EchoChannel : Channel
    {
        protected override void DataReceived(ReadOnlySpan<byte> data) => Write(data);

        protected override void OnEndOfData() => CompleteWrites();
    }

    private sealed class HelloClient(TcpChanSessionOptions options) : TcpChanClientProtocol(() => new ReplyChannel(), options)
    {
        public TaskCompletionSource<string> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Exception? LabelError { get; private set; }

        public override void HandshakeSuccess()
        {
            try
            {
                CreateChannel("label");
            }
            catch (NotSupportedException e)
            {
                LabelError = e;
            }

            var channel = (ReplyChannel)CreateChannel();
            channel.Done = text =>
            {
                Reply.TrySetResult(text);
                Close();
            };
            channel.Write("hello"u8);
            channel.CompleteWrites();
        }
    }

    private sealed class ReplyChannel : Channel
    {
        private readonly MemoryStream _received = new();

        public Action<string>? Done { get; set; }

        protected override void DataReceived(ReadOnlySpan<byte> data) => _received.Write(data);

        protected override void OnEndOfData() => Done?.Invoke(System.Text.Encoding.UTF8.GetString(_received.ToArray()));
    }
}
