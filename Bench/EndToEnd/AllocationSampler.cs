using System.Diagnostics.Tracing;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// With TCPCHAN_BENCH_ALLOCS=1, samples allocations in process (the runtime's AllocationTick
/// event, about one per 100 KB allocated) and prints the top types to stderr at the end of a
/// run, with the sampled bytes they stand for. A tool for finding per-operation allocations.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly Dictionary<string, (long Count, long Bytes)> _types = new();

    public static AllocationSampler? StartIfAsked() =>
        Environment.GetEnvironmentVariable("TCPCHAN_BENCH_ALLOCS") == "1" ? new AllocationSampler() : null;

    public string Report(int top = 12)
    {
        lock (_types)
        {
            return string.Join(
                Environment.NewLine,
                _types.OrderByDescending(t => t.Value.Bytes).Take(top).Select(t => $"ALLOC {t.Value.Bytes / 1048576.0,9:F1} MiB {t.Value.Count,7} ticks  {t.Key}"));
        }
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName != "GCAllocationTick_V4" && e.EventName != "GCAllocationTick_V3")
        {
            return;
        }

        string type = e.Payload?[e.PayloadNames!.IndexOf("TypeName")] as string ?? "?";
        long bytes = Convert.ToInt64(e.Payload![e.PayloadNames!.IndexOf("AllocationAmount64")], System.Globalization.CultureInfo.InvariantCulture);
        lock (_types)
        {
            _types.TryGetValue(type, out var sum);
            _types[type] = (sum.Count + 1, sum.Bytes + bytes);
        }
    }
}
