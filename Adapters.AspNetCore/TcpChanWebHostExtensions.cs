using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace TcpChan;

/// <summary>Hooks TcpChan into Kestrel.</summary>
public static class TcpChanWebHostExtensions
{
    /// <summary>
    /// Registers the TcpChan listener factory, so that Kestrel can listen on
    /// <see cref="TcpChanEndPoint"/>s beside its ordinary sockets.
    /// </summary>
    public static IWebHostBuilder UseTcpChan(this IWebHostBuilder builder) =>
        builder.ConfigureServices(services => services.AddSingleton<IConnectionListenerFactory, TcpChanConnectionListenerFactory>());
}
