using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Interop;

/// <summary>Which side of the TCP connection Go is: the client that connects to our listener, or the server our client connects to.</summary>
public enum GoRole
{
    /// <summary>Go's client connects to a <see cref="TcpChanListener"/> of ours.</summary>
    Client,

    /// <summary>Our <see cref="TcpChanClient"/> connects to Go's server.</summary>
    Server,
}

/// <summary>
/// This implementation's side of the Go interop tests: a yamux session over loopback through the
/// public Stream API (<see cref="TcpChanListener"/> or <see cref="TcpChanClient"/> with
/// <see cref="WireProtocol.Yamux"/>), facing the Go program of <see cref="GoYamux"/>, and the
/// program's test bytes read and written as streams.
/// </summary>
internal static class OurYamux
{
    /// <summary>The bound on our side of one scenario (the Go process has its own, <see cref="GoYamux.ProcessTimeout"/>).</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(80);

    /// <summary>Default session options, on yamux.</summary>
    public static TcpChanSessionOptions Options(Action<ConnectionOptions>? tune = null)
    {
        var connection = new ConnectionOptions { Protocol = WireProtocol.Yamux };
        tune?.Invoke(connection);
        return new TcpChanSessionOptions { Connection = connection };
    }

    /// <summary>
    /// Runs one scenario: Go in <paramref name="goRole"/> (its <c>-active</c> given by
    /// <paramref name="goActive"/>), our side in <paramref name="ours"/>, which gets the session
    /// and the Go process; then ends our session (if Go has not) and returns Go's result, which
    /// must be ok.
    /// </summary>
    public static async Task<GoResult> RunAsync(GoRole goRole, string scenario, bool goActive, string[] goArguments, Func<TcpChanSession, GoPeer, Task> ours, TcpChanSessionOptions? options = null)
    {
        options ??= Options();
        string[] arguments = [.. goArguments, $"-active={(goActive ? "true" : "false")}"];
        if (goRole == GoRole.Server)
        {
            using var server = await GoYamux.StartServerAsync(scenario, arguments);
            var session = await TcpChanClient.ConnectAsync(server.EndPoint!, options).WaitAsync(Bound);
            return await RunOursAsync(server, session, ours);
        }

        await using var listener = TcpChanListener.Start(new IPEndPoint(IPAddress.Loopback, 0), options);
        var accepting = listener.AcceptSessionAsync().AsTask();
        using var client = GoYamux.StartClient(listener.LocalEndPoint, scenario, arguments);
        var accepted = await accepting.WaitAsync(Bound);
        return await RunOursAsync(client, accepted, ours);
    }

    /// <summary>Waits until the peer has ended the session (for the side that does not end it).</summary>
    public static Task PeerEndsAsync(TcpChanSession session) => session.Completion.WaitAsync(Bound);

    public static byte[] Length(long n)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, (ulong)n);
        return bytes;
    }

    public static async Task<long> ReadLengthAsync(Stream stream)
    {
        var bytes = new byte[8];
        await stream.ReadExactlyAsync(bytes);
        return (long)BinaryPrimitives.ReadUInt64BigEndian(bytes);
    }

    /// <summary>Writes <paramref name="length"/> bytes of the program's pattern <paramref name="key"/>.</summary>
    public static async Task WritePatternAsync(Stream stream, uint key, long length)
    {
        var pattern = new Pattern(key);
        var chunk = new byte[64 * 1024];
        for (long left = length; left > 0;)
        {
            int n = (int)Math.Min(left, chunk.Length);
            pattern.Fill(chunk.AsSpan(0, n));
            await stream.WriteAsync(chunk.AsMemory(0, n));
            left -= n;
        }
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes and checks they are the pattern <paramref name="key"/> by SHA-256.</summary>
    public static async Task ReadPatternAsync(Stream stream, uint key, long length, Func<int, Task>? afterEachRead = null)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        for (long left = length; left > 0;)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)));
            Assert.True(n > 0, $"The stream ended with {left} of {length} bytes still to come.");
            sha.AppendData(buffer, 0, n);
            left -= n;
            if (afterEachRead is not null)
            {
                await afterEachRead(n);
            }
        }

        Assert.Equal(Pattern.Digest(key, length), Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant());
    }

    /// <summary>The peer half-closed: the next read ends the stream.</summary>
    public static async Task ExpectEndAsync(Stream stream)
    {
        var one = new byte[1];
        Assert.Equal(0, await stream.ReadAsync(one));
    }

    /// <summary>Copies exactly <paramref name="length"/> bytes from the stream back into it.</summary>
    public static async Task EchoAsync(Stream stream, long length)
    {
        var buffer = new byte[32 * 1024];
        for (long left = length; left > 0;)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)));
            Assert.True(n > 0, $"The stream ended with {left} of {length} bytes still to echo.");
            await stream.WriteAsync(buffer.AsMemory(0, n));
            left -= n;
        }
    }

    private static async Task<GoResult> RunOursAsync(GoPeer go, TcpChanSession session, Func<TcpChanSession, GoPeer, Task> ours)
    {
        try
        {
            Assert.Equal(WireProtocol.Yamux, session.Protocol);
            var running = ours(session, go);
            var done = await Task.WhenAny(running, Task.Delay(Bound));
            if (done != running)
            {
                throw new TimeoutException($"Our side of {go.CommandLine} did not finish within {Bound}.\n{go.Describe()}");
            }

            try
            {
                await running;
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"Our side of {go.CommandLine} failed: {e.Message}\n{go.Describe()}", e);
            }

            // Our part is done: we end the session if Go has not (Go's passive side waits for that).
            await session.DisposeAsync().AsTask().WaitAsync(Bound);
            var result = await go.WaitForResultAsync(GoYamux.ProcessTimeout);
            Assert.True(result.Ok, result.ToString());
            return result;
        }
        finally
        {
            await session.DisposeAsync().AsTask().WaitAsync(Bound);
        }
    }
}
