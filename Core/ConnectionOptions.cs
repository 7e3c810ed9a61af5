namespace TcpChan.Core;

/// <summary>Settings of a connection. The defaults interoperate with Python tcpchan 0.1.1.</summary>
public sealed class ConnectionOptions
{
    /// <summary>The handshake magic of the reference implementation.</summary>
    public const uint DefaultHandshakeMagic = 0xFEEDBACC;

    /// <summary>Both sides must use the same magic, or the handshake fails.</summary>
    public uint HandshakeMagic { get; set; } = DefaultHandshakeMagic;

    /// <summary>
    /// Called (with no arguments) when an API call into the connection has left new
    /// events in its queue, once per call, after the call's work is done, so that a
    /// driver can drain with <see cref="Connection.NextEvent"/>. Like the reference's
    /// <c>event_callback</c>, but batched.
    /// </summary>
    public Action? EventCallback { get; set; }

    /// <summary>
    /// Source of random channel ids (version 0 picks ids at random, as the reference does,
    /// so that both sides creating channels at once rarely collide). Set a seeded
    /// <see cref="Random"/> for reproducible tests; by default a new one per connection.
    /// </summary>
    public Random? Random { get; set; }
}
