using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests;

public class SmokeTests
{
    [Fact]
    public void Client_handshake_request_is_the_reference_bytes()
    {
        var client = new ClientConnection(() => throw new InvalidOperationException(), new ConnectionOptions { MaxVersion = 0 });
        client.ConnectionEstablished();
        var transmit = Assert.IsType<DataTransmit>(client.NextEvent());
        Assert.Equal(Convert.FromHexString("0001feedbacc"), transmit.Payload.ToArray());
    }
}
