using System.IO.Pipelines;
using System.Security.Cryptography;
using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Pipelines;

/// <summary>
/// A channel's PipeWriter (Adapters.Pipelines/ChannelPipeWriter): a flush canceled while it
/// waits for credit keeps exactly the bytes the channel has not taken (none sent twice, none
/// lost), and a writer holds no buffer once everything is flushed.
/// </summary>
public class PipeWriterTests
{
    private const int Window = 16 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static TcpChanSessionOptions Small => new() { Connection = new ConnectionOptions { InitialChannelWindow = Window, AutoTuneWindows = false } };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_canceled_flush_keeps_what_the_channel_did_not_take_and_a_later_flush_sends_it_once(bool buffered)
    {
        var (client, server) = await PipeSessionTests.InMemoryPairAsync(Small, Small);
        var accepted = server.AcceptPipeAsync().AsTask();
        var pipe = await client.OpenPipeAsync();
        var data = RandomNumberGenerator.GetBytes(100_000);

        // Nobody reads yet: the channel takes one window and the flush waits for credit.
        ValueTask<FlushResult> flush;
        if (buffered)
        {
            data.CopyTo(pipe.Output.GetSpan(data.Length));
            pipe.Output.Advance(data.Length);
            flush = pipe.Output.FlushAsync();
        }
        else
        {
            flush = pipe.Output.WriteAsync(data);
        }

        Assert.False(flush.IsCompleted);
        Assert.Equal(Window, pipe.Stream.BytesWritten);
        pipe.Output.CancelPendingFlush();
        var result = await flush.AsTask().WaitAsync(Timeout);

        Assert.True(result.IsCanceled);
        Assert.Equal(data.Length - Window, pipe.Output.UnflushedBytes);

        var far = await accepted.WaitAsync(Timeout);
        var reading = ReadAllAsync(far.Input, data.Length);
        var again = await pipe.Output.FlushAsync().AsTask().WaitAsync(Timeout);

        Assert.False(again.IsCanceled);
        Assert.Equal(0, pipe.Output.UnflushedBytes);
        Assert.Equal(data, await reading.WaitAsync(Timeout));
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task A_write_canceled_by_its_token_throws_and_keeps_the_rest_for_the_next_flush()
    {
        var (client, server) = await PipeSessionTests.InMemoryPairAsync(Small, Small);
        var accepted = server.AcceptPipeAsync().AsTask();
        var pipe = await client.OpenPipeAsync();
        var data = RandomNumberGenerator.GetBytes(50_000);
        using var cancel = new CancellationTokenSource();

        var write = pipe.Output.WriteAsync(data, cancel.Token);
        Assert.False(write.IsCompleted);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.AsTask().WaitAsync(Timeout));
        Assert.Equal(data.Length - Window, pipe.Output.UnflushedBytes);

        var far = await accepted.WaitAsync(Timeout);
        var reading = ReadAllAsync(far.Input, data.Length);
        await pipe.Output.FlushAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(data, await reading.WaitAsync(Timeout));
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task A_writer_holds_no_buffer_once_flushed_and_writes_with_nothing_buffered_take_none()
    {
        var (client, server) = await PipeSessionTests.InMemoryPairAsync();
        var accepted = server.AcceptPipeAsync().AsTask();
        var pipe = await client.OpenPipeAsync();
        var writer = (ChannelPipeWriter)pipe.Output;

        writer.GetSpan(100)[0] = 42;
        writer.Advance(100);
        Assert.True(writer.HoldsBuffer);
        await writer.FlushAsync().AsTask().WaitAsync(Timeout);
        Assert.False(writer.HoldsBuffer);

        await writer.WriteAsync(new byte[1000]).AsTask().WaitAsync(Timeout);
        Assert.False(writer.HoldsBuffer);

        var far = await accepted.WaitAsync(Timeout);
        var got = await ReadAllAsync(far.Input, 1100).WaitAsync(Timeout);
        Assert.Equal(42, got[0]);
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    private static async Task<byte[]> ReadAllAsync(PipeReader input, int count)
    {
        var all = new MemoryStream();
        while (all.Length < count)
        {
            var result = await input.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        return all.ToArray();
    }
}
