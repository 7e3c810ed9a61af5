using System.Diagnostics;
using System.Globalization;
using System.Text;
using TcpChan.Bench.Link;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// long-bulk (over the emulated link): one stream writes <see cref="BenchOptions.Chunk"/>-byte
/// writes flat out for <see cref="BenchOptions.LongBulkDuration"/>; the server reads and counts
/// arrivals in 10 ms bins, from the client's first write. Value: the steady rate, Mbit/s of
/// payload over the second half of the run; the RESULT line adds <c>t90_s</c> (the end of the
/// first 100 ms window whose rate reaches 90 % of the link's, -1 if none does),
/// <c>steady_pct</c> (steady rate / link rate), <c>peak_mbit</c> (the best 100 ms window),
/// <c>link_mbit</c> and <c>rtt_ms</c>. The log gets the rate of every 250 ms.
/// </summary>
internal sealed class LongBulkWorkload
{
    private const double BinSeconds = 0.010;
    private const int WindowBins = 10;
    private const int SeriesBins = 25;
    private readonly BenchOptions _o;
    private readonly LinkOptions _link;
    private readonly TextWriter _log;
    private readonly long _binTicks = (long)(BinSeconds * Stopwatch.Frequency);
    private readonly long[] _bins;
    private long _start;

    public LongBulkWorkload(BenchOptions o, LinkOptions link, TextWriter log)
    {
        _o = o;
        _link = link;
        _log = log;
        _bins = new long[(int)(o.LongBulkDuration.TotalSeconds / BinSeconds)];
    }

    public async Task Sink(Stream s)
    {
        await using var _ = s;
        var buf = new byte[_o.Chunk];
        try
        {
            int n;
            while ((n = await s.ReadAsync(buf).ConfigureAwait(false)) > 0)
            {
                long bin = (Stopwatch.GetTimestamp() - Volatile.Read(ref _start)) / _binTicks;
                if (bin < _bins.Length)
                {
                    Interlocked.Add(ref _bins[bin], n);
                }
            }
        }
        catch (IOException)
        {
            // The client went away.
        }
    }

    public async Task<Measurement> Run(Func<Task<Stream>> open)
    {
        var payload = new byte[_o.Chunk];
        var s = await open().ConfigureAwait(false);
        long start = Stopwatch.GetTimestamp();
        Volatile.Write(ref _start, start);
        long end = start + (_bins.Length * _binTicks);
        while (Stopwatch.GetTimestamp() < end)
        {
            await s.WriteAsync(payload).ConfigureAwait(false);
        }

        // Arrivals after the last bin are not counted; wait until it is past, then close.
        while (Stopwatch.GetTimestamp() < end + _binTicks)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(5)).ConfigureAwait(false);
        }

        await s.DisposeAsync().ConfigureAwait(false);
        return Evaluate((long[])_bins.Clone());
    }

    private Measurement Evaluate(long[] bins)
    {
        double linkBytesPerSecond = _link.BitsPerSecond / 8;
        double Mbit(long bytes, int binCount) => bytes * 8 / (binCount * BinSeconds) / 1e6;

        double t90 = -1, peak = 0;
        long window = 0;
        for (int i = 0; i < bins.Length; i++)
        {
            window += bins[i] - (i >= WindowBins ? bins[i - WindowBins] : 0);
            if (i >= WindowBins - 1)
            {
                peak = Math.Max(peak, Mbit(window, WindowBins));
                if (t90 < 0 && window >= 0.9 * linkBytesPerSecond * WindowBins * BinSeconds)
                {
                    t90 = (i + 1) * BinSeconds;
                }
            }
        }

        int half = bins.Length / 2;
        double steady = Mbit(bins.Skip(half).Sum(), bins.Length - half);
        var series = new StringBuilder("SERIES Mbit/s per 250 ms:");
        for (int i = 0; i + SeriesBins <= bins.Length; i += SeriesBins)
        {
            series.Append(CultureInfo.InvariantCulture, $" {Mbit(bins.Skip(i).Take(SeriesBins).Sum(), SeriesBins):F0}");
        }

        _log.WriteLine(series.ToString());
        double linkMbit = _link.BitsPerSecond / 1e6;
        return new(
            steady,
            "Mbit/s",
            TimeSpan.FromSeconds(bins.Length * BinSeconds),
            string.Create(
                CultureInfo.InvariantCulture,
                $" t90_s={t90:F2} steady_pct={100 * steady / linkMbit:F1} peak_mbit={peak:F1} link_mbit={linkMbit:F0} rtt_ms={_link.Rtt.TotalMilliseconds:F1}"));
    }
}
