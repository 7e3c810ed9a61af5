using System.Security.Cryptography;
using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>A version-0 peer (ours with MaxVersion = 0, which behaves like the Python reference) works through the adapters.</summary>
public class Version0PeerTests
{
    private static TcpChanSessionOptions V0 => new() { Connection = new ConnectionOptions { MaxVersion = 0 } };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Sessions_echo_with_a_version_0_peer(bool serverIsV0)
    {
        await using var pair = await Loopback.PairAsync(client: serverIsV0 ? null : V0, server: serverIsV0 ? V0 : null);
        var echo = Loopback.EchoAllAsync(pair.Server);
        Assert.Equal(0, pair.Client.Version);
        Assert.Equal(0, pair.Server.Version);

        // Version 0 has no half-close: the client reads its echo back, then closes.
        for (int i = 0; i < 3; i++)
        {
            var data = RandomNumberGenerator.GetBytes(200_000 + i);
            await using var stream = await pair.Client.OpenChannelAsync("ignored in v0").WaitAsync(Loopback.Timeout);
            var back = Loopback.ReadExactlyAsync(stream, data.Length);
            await stream.WriteAsync(data).AsTask().WaitAsync(Loopback.Timeout);
            Assert.Equal(data, await back);
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => pair.Client.PingAsync());
        await pair.Client.CloseAsync(TimeSpan.FromSeconds(5)).WaitAsync(Loopback.Timeout);
        await pair.Server.Completion.WaitAsync(Loopback.Timeout);
        await echo.WaitAsync(Loopback.Timeout);
        Assert.Equal(0, pair.Server.OpenChannelCount);
    }
}
