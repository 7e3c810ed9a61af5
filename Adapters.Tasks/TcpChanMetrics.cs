using System.Diagnostics.Metrics;

namespace TcpChan;

/// <summary>
/// The instruments of the <c>TcpChan</c> meter, so that <c>dotnet-counters monitor --counters TcpChan</c>
/// can watch a live process.
/// </summary>
public static class TcpChanMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "TcpChan";

    internal static readonly Meter Meter = new(MeterName, "1.0");
    internal static readonly UpDownCounter<long> Sessions = Meter.CreateUpDownCounter<long>("tcpchan.sessions", "{session}", "Open sessions.");
    internal static readonly UpDownCounter<long> Channels = Meter.CreateUpDownCounter<long>("tcpchan.channels", "{channel}", "Open channels.");
    internal static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("tcpchan.bytes_sent", "By", "Bytes written to transports.");
    internal static readonly Counter<long> BytesReceived = Meter.CreateCounter<long>("tcpchan.bytes_received", "By", "Bytes read from transports.");
    internal static readonly Counter<long> FramesSent = Meter.CreateCounter<long>("tcpchan.frames_sent", "{frame}", "Frames sent.");
    internal static readonly Counter<long> FramesReceived = Meter.CreateCounter<long>("tcpchan.frames_received", "{frame}", "Frames received.");
    internal static readonly Histogram<double> RoundTripTime = Meter.CreateHistogram<double>("tcpchan.rtt", "ms", "Round-trip times measured by pings.");
    internal static readonly Counter<long> FlowControlStalls = Meter.CreateCounter<long>("tcpchan.flow_control_stalls", "{stall}", "Writes that waited for credit.");
    internal static readonly Counter<long> ProtocolErrors = Meter.CreateCounter<long>("tcpchan.protocol_errors", "{error}", "Sessions ended by a protocol error.");
}
