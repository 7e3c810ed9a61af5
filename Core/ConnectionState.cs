namespace TcpChan.Core;

/// <summary>Where a connection is in its life.</summary>
public enum ConnectionState
{
    /// <summary>Made, but <see cref="Connection.ConnectionEstablished()"/> not yet called.</summary>
    Idle,

    /// <summary>Transport up; waiting for the handshake to complete.</summary>
    Handshaking,

    /// <summary>Handshake done; channels work.</summary>
    Established,

    /// <summary>The handshake failed; input is ignored.</summary>
    HandshakeFailed,

    /// <summary>The peer broke the protocol; input is ignored.</summary>
    Failed,

    /// <summary>Closed locally or lost; input is ignored.</summary>
    Closed,
}
