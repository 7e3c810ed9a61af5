using System.Diagnostics;
using System.Globalization;
using TcpChan.Bench.Link;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// latency (over the emulated link): <see cref="BenchOptions.LatencyRequests"/> sequential short
/// requests, each on a stream of its own: open, write a 100-byte request, read the 1 KiB
/// response, close. Timed one by one, from before the open until the close returns; three more
/// before them are not timed (JIT, the first TLS handshake). The server reads the request, writes
/// the response and waits for the client's close. Value: p50 per request in ms; the RESULT line
/// adds <c>p99_ms</c>, <c>min_ms</c>, <c>max_ms</c>, <c>rtt_ms</c>, <c>ideal_ms</c> (one
/// round trip plus both messages' serialization at the link's rate: what a request that needs
/// no round trip of its own to open costs) and <c>p50_rtts</c> (p50 / round-trip time).
/// </summary>
internal static class LatencyWorkload
{
    public const int RequestBytes = 100;
    public const int ResponseBytes = 1024;
    private const int WarmUp = 3;

    public static async Task Serve(Stream s)
    {
        await using var _ = s;
        var request = new byte[RequestBytes];
        var response = new byte[ResponseBytes];
        try
        {
            await s.ReadExactlyAsync(request).ConfigureAwait(false);
            response[0] = request[0];
            await s.WriteAsync(response).ConfigureAwait(false);
            await s.FlushAsync().ConfigureAwait(false);
            while (await s.ReadAsync(request).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (IOException)
        {
            // The client went away.
        }
    }

    public static async Task<Measurement> Run(BenchOptions o, LinkOptions link, Func<Task<Stream>> open)
    {
        var request = new byte[RequestBytes];
        var response = new byte[ResponseBytes];
        var ms = new double[o.LatencyRequests];
        long started = Stopwatch.GetTimestamp();
        for (int i = -WarmUp; i < o.LatencyRequests; i++)
        {
            request[0] = (byte)i;
            long t0 = Stopwatch.GetTimestamp();
            var s = await open().ConfigureAwait(false);
            await s.WriteAsync(request).ConfigureAwait(false);
            await s.FlushAsync().ConfigureAwait(false);
            await s.ReadExactlyAsync(response).ConfigureAwait(false);
            await s.DisposeAsync().ConfigureAwait(false);
            if (response[0] != (byte)i)
            {
                throw new InvalidDataException("latency: wrong response");
            }

            if (i >= 0)
            {
                ms[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
        }

        double rtt = link.Rtt.TotalMilliseconds;
        double ideal = rtt + ((link.SerializationTicks(RequestBytes) + link.SerializationTicks(ResponseBytes)) * 1000.0 / Stopwatch.Frequency);
        double p50 = Quantiles.Of(ms, 0.50);
        return new(
            p50,
            "ms_p50",
            Stopwatch.GetElapsedTime(started),
            string.Create(
                CultureInfo.InvariantCulture,
                $" p99_ms={Quantiles.Of(ms, 0.99):F2} min_ms={ms.Min():F2} max_ms={ms.Max():F2} rtt_ms={rtt:F1} ideal_ms={ideal:F2} p50_rtts={p50 / rtt:F2} requests={ms.Length}"));
    }
}
