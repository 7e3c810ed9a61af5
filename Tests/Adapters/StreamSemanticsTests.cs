using System.Diagnostics;
using System.Text;
using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>What a channel's Stream does: half-close, reset, refusal, cancellation, graceful close and dispose.</summary>
public class StreamSemanticsTests
{
    private static readonly ErrorCode AppCode = ErrorCode.ApplicationBase + 42;

    [Fact]
    public async Task CompleteWrites_lets_the_peer_read_to_the_end_and_answer()
    {
        await using var pair = await Loopback.PairAsync();
        var request = Encoding.UTF8.GetBytes(new string('q', 100_000));
        var client = await pair.Client.OpenChannelAsync("rpc");
        await client.WriteAsync(request).AsTask().WaitAsync(Loopback.Timeout);
        client.CompleteWrites();

        var server = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        Assert.Equal("rpc", server.Label);
        Assert.True(server.IsRemote);
        Assert.Equal(request, await Loopback.ReadAllAsync(server).WaitAsync(Loopback.Timeout));
        Assert.Equal(0, await server.ReadAsync(new byte[10]).AsTask().WaitAsync(Loopback.Timeout)); // stays at the end

        // Half-closed: the server still writes, the client still reads.
        await server.WriteAsync("answer"u8.ToArray()).AsTask().WaitAsync(Loopback.Timeout);
        server.CompleteWrites();
        Assert.Equal("answer", Encoding.UTF8.GetString(await Loopback.ReadAllAsync(client).WaitAsync(Loopback.Timeout)));
        await Assert.ThrowsAnyAsync<InvalidOperationException>(() => client.WriteAsync(new byte[1]).AsTask());

        await Loopback.UntilAsync(() => pair.Client.OpenChannelCount == 0 && pair.Server.OpenChannelCount == 0, "the channel completed on both sides");
        Assert.Equal(ChannelCloseReason.Completed, client.CloseReason);
        Assert.Equal(ChannelCloseReason.Completed, server.CloseReason);
    }

    [Fact]
    public async Task Abort_fails_the_peers_read_with_the_code_and_later_writes_fail_fast()
    {
        await using var pair = await Loopback.PairAsync();
        var client = await pair.Client.OpenChannelAsync();
        await client.WriteAsync(new byte[10]).AsTask().WaitAsync(Loopback.Timeout);
        var server = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        await Loopback.ReadExactlyAsync(server, 10);

        // The server is reading and writing (its write stopped on the client's credit) when the client aborts.
        var reading = server.ReadAsync(new byte[100]).AsTask();
        var writing = server.WriteAsync(new byte[1024 * 1024]).AsTask();
        client.Abort(AppCode);

        var readError = await Assert.ThrowsAsync<TcpChanChannelException>(() => reading.WaitAsync(Loopback.Timeout));
        Assert.Equal(AppCode, readError.Code);
        Assert.Equal(ChannelCloseReason.RemoteReset, readError.Reason);
        Assert.False(readError.IsRetryable);
        var writeError = await Assert.ThrowsAsync<TcpChanChannelException>(() => writing.WaitAsync(Loopback.Timeout));
        Assert.Equal(AppCode, writeError.Code);

        // Later writes fail at once, on both sides.
        var watch = Stopwatch.StartNew();
        var again = await Assert.ThrowsAsync<TcpChanChannelException>(() => server.WriteAsync(new byte[1]).AsTask());
        Assert.Equal(AppCode, again.Code);
        var local = await Assert.ThrowsAsync<TcpChanChannelException>(() => client.WriteAsync(new byte[1]).AsTask());
        Assert.Equal(ChannelCloseReason.LocalReset, local.Reason);
        Assert.True(watch.Elapsed < Loopback.Quick);

        // The session is unharmed.
        Assert.Equal(0, pair.Client.OpenChannelCount);
        await pair.Client.PingAsync().WaitAsync(Loopback.Timeout);
    }

