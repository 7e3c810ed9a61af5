using System.Diagnostics;

namespace TcpChan.Internal;

/// <summary>The monotonic time the adapters give the core (which has no clock of its own).</summary>
internal static class Clock
{
    private static readonly long Start = Stopwatch.GetTimestamp();

    public static TimeSpan Now => Stopwatch.GetElapsedTime(Start);
}
