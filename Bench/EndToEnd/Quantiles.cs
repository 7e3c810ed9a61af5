namespace TcpChan.Bench.EndToEnd;

/// <summary>Quantiles as the peers take them.</summary>
internal static class Quantiles
{
    /// <summary>Nearest-rank <paramref name="q"/>-quantile (of 50 values, the 0.99-quantile is the largest).</summary>
    public static double Of(double[] values, double q)
    {
        var s = (double[])values.Clone();
        Array.Sort(s);
        int i = Math.Clamp((int)((q * s.Length) + 0.5) - 1, 0, s.Length - 1);
        return s[i];
    }
}
