namespace TcpChan.Core;

/// <summary>Version 1: the answer to a <see cref="Connection.Ping"/> arrived.</summary>
public sealed class PingAcknowledged : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public PingAcknowledged(ulong opaque, TimeSpan roundTripTime)
    {
        Opaque = opaque;
        RoundTripTime = roundTripTime;
    }

    /// <summary>The value the ping carried.</summary>
    public ulong Opaque { get; }

    /// <summary>From sending the ping to handling its answer, by the times given to the connection.</summary>
    public TimeSpan RoundTripTime { get; }

    /// <inheritdoc />
    public override string ToString() => $"PingAcknowledged(opaque={Opaque}, rtt={RoundTripTime.TotalMilliseconds} ms)";
}
