namespace TcpChan.Bench.Link;

/// <summary>
/// One unit on its way through a <see cref="LinkDirection"/>: a piece of a write (at most
/// <see cref="LinkOptions.SegmentBytes"/>) for one connection end, or a control packet (a
/// handshake step or a FIN) that takes no serialization time but keeps its place in the FIFO.
/// </summary>
/// <param name="Target">The receiving end (null: a control packet with only <paramref name="OnArrival"/>).</param>
/// <param name="Buffer">The bytes (rented from the link's pool), or null for a control packet.</param>
/// <param name="Length">How many bytes of <paramref name="Buffer"/>.</param>
/// <param name="Admitted">When the writer handed it over (Stopwatch ticks).</param>
/// <param name="Start">When the bottleneck began serializing it.</param>
/// <param name="End">When its last byte left the bottleneck.</param>
/// <param name="Due">When it arrives: <paramref name="End"/> + the one-way delay.</param>
/// <param name="OnArrival">What a control packet does when it arrives (runs on the delivery thread).</param>
/// <param name="Fin">Ends <paramref name="Target"/>'s incoming data.</param>
internal readonly record struct LinkSegment(
    LinkStream? Target,
    byte[]? Buffer,
    int Length,
    long Admitted,
    long Start,
    long End,
    long Due,
    Action? OnArrival,
    bool Fin);

/// <summary>What the link's trace keeps of a data segment: its schedule and when it was really delivered (Stopwatch ticks).</summary>
internal readonly record struct LinkRecord(int Bytes, long Admitted, long Start, long End, long Due, long Delivered);
