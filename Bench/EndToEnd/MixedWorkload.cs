using System.Diagnostics;
using System.Globalization;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// mixed, exactly as the peers' .NET program runs it (/work/shared/peers/dotnet/Program.cs,
/// <c>Mixed</c>): one stream's round trips timed alone, then while <see cref="BenchOptions.MixedBulk"/>
/// other streams write chunks as fast as they can (the server echoes every stream; the bulk
/// clients discard the echo). Value: p99 latency under bulk in µs; the RESULT line adds
/// <c>p50_us</c>, <c>base_p50_us</c>, <c>base_p99_us</c> (alone) and <c>bulk_mib_s</c> (sent
/// while the rounds were timed). Two additions of ours, neither changing a default run: the
/// warm-up is min(100, rounds) round trips, and the bulk's head start is
/// <see cref="BenchOptions.MixedWarmup"/> (0.5 s as theirs), so that quick runs and runs over a
/// 100 ms link stay short.
/// </summary>
internal static class MixedWorkload
{
    public static async Task<Measurement> Run(BenchOptions o, Func<Task<Stream>> open)
    {
        await using var rpc = await open().ConfigureAwait(false);
        await Rounds(rpc, o, Math.Min(100, o.MixedRounds)).ConfigureAwait(false); // warm-up, untimed
        var alone = await Rounds(rpc, o, o.MixedRounds).ConfigureAwait(false);
        using var stop = new CancellationTokenSource();
        long sent = 0;
        var bulk = new Stream[o.MixedBulk];
        var tasks = new List<Task>();
        for (int i = 0; i < bulk.Length; i++)
        {
            var s = bulk[i] = await open().ConfigureAwait(false);
            tasks.Add(Task.Run(async () => // writer
            {
                var payload = new byte[o.Chunk];
                try
                {
                    while (!stop.IsCancellationRequested)
                    {
                        await s.WriteAsync(payload, stop.Token).ConfigureAwait(false);
                        Interlocked.Add(ref sent, payload.Length);
                    }
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    // our own stop at the end
                }
            }));
            _ = Task.Run(async () => // reader: discards the echo until the stream ends
            {
                var buf = new byte[o.EchoBuf];
                try
                {
                    while (await s.ReadAsync(buf).ConfigureAwait(false) > 0)
                    {
                    }
                }
                catch (Exception)
                {
                    // the stream was disposed under it at the end
                }
            });
        }

        await Task.Delay(o.MixedWarmup).ConfigureAwait(false); // let the bulk streams fill the connection
        long sent0 = Interlocked.Read(ref sent);
        long start = Stopwatch.GetTimestamp();
        var loaded = await Rounds(rpc, o, o.MixedRounds).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        double bulkMiBs = (Interlocked.Read(ref sent) - sent0) / 1048576.0 / d.TotalSeconds;
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(tasks).ConfigureAwait(false);
        foreach (var s in bulk)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }

        return Result(alone, loaded, bulkMiBs, d);
    }

    /// <summary>The RESULT fields of a mixed run, as the peers print them.</summary>
    public static Measurement Result(double[] alone, double[] loaded, double bulkMiBs, TimeSpan elapsed) => new(
        Quantiles.Of(loaded, 0.99),
        "us_p99",
        elapsed,
        string.Create(
            CultureInfo.InvariantCulture,
            $" p50_us={Quantiles.Of(loaded, 0.50):F1} base_p50_us={Quantiles.Of(alone, 0.50):F1} base_p99_us={Quantiles.Of(alone, 0.99):F1} bulk_mib_s={bulkMiBs:F1}"));

    // n sequential round trips of one RpcSize message; each one's latency in microseconds.
    private static async Task<double[]> Rounds(Stream s, BenchOptions o, int n)
    {
        var req = new byte[o.RpcSize];
        var resp = new byte[o.RpcSize];
        var lat = new double[n];
        for (int i = 0; i < n; i++)
        {
            req[0] = (byte)i;
            long t0 = Stopwatch.GetTimestamp();
            await s.WriteAsync(req).ConfigureAwait(false);
            await s.ReadExactlyAsync(resp).ConfigureAwait(false);
            lat[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            if (resp[0] != (byte)i)
            {
                throw new InvalidDataException("mixed: wrong echo");
            }
        }

        return lat;
    }
}
