using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TcpChan.Core;

namespace TcpChan.Examples.Echo;

/// <summary>
/// The command line of the echo example:
/// <code>
///   Echo server --port N [--host H] [--max-version 0|1]
///   Echo client --port N [--host H] [--channels 8] [--size 100000] [--timeout-seconds 30] [--max-version 0|1]
///   Echo demo [--channels 8] [--size 100000] [--timeout-seconds 30] [--max-version 0|1] [--server-max-version 0|1] [--client-max-version 0|1]
/// </code>
/// <c>--max-version</c> is the newest protocol version offered (client) or accepted (server);
/// 0 makes a version-0-only peer that behaves like the Python reference. In the demo it sets
/// both sides, and <c>--server-max-version</c> / <c>--client-max-version</c> set one.
/// </summary>
public static class EchoProgram
{
    /// <summary>How to call the program.</summary>
    public const string Usage = """
        usage:
          Echo server --port N [--host 127.0.0.1] [--max-version 0|1]
          Echo client --port N [--host 127.0.0.1] [--channels 8] [--size 100000] [--timeout-seconds 30] [--max-version 0|1]
          Echo demo [--channels 8] [--size 100000] [--timeout-seconds 30] [--max-version 0|1]
                    [--server-max-version 0|1] [--client-max-version 0|1]
        """;

    /// <summary>
    /// Runs the program with <paramref name="args"/>, writing to <paramref name="output"/> and
    /// <paramref name="error"/>; <paramref name="stop"/> ends a server. Returns the exit code:
    /// 0 for success, 1 for a failed check, 2 for bad arguments.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken stop)
    {
        var options = new Dictionary<string, string>();
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            options[args[i]] = args[i + 1];
        }

        string mode = args.Length > 0 ? args[0] : "";
        string host = Take("--host", "127.0.0.1");
        int port = Number("--port", mode == "demo" ? 0 : -1);
        int channels = Number("--channels", 8);
        int size = Number("--size", 100000);
        int timeoutSeconds = Number("--timeout-seconds", 30);
        int maxVersion = Number("--max-version", ConnectionOptions.LatestVersion);
        int serverMaxVersion = mode == "demo" ? Number("--server-max-version", maxVersion) : maxVersion;
        int clientMaxVersion = mode == "demo" ? Number("--client-max-version", maxVersion) : maxVersion;
        IPAddress? address = null;
        if (args.Length % 2 == 0 || options.Count > 0 || mode is not ("server" or "client" or "demo")
            || port is < 0 or > 65535 || channels < 0 || size < 0 || timeoutSeconds <= 0
            || !IsVersion(serverMaxVersion) || !IsVersion(clientMaxVersion)
            || (mode == "server" && !IPAddress.TryParse(host, out address)))
        {
            error.WriteLine(Usage);
            return 2;
        }

        switch (mode)
        {
            case "server":
            {
                using var server = new EchoServer(address!, port, output, (byte)serverMaxVersion);
                output.WriteLine($"echo server listening on {host}:{server.Port}, protocol versions up to {server.MaxVersion} (Ctrl+C to stop)");
                await server.RunAsync(stop);
                return 0;
            }

            case "client":
                return await CheckAsync(host, port, (byte)clientMaxVersion);

            default: // demo: the server and the client in this one process, on a free loopback port
            {
                using var stopServer = CancellationTokenSource.CreateLinkedTokenSource(stop);
                using var server = new EchoServer(IPAddress.Loopback, port, maxVersion: (byte)serverMaxVersion);
                output.WriteLine($"echo server listening on 127.0.0.1:{server.Port}, protocol versions up to {server.MaxVersion}");
                output.WriteLine($"echo client offering protocol versions up to {clientMaxVersion}");
                Task serving = server.RunAsync(stopServer.Token);
                int result = await CheckAsync("127.0.0.1", server.Port, (byte)clientMaxVersion);
                stopServer.Cancel();
                await serving;
                return result;
            }
        }

        async Task<int> CheckAsync(string host, int port, byte clientMaxVersion)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
            try
            {
                byte version = await EchoClient.RunAsync(host, port, channels, size, timeout.Token, clientMaxVersion);
                output.WriteLine($"protocol version {version}");
                output.WriteLine($"{channels} channels x {size} bytes echoed intact");
                output.WriteLine("ok");
                return 0;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                return Fail(stop.IsCancellationRequested ? "echo client: stopped" : $"echo client: timed out after {timeoutSeconds} s");
            }
            catch (Exception ex) when (ex is EchoException or SocketException or IOException)
            {
                return Fail($"echo client: {ex.Message}");
            }
        }

        string Take(string name, string fallback) => options.Remove(name, out var value) ? value : fallback;

        // A missing option gets its default; one that is not a number becomes -1, which fails the checks.
        int Number(string name, int fallback) =>
            options.Remove(name, out var value) ? (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : -1) : fallback;

        static bool IsVersion(int version) => version is >= 0 and <= ConnectionOptions.LatestVersion;

        int Fail(string message)
        {
            error.WriteLine(message);
            return 1;
        }
    }
}
