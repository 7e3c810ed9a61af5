using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TcpChan.Bench.Link;

/// <summary>
/// Sleeps until a <see cref="Stopwatch"/> timestamp with sub-millisecond resolution, for the
/// link's delivery threads. .NET's own sleeps and timers (Thread.Sleep, Task.Delay, timed waits)
/// count whole milliseconds and often wake 1–2 ms late, which is 10 % of a 20 ms round trip; on
/// Linux this calls <c>nanosleep</c> instead (the kernel's default timer slack is 50 µs). Elsewhere
/// it sleeps whole milliseconds and yields the thread through the last one.
/// </summary>
internal static class PreciseSleep
{
    /// <summary>
    /// Sleeps until <paramref name="timestamp"/> or for at most <paramref name="most"/>, whichever
    /// comes first; true when the timestamp has been reached. Never returns true early: the
    /// Stopwatch is read again after every wake-up (a signal can cut a sleep short).
    /// </summary>
    public static bool Until(long timestamp, TimeSpan most)
    {
        long limit = Stopwatch.GetTimestamp() + (long)(most.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= timestamp)
            {
                return true;
            }

            if (now >= limit)
            {
                return false;
            }

            long ticks = Math.Min(timestamp, limit) - now;
            if (OperatingSystem.IsLinux())
            {
                long ns = (long)(ticks * (1e9 / Stopwatch.Frequency));
                var request = new Timespec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
                _ = NanoSleep(ref request, IntPtr.Zero);
            }
            else if (ticks > Stopwatch.Frequency / 500)
            {
                Thread.Sleep(TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency) - TimeSpan.FromMilliseconds(1));
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    [DllImport("libc", EntryPoint = "nanosleep")]
    private static extern int NanoSleep(ref Timespec request, IntPtr remaining);

    /// <summary>struct timespec on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
