namespace TcpChan.Tests.QuickStart;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

public static class KestrelQuickStart
{
    public static async Task<string> RunAsync(TcpChanSession deviceSession, TcpChanSession clientSession)
    {
// README:begin kestrel
// The device side: an ASP.NET Core app whose connections are the channels of a session.
var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseTcpChan();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(new TcpChanEndPoint(deviceSession)));
builder.Logging.ClearProviders();
await using var app = builder.Build();
app.MapGet("/", () => "hello from the device");
await app.StartAsync();

// The other side: an HttpClient whose every connection is a channel of the same session.
using var http = new HttpClient(new SocketsHttpHandler
{
    ConnectCallback = async (_, token) => await clientSession.OpenChannelAsync("http", token),
});
var body = await http.GetStringAsync("http://device/");
// README:end kestrel
        await app.StopAsync();
        return body;
    }
}