    [Fact]
    public async Task A_channel_beyond_the_peers_limit_is_refused_and_retryable()
    {
        var server = new TcpChanSessionOptions { Connection = new ConnectionOptions { MaxConcurrentChannels = 1 } };
        await using var pair = await Loopback.PairAsync(server: server);
        var first = await pair.Client.OpenChannelAsync("first");
        var second = await pair.Client.OpenChannelAsync("second");
        await second.WriteAsync(new byte[10]).AsTask().WaitAsync(Loopback.Timeout); // may go before the refusal arrives

        var refused = await Assert.ThrowsAsync<TcpChanChannelException>(() => second.ReadAsync(new byte[10]).AsTask().WaitAsync(Loopback.Timeout));
        Assert.True(refused.IsRetryable);
        Assert.Equal(ChannelCloseReason.Refused, refused.Reason);
        Assert.Equal(ErrorCode.Refused, refused.Code);
        Assert.True((await Assert.ThrowsAsync<TcpChanChannelException>(() => second.WriteAsync(new byte[1]).AsTask())).IsRetryable);

        // The first works, and once it is done a retry gets through.
        var accepted = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        Assert.Equal("first", accepted.Label);
        first.CompleteWrites();
        Assert.Empty(await Loopback.ReadAllAsync(accepted).WaitAsync(Loopback.Timeout));
        accepted.CompleteWrites();
        Assert.Empty(await Loopback.ReadAllAsync(first).WaitAsync(Loopback.Timeout));
        await Loopback.UntilAsync(() => pair.Server.OpenChannelCount == 0, "the first channel closed on the server");

        var retry = await pair.Client.OpenChannelAsync("second, again");
        await retry.WriteAsync(new byte[] { 7 }).AsTask().WaitAsync(Loopback.Timeout);
        var third = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        Assert.Equal("second, again", third.Label);
        Assert.Equal(new byte[] { 7 }, await Loopback.ReadExactlyAsync(third, 1));
    }

    [Fact]
    public async Task Cancellation_ends_pending_operations_and_the_session_goes_on()
    {
        var (clientSocket, serverSocket) = await Loopback.SocketPairAsync();
        var transport = new PausableTransport(new SocketTransport(clientSocket));
        var accepting = TcpChanSession.AcceptAsync(new SocketTransport(serverSocket));
        await using var client = await TcpChanSession.ConnectAsync(transport).WaitAsync(Loopback.Timeout);
        await using var server = await accepting.WaitAsync(Loopback.Timeout);
        var echo = Loopback.EchoAllAsync(client);

        // A read that waits for data.
        var stream = await server.OpenChannelAsync("quiet");
        using (var cts = new CancellationTokenSource())
        {
            var reading = stream.ReadAsync(new byte[10], cts.Token).AsTask();
            Assert.False(reading.IsCompleted);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(Loopback.Timeout));
        }

