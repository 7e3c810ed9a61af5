using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;

namespace TcpChan.Bench.Micro;

/// <summary>
/// One channel's <see cref="TcpChanStream"/> round trip through the whole adapter stack: write
/// <see cref="Size"/> bytes, read them back from an echo on the other session, over an in-memory
/// transport (two <see cref="Pipe"/>s through <see cref="DuplexPipeTransport"/>), default
/// options. What one operation costs in time and allocations, both sessions, the echo and every
/// thread included (the memory diagnoser counts the whole process).
/// </summary>
[MemoryDiagnoser]
public class StreamBenchmarks
{
    private TcpChanSession _client = null!;
    private TcpChanSession _server = null!;
    private TcpChanStream _stream = null!;
    private Task _echo = Task.CompletedTask;
    private byte[] _request = [];
    private byte[] _reply = [];

    [Params(64)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var up = new Pipe();
        var down = new Pipe();
        var accepting = TcpChanSession.AcceptAsync(new DuplexPipeTransport(new Duplex(up.Reader, down.Writer)));
        _client = TcpChanSession.ConnectAsync(new DuplexPipeTransport(new Duplex(down.Reader, up.Writer))).GetAwaiter().GetResult();
        _server = accepting.GetAwaiter().GetResult();
        _stream = _client.OpenChannelAsync().GetAwaiter().GetResult();
        _echo = EchoAsync(_server.AcceptChannelAsync().AsTask().GetAwaiter().GetResult());
        _request = new byte[Size];
        _reply = new byte[Size];

        // Into the steady state: buffers, pools and the JIT's tiers settled.
        for (int i = 0; i < 20_000; i++)
        {
            RoundTrip().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// A pooled async method, like the adapters' own, so that the benchmark's state machine is not
    /// what gets counted; the read is a loop over <see cref="TcpChanStream.ReadAsync(Memory{byte}, CancellationToken)"/>
    /// (Stream.ReadExactlyAsync's own state machine is not pooled).
    /// </summary>
    [Benchmark]
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RoundTrip()
    {
        await _stream.WriteAsync(_request).ConfigureAwait(false);
        for (int got = 0; got < _reply.Length;)
        {
            int n = await _stream.ReadAsync(_reply.AsMemory(got)).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            got += n;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stream.Dispose();
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _echo.Wait(TimeSpan.FromSeconds(10));
    }

    private static async Task EchoAsync(TcpChanStream stream)
    {
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
            }
        }
        catch (TcpChanException)
        {
            // The session ended at cleanup.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
