using System.Diagnostics;

namespace TcpChan.Bench.Link;

/// <summary>
/// The shape of an <see cref="EmulatedLink"/>: one-way delay and bottleneck rate in each
/// direction, the bottleneck's buffer, each connection's receive window, and how writes are cut
/// into segments. See docs/BENCHMARKS.md, "The emulated link".
/// </summary>
internal sealed record LinkOptions
{
    /// <summary>Propagation delay of each direction (half the round-trip time).</summary>
    public TimeSpan OneWayDelay { get; init; }

    /// <summary>Bottleneck rate of each direction, in bits of payload per second (no per-packet overhead is modelled).</summary>
    public double BitsPerSecond { get; init; } = 100e6;

    /// <summary>
    /// Bytes the bottleneck queues (admitted, not yet serialized) before writers wait. Null: one
    /// bandwidth-delay product, at least 10 ms of data and 64 KiB.
    /// </summary>
    public long? BufferBytes { get; init; }

    /// <summary>
    /// Bytes a connection's receiver accepts beyond what its reader took (TCP's receive window,
    /// always open as far as this). Null: 2 × (BDP + buffer), at least 4 MiB, so that it never
    /// binds a reader that keeps up.
    /// </summary>
    public long? ReceiveWindowBytes { get; init; }

    /// <summary>
    /// Largest unit the link serializes and delivers at once; a longer write becomes several.
    /// Null: the power of two at or above what the link serializes in 0.5 ms, between 4 KiB and
    /// 64 KiB (8 KiB at 100 Mbit/s, 64 KiB at 1 Gbit/s), so that delivery costs little CPU per
    /// byte, 64 KiB writes split evenly, and a segment's first byte waits for the rest of it at
    /// most about 0.5–1 ms.
    /// </summary>
    public int? SegmentBytes { get; init; }

    /// <summary>Keep a record of every data segment (for tests of the link itself).</summary>
    public bool Trace { get; init; }

    /// <summary>The round-trip time of an idle link.</summary>
    public TimeSpan Rtt => OneWayDelay * 2;

    /// <summary>Bandwidth × round-trip time, in bytes.</summary>
    public long BdpBytes => (long)(BitsPerSecond / 8 * Rtt.TotalSeconds);

    /// <summary>The bottleneck buffer in force.</summary>
    public long EffectiveBufferBytes => BufferBytes ?? Math.Max(BdpBytes, Math.Max((long)(BitsPerSecond / 8 * 0.010), 64 * 1024));

    /// <summary>The receive window in force.</summary>
    public long EffectiveReceiveWindowBytes => ReceiveWindowBytes ?? Math.Max(2 * (BdpBytes + EffectiveBufferBytes), 4L << 20);

    /// <summary>The segment size in force.</summary>
    public int EffectiveSegmentBytes => SegmentBytes ?? (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(BitsPerSecond / 8 * 0.0005, 4 * 1024, 64 * 1024));

    /// <summary>A link of <paramref name="rttMs"/> milliseconds round trip at <paramref name="mbit"/> Mbit/s.</summary>
    public static LinkOptions FromRtt(double rttMs, double mbit) => new()
    {
        OneWayDelay = TimeSpan.FromMilliseconds(rttMs / 2),
        BitsPerSecond = mbit * 1e6,
    };

    /// <summary>The one-way delay in <see cref="Stopwatch"/> ticks, rounded up.</summary>
    public long DelayTicks => (long)Math.Ceiling(OneWayDelay.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Ticks the bottleneck takes to serialize <paramref name="bytes"/>, rounded up: the link is never faster than its rate.</summary>
    public long SerializationTicks(long bytes) => (long)Math.Ceiling(bytes * 8.0 * Stopwatch.Frequency / BitsPerSecond);

    /// <inheritdoc />
    public override string ToString() => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"rtt={Rtt.TotalMilliseconds:F1}ms rate={BitsPerSecond / 1e6:F0}Mbit/s bdp={BdpBytes}B buffer={EffectiveBufferBytes}B rwnd={EffectiveReceiveWindowBytes}B segment={EffectiveSegmentBytes}B");
}
