using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Pipelines;

public class PipeSessionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Two sessions joined by in-memory pipes.</summary>
    internal static async Task<(TcpChanSession Client, TcpChanSession Server)> InMemoryPairAsync(TcpChanSessionOptions? client = null, TcpChanSessionOptions? server = null)
    {
        var up = new Pipe();
        var down = new Pipe();
        var serverTask = TcpChanSession.AcceptAsync(new DuplexPipeTransport(new Duplex(up.Reader, down.Writer)), server);
        var c = await TcpChanSession.ConnectAsync(new DuplexPipeTransport(new Duplex(down.Reader, up.Writer)), client).WaitAsync(Timeout);
        return (c, await serverTask.WaitAsync(Timeout));
    }

    internal sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Echoes every channel the session accepts, through its pipe view.</summary>
    internal static async Task EchoPipesAsync(TcpChanSession session)
    {
        try
        {
            while (true)
            {
                var pipe = await session.AcceptPipeAsync();
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await pipe.Input.CopyToAsync(pipe.Output);
                        await pipe.Input.CompleteAsync();
                        await pipe.Output.CompleteAsync();
                    }
                    catch (Exception ex)
                    {
                        await pipe.Input.CompleteAsync(ex);
                        await pipe.Output.CompleteAsync(ex);
                    }
                });
            }
        }
        catch (TcpChanSessionException)
        {
        }
    }

    internal static async Task<byte[]> RoundTripAsync(TcpChanSession client, byte[] data)
    {
        var pipe = await client.OpenPipeAsync("echo");
        var reading = Task.Run(async () =>
        {
            var all = new MemoryStream();
            await pipe.Input.CopyToAsync(all);
            await pipe.Input.CompleteAsync();
            return all.ToArray();
        });
        for (int offset = 0; offset < data.Length; offset += 100_000)
        {
            await pipe.Output.WriteAsync(data.AsMemory(offset, Math.Min(100_000, data.Length - offset)));
        }

        await pipe.Output.CompleteAsync();
        return await reading.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Channels_as_pipes_over_an_in_memory_pipe_pair()
    {
        var (client, server) = await InMemoryPairAsync();
        _ = EchoPipesAsync(server);
        var data = RandomNumberGenerator.GetBytes(5_000_000);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => RoundTripAsync(client, data))).WaitAsync(Timeout);
        Assert.All(results, r => Assert.Equal(SHA256.HashData(data), SHA256.HashData(r)));
        await client.DisposeAsync();
        await server.Completion.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Channels_as_pipes_over_loopback_tcp()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptTcpClientAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var serverTcp = await accept.WaitAsync(Timeout);
        var serverTask = TcpChanSession.AcceptAsync(DuplexPipeTransport.Create(serverTcp.GetStream()));
        var client = await TcpChanSession.ConnectAsync(DuplexPipeTransport.Create(tcp.GetStream())).WaitAsync(Timeout);
        var server = await serverTask.WaitAsync(Timeout);
        _ = EchoPipesAsync(server);
        var data = RandomNumberGenerator.GetBytes(10_000_000);
        var back = await RoundTripAsync(client, data);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(back));
        await client.DisposeAsync();
    }

    [Fact]
    public async Task Channels_as_pipes_over_tls_with_a_generated_certificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=tcpchan-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptTcpClientAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var serverTcp = await accept.WaitAsync(Timeout);
        var serverTls = new SslStream(serverTcp.GetStream());
        var clientTls = new SslStream(tcp.GetStream(), false, (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString());
        await Task.WhenAll(
            serverTls.AuthenticateAsServerAsync(certificate),
            clientTls.AuthenticateAsClientAsync("tcpchan-test")).WaitAsync(Timeout);
        var serverTask = TcpChanSession.AcceptAsync(DuplexPipeTransport.Create(serverTls));
        var client = await TcpChanSession.ConnectAsync(DuplexPipeTransport.Create(clientTls)).WaitAsync(Timeout);
        var server = await serverTask.WaitAsync(Timeout);
        _ = EchoPipesAsync(server);
        var data = RandomNumberGenerator.GetBytes(3_000_000);
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RoundTripAsync(client, data))).WaitAsync(Timeout);
        Assert.All(results, r => Assert.Equal(SHA256.HashData(data), SHA256.HashData(r)));
        await client.DisposeAsync();
    }

    [Fact]
    public async Task A_reader_that_examines_everything_and_consumes_nothing_still_progresses()
    {
        // The reader waits for a delimiter that comes after more than a whole window.
        var small = new TcpChanSessionOptions { Connection = new ConnectionOptions { InitialChannelWindow = 16 * 1024 } };
        var (client, server) = await InMemoryPairAsync(small, small);
        var accepted = server.AcceptPipeAsync().AsTask();
        var pipe = await client.OpenPipeAsync();
        var message = new byte[200_000];
        message.AsSpan().Fill((byte)'a');
        message[^1] = (byte)'\n';
        var writing = pipe.Output.WriteAsync(message).AsTask();
        var far = await accepted.WaitAsync(Timeout);
        long seen;
        while (true)
        {
            var result = await far.Input.ReadAsync().AsTask().WaitAsync(Timeout);
            var found = result.Buffer.PositionOf((byte)'\n');
            if (found is not null)
            {
                seen = result.Buffer.Slice(0, result.Buffer.GetPosition(1, found.Value)).Length;
                far.Input.AdvanceTo(result.Buffer.End);
                break;
            }

            far.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }

        Assert.Equal(message.Length, seen);
        await writing.WaitAsync(Timeout);
        await client.DisposeAsync();
    }

    [Fact]
    public async Task Pending_reads_and_flushes_fail_clearly_when_the_session_dies()
    {
        var small = new TcpChanSessionOptions { Connection = new ConnectionOptions { InitialChannelWindow = 16 * 1024 } };
        var (client, server) = await InMemoryPairAsync(small, small);
        var accepted = server.AcceptPipeAsync().AsTask();
        var pipe = await client.OpenPipeAsync();
        var read = pipe.Input.ReadAsync().AsTask();
        var flush = pipe.Output.WriteAsync(new byte[1_000_000]).AsTask(); // blocks on credit: nobody reads
        await accepted.WaitAsync(Timeout);
        await server.DisposeAsync();
        var readError = await Assert.ThrowsAnyAsync<TcpChanSessionException>(() => read.WaitAsync(Timeout));
        var flushError = await Assert.ThrowsAnyAsync<TcpChanSessionException>(() => flush.WaitAsync(Timeout));
        // The peer disposed its session (a go-away, then the end): a close, as over sockets.
        Assert.Equal(SessionEndReason.Closed, readError.Reason);
        Assert.Equal(SessionEndReason.Closed, flushError.Reason);
        await client.Completion.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Completing_the_reader_with_an_error_resets_only_that_channel()
    {
        var (client, server) = await InMemoryPairAsync();
        _ = EchoPipesAsync(server);
        var doomed = await client.OpenPipeAsync();
        var reading = doomed.Input.ReadAsync().AsTask();
        var far = server; // the echo side sees the reset as a failed read and aborts too
        await doomed.Input.CompleteAsync(new TcpChanChannelException(0, ChannelCloseReason.LocalReset, ErrorCode.ApplicationBase + 1));
        await Assert.ThrowsAnyAsync<Exception>(() => reading.WaitAsync(Timeout));
        var data = RandomNumberGenerator.GetBytes(100_000);
        var back = await RoundTripAsync(client, data);
        Assert.Equal(data, back);
        Assert.Null(client.EndError);
        await client.DisposeAsync();
        _ = far;
    }

    [Fact]
    public async Task A_stalled_pipe_reader_does_not_slow_the_others_and_memory_stays_within_the_budget()
    {
        const int budget = 4 * 1024 * 1024;
        var options = new TcpChanSessionOptions { Connection = new ConnectionOptions { SessionReceiveBudget = budget } };
        var (client, server) = await InMemoryPairAsync(options, options);

        // The first channel the server accepts is never read.
        var stalledAccept = server.AcceptPipeAsync().AsTask();
        var stalled = await client.OpenPipeAsync("stalled");
        var stalledWrite = stalled.Output.WriteAsync(new byte[50_000_000]).AsTask();
        await stalledAccept.WaitAsync(Timeout);
        _ = EchoPipesAsync(server);

        long peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                lock (server.Core.Gate)
                {
                    peak = Math.Max(peak, server.Core.Connection.BufferedBytes);
                }

                await Task.Delay(1);
            }
        });
        var data = RandomNumberGenerator.GetBytes(5_000_000);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => RoundTripAsync(client, data))).WaitAsync(Timeout);
        sampling.Cancel();
        await sampler;
        Assert.All(results, r => Assert.Equal(SHA256.HashData(data), SHA256.HashData(r)));
        Assert.False(stalledWrite.IsCompleted);
        Assert.InRange(peak, 1, budget);
        await client.DisposeAsync();
        await Assert.ThrowsAnyAsync<TcpChanSessionException>(() => stalledWrite.WaitAsync(Timeout));
    }
}