        // A write that waits for credit: the echo sends back, but nothing reads the echo.
        using (var cts = new CancellationTokenSource())
        {
            var writing = stream.WriteAsync(new byte[4 * 1024 * 1024], cts.Token).AsTask();
            await Loopback.UntilAsync(() => WritableBytes(stream) == 0, "the write spent its credit");
            Assert.False(writing.IsCompleted);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writing.WaitAsync(Loopback.Timeout));
        }

        // The same channel still reads after its read was cancelled.
        var back = await stream.ReadAsync(new byte[1000]).AsTask().WaitAsync(Loopback.Timeout);
        Assert.True(back > 0);
        stream.Abort();

        // An accept that waits for a channel.
        using (var cts = new CancellationTokenSource())
        {
            var accept = server.AcceptChannelAsync(cts.Token).AsTask();
            Assert.False(accept.IsCompleted);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accept.WaitAsync(Loopback.Timeout));
        }

        // A ping that cannot leave: the client's sends are held back.
        transport.Pause();
        using (var cts = new CancellationTokenSource())
        {
            var ping = client.PingAsync(cts.Token);
            Assert.False(ping.IsCompleted);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ping.WaitAsync(Loopback.Timeout));
        }

        transport.Resume();

        // Everything still works: a ping, a new channel each way, an accept.
        Assert.True(await client.PingAsync().WaitAsync(Loopback.Timeout) >= TimeSpan.Zero);
        var fresh = await server.OpenChannelAsync("fresh");
        await fresh.WriteAsync(new byte[] { 1, 2, 3 }).AsTask().WaitAsync(Loopback.Timeout);
        fresh.CompleteWrites();
        Assert.Equal(new byte[] { 1, 2, 3 }, await Loopback.ReadAllAsync(fresh).WaitAsync(Loopback.Timeout));
        var accepted = server.AcceptChannelAsync().AsTask();
        var opened = await client.OpenChannelAsync("back");
        Assert.Equal("back", (await accepted.WaitAsync(Loopback.Timeout)).Label);
        Assert.Null(client.EndError);
        Assert.Null(server.EndError);
    }

    [Fact]
    public async Task CloseAsync_goes_away_lets_open_channels_finish_then_closes()
    {
        await using var pair = await Loopback.PairAsync();
        var client = await pair.Client.OpenChannelAsync("last");
        await client.WriteAsync("work"u8.ToArray()).AsTask().WaitAsync(Loopback.Timeout);
        var server = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);

        var closing = pair.Client.CloseAsync(TimeSpan.FromSeconds(30));
        await Loopback.UntilAsync(() => IsGoingAway(pair.Server), "the server got the go-away");
        var refused = await Assert.ThrowsAsync<TcpChanSessionException>(() => pair.Server.OpenChannelAsync());
        Assert.Equal(SessionEndReason.Closed, refused.Reason);
        Assert.False(closing.IsCompleted);

        // The open channel finishes its work both ways.
        Assert.Equal("work", Encoding.UTF8.GetString(await Loopback.ReadExactlyAsync(server, 4)));
        await server.WriteAsync("done"u8.ToArray()).AsTask().WaitAsync(Loopback.Timeout);
        server.CompleteWrites();
        Assert.Equal("done", Encoding.UTF8.GetString(await Loopback.ReadAllAsync(client).WaitAsync(Loopback.Timeout)));
        Assert.False(closing.IsCompleted);
        client.CompleteWrites();
        Assert.Empty(await Loopback.ReadAllAsync(server).WaitAsync(Loopback.Timeout));

        await closing.WaitAsync(Loopback.Timeout);
        Assert.Equal(SessionEndReason.Closed, pair.Client.EndError!.Reason);
        await pair.Server.Completion.WaitAsync(Loopback.Timeout);
        Assert.Equal(SessionEndReason.Closed, pair.Server.EndError!.Reason); // a go-away then the end: a close, not a loss
    }

    [Fact]
    public async Task CloseAsync_closes_after_the_drain_timeout_when_channels_do_not_finish()
    {
        await using var pair = await Loopback.PairAsync();
        var client = await pair.Client.OpenChannelAsync("never finishes");
        await client.WriteAsync(new byte[1]).AsTask().WaitAsync(Loopback.Timeout);
        var server = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        var reading = client.ReadAsync(new byte[1]).AsTask();

        var watch = Stopwatch.StartNew();
        await pair.Client.CloseAsync(TimeSpan.FromMilliseconds(300)).WaitAsync(Loopback.Timeout);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(250), Loopback.Quick);
        var error = await Assert.ThrowsAsync<TcpChanSessionException>(() => reading.WaitAsync(Loopback.Timeout));
        Assert.Equal(SessionEndReason.Closed, error.Reason);
        await pair.Server.Completion.WaitAsync(Loopback.Timeout);
        var serverError = await Assert.ThrowsAsync<TcpChanSessionException>(() => Loopback.ReadAllAsync(server));
        Assert.Equal(SessionEndReason.Closed, serverError.Reason);
    }

    [Fact]
    public async Task DisposeAsync_fails_pending_operations_with_Closed()
    {
        var (clientSocket, serverSocket) = await Loopback.SocketPairAsync();
        var transport = new PausableTransport(new SocketTransport(clientSocket));
        var accepting = TcpChanSession.AcceptAsync(new SocketTransport(serverSocket));
        var client = await TcpChanSession.ConnectAsync(transport).WaitAsync(Loopback.Timeout);
        await using var server = await accepting.WaitAsync(Loopback.Timeout);

        var stream = await client.OpenChannelAsync();
        var pending = new List<Task>
        {
            stream.ReadAsync(new byte[10]).AsTask(),
            stream.WriteAsync(new byte[1024 * 1024]).AsTask(),
            client.AcceptChannelAsync().AsTask(),
        };
        await Loopback.UntilAsync(() => WritableBytes(stream) == 0, "the write spent its credit");
        transport.Pause();
        pending.Add(client.PingAsync());
        Assert.All(pending, t => Assert.False(t.IsCompleted));

        var disposing = client.DisposeAsync().AsTask();
        foreach (var task in pending)
        {
            var error = await Assert.ThrowsAsync<TcpChanSessionException>(() => task.WaitAsync(Loopback.Quick));
            Assert.Equal(SessionEndReason.Closed, error.Reason);
        }

        transport.Resume();
        await disposing.WaitAsync(Loopback.Timeout);
        Assert.Equal(SessionEndReason.Closed, (await Assert.ThrowsAsync<TcpChanSessionException>(() => client.OpenChannelAsync())).Reason);
        Assert.Equal(SessionEndReason.Closed, (await Assert.ThrowsAsync<TcpChanSessionException>(() => stream.WriteAsync(new byte[1]).AsTask())).Reason);
        await server.Completion.WaitAsync(Loopback.Timeout);
    }

    [Fact]
    public async Task Disposing_a_stream_fails_its_waiting_read_and_later_calls_and_closes_the_channel()
    {
        await using var pair = await Loopback.PairAsync();
        var client = await pair.Client.OpenChannelAsync();
        await client.WriteAsync(new byte[100]).AsTask().WaitAsync(Loopback.Timeout);
        var server = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        await server.WriteAsync(new byte[100]).AsTask().WaitAsync(Loopback.Timeout);
        await Loopback.UntilAsync(() => Buffered(pair.Client) == 100, "the server's bytes arrived unread");

        // The client disposes with 100 bytes unread while the server reads on.
        var reading = Loopback.ReadAllAsync(server);
        await client.DisposeAsync();
        Assert.Equal(0, Buffered(pair.Client));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ReadAsync(new byte[1]).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.WriteAsync(new byte[1]).AsTask());

        // Dispose is a close: the peer reads to the end, ends its side, and the channel completes.
        Assert.Equal(100, (await reading.WaitAsync(Loopback.Timeout)).Length);
        server.CompleteWrites();
        await Loopback.UntilAsync(() => pair.Client.OpenChannelCount == 0 && pair.Server.OpenChannelCount == 0, "the channel closed on both sides");

        // A read waiting on another thread ends at once too.
        var other = await pair.Client.OpenChannelAsync();
        var waiting = other.ReadAsync(new byte[1]).AsTask();
        Assert.False(waiting.IsCompleted);
        await other.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(Loopback.Quick));
    }

    internal static long WritableBytes(TcpChanStream stream)
    {
        lock (stream.Session.Core.Gate)
        {
            return stream.Channel.WritableBytes;
        }
    }

    private static long Buffered(TcpChanSession session)
    {
        lock (session.Core.Gate)
        {
            return session.Core.Connection.BufferedBytes;
        }
    }

    private static bool IsGoingAway(TcpChanSession session)
    {
        lock (session.Core.Gate)
        {
            return session.Core.Connection.IsGoingAway;
        }
    }
}
