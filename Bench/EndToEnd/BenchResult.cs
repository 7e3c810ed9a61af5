using System.Globalization;

namespace TcpChan.Bench.EndToEnd;

/// <summary>The outcome of one run, printed as the peers print it.</summary>
/// <param name="Extra">More <c> name=value</c> fields after the status, each with a leading space (mixed: <c>p50_us</c>, <c>base_p50_us</c>, ...).</param>
public sealed record BenchResult(string Peer, string Workload, string Status, double Value, string Unit, TimeSpan Elapsed, double HwmMiB, double IdleRssMiB, string Extra = "")
{
    /// <summary>
    /// <c>RESULT peer=... workload=... value=... unit=... elapsed_s=... hwm_mib=... idle_rss_mib=... status=...</c>
    /// and the extra fields, the one line /work/shared/peers/run.sh reads.
    /// </summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"RESULT peer={Peer} workload={Workload} value={Value:F1} unit={Unit} elapsed_s={Elapsed.TotalSeconds:F3} hwm_mib={HwmMiB:F1} idle_rss_mib={IdleRssMiB:F1} status={Status}{Extra}");
}

/// <summary>Memory figures of this process, from /proc/self/status, as the peers read them.</summary>
public static class ProcStatus
{
    /// <summary>A <c>Vm...: N kB</c> field in MiB, or -1 where there is no /proc.</summary>
    public static double MiB(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    return double.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return -1;
    }

    /// <summary>Peak resident memory of the process so far.</summary>
    public static double PeakRss => MiB("VmHWM");

    /// <summary>Resident memory now.</summary>
    public static double Rss => MiB("VmRSS");
}
