using System.Net.Sockets;
using System.Security.Cryptography;
using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>50 MB each way through the tool, with half-close: the target answers only after the client's side ends.</summary>
public class LargeTransferTests
{
    private const long Size = 50L * 1024 * 1024;

    [Fact]
    public async Task Fifty_megabytes_each_way_arrive_intact_and_half_close_reaches_the_target()
    {
        await using var target = new HashingTarget(replySize: Size);
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", target.HostPort);
        await using var _ = serve;
        var (forward, local) = await CliProcess.StartForwardAsync(port, target.HostPort);
        await using var __ = forward;

        using var socket = await Loopback.ConnectAsync(local);
        var reading = ReadReplyAsync(socket);
        foreach (var block in Data.Blocks(Size, seed: 1))
        {
            await socket.SendAsync(block, SocketFlags.None).WaitAsync(CliProcess.Timeout);
        }

        // The target answers only once it has read to the end: the tunnel must carry the end
        // of this side's data while the other direction stays open.
        socket.Shutdown(SocketShutdown.Send);
        var (hashOfSent, replyLength, replyHash) = await reading.WaitAsync(CliProcess.Timeout);

        Assert.Equal(Convert.ToHexString(Data.Sha256(Size, seed: 1)), Convert.ToHexString(hashOfSent));
        Assert.Equal(Size, replyLength);
        Assert.Equal(Convert.ToHexString(Data.Sha256(Size, seed: 2)), Convert.ToHexString(replyHash));
        Assert.Equal(1, target.Accepted);
    }

    private static async Task<(byte[] HashOfSent, long ReplyLength, byte[] ReplyHash)> ReadReplyAsync(Socket socket)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var head = new byte[32];
        int got = 0;
        var buffer = new byte[256 * 1024];
        long length = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            int take = Math.Min(32 - got, n);
            buffer.AsSpan(0, take).CopyTo(head.AsSpan(got));
            got += take;
            hash.AppendData(buffer, take, n - take);
            length += n - take;
        }

        return (head, length, hash.GetHashAndReset());
    }
}
