using System.Net;
using System.Net.Sockets;
using TcpChan.Tests.QuickStart;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>The README's adapter quick starts run as written (ReadmeQuickStartTests checks they are the README's text).</summary>
public class QuickStartRunTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Session_quick_start_echoes_hello()
    {
        using var cancel = new CancellationTokenSource(Timeout);
        Assert.Equal("hello", await SessionQuickStart.RunAsync(cancel.Token).WaitAsync(Timeout));
    }

    [Fact]
    public async Task Protocol_quick_start_greets()
    {
        using var cancel = new CancellationTokenSource(Timeout);
        await using var listener = TcpChanListener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var serving = listener.ServeAsync(() => new GreetingServer(), cancel.Token);
        var client = new GreetingClient();
        var running = TcpChanClient.RunAsync(listener.LocalEndPoint, client, cancel.Token);
        Assert.Equal("hello", await PrintingChannel.Received.Task.WaitAsync(Timeout));
        client.Close();
        await running.WaitAsync(Timeout);
        cancel.Cancel();
        await serving.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Pipe_quick_start_echoes_hello_over_tcp_streams()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptTcpClientAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var serverTcp = await accept.WaitAsync(Timeout);
        using var cancel = new CancellationTokenSource(Timeout);
        Assert.Equal("hello", await PipeQuickStart.RunAsync(tcp.GetStream(), serverTcp.GetStream(), cancel.Token).WaitAsync(Timeout));
    }

    [Fact]
    public async Task Kestrel_quick_start_serves_over_a_channel()
    {
        await using var listener = TcpChanListener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var accepting = listener.AcceptSessionAsync().AsTask();
        await using var client = await TcpChanClient.ConnectAsync(listener.LocalEndPoint).WaitAsync(Timeout);
        await using var device = await accepting.WaitAsync(Timeout);
        Assert.Equal("hello from the device", await KestrelQuickStart.RunAsync(device, client).WaitAsync(Timeout));
    }
}
