using System.Buffers;
using System.Diagnostics;

namespace TcpChan.Bench.Link;

/// <summary>
/// One direction of an <see cref="EmulatedLink"/>: a FIFO bottleneck shared by every connection
/// on the link. A write is admitted while the bottleneck holds less than its buffer; each segment
/// is serialized at the link's rate after the one before it (its schedule is computed when it is
/// admitted, from the Stopwatch), and arrives one delay after its last byte left. A dedicated
/// thread delivers each segment when it is due (<see cref="PreciseSleep"/>), never earlier.
/// Nothing is lost or reordered.
/// </summary>
internal sealed class LinkDirection : IDisposable
{
    private readonly LinkOptions _options;
    private readonly long _delayTicks;
    private readonly long _bufferTicks;
    private readonly ArrayPool<byte> _pool;
    private readonly object _gate = new();
    private readonly Queue<LinkSegment> _queue = new();
    private readonly List<LinkRecord>? _trace;
    private readonly Thread _thread;
    private long _linkFreeAt;
    private volatile bool _disposed;

    // Accounting, under _gate (admission side) or owned by the delivery thread (lateness).
    private long _bytes;
    private long _segments;
    private long _busyTicks;
    private long _firstStart = -1;
    private long _lastEnd;
    private long _delivered;
    private long _lateSumTicks;
    private long _lateMaxTicks;

    public LinkDirection(string name, LinkOptions options, ArrayPool<byte> pool)
    {
        Name = name;
        _options = options;
        _delayTicks = options.DelayTicks;
        _bufferTicks = options.SerializationTicks(options.EffectiveBufferBytes);
        _pool = pool;
        _trace = options.Trace ? new List<LinkRecord>() : null;
        _thread = new Thread(DeliverLoop) { IsBackground = true, Name = $"link {name}" };
        _thread.Start();
    }

    public string Name { get; }

    /// <summary>
    /// Queues all of <paramref name="data"/> for <paramref name="target"/> if the bottleneck holds
    /// less than its buffer (a write may overshoot it by its own length), and returns 0; else
    /// queues nothing and returns how many Stopwatch ticks to wait before the buffer has room.
    /// </summary>
    /// <exception cref="IOException">The link is closed.</exception>
    public long TrySend(LinkStream target, ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            // Read under the lock, so that admission times never go backwards in the FIFO.
            long now = Stopwatch.GetTimestamp();
            ThrowIfDisposed();
            long backlog = _linkFreeAt - now;
            if (backlog >= _bufferTicks)
            {
                return backlog - _bufferTicks + 1;
            }

            bool wasEmpty = _queue.Count == 0;
            while (!data.IsEmpty)
            {
                int n = Math.Min(data.Length, _options.EffectiveSegmentBytes);
                var buffer = _pool.Rent(n);
                data[..n].CopyTo(buffer);
                data = data[n..];
                long start = Math.Max(now, _linkFreeAt);
                long end = start + _options.SerializationTicks(n);
                _queue.Enqueue(new LinkSegment(target, buffer, n, now, start, end, end + _delayTicks, null, false));
                _linkFreeAt = end;
                _bytes += n;
                _segments++;
                _busyTicks += end - start;
                _lastEnd = end;
                if (_firstStart < 0)
                {
                    _firstStart = start;
                }
            }

            if (wasEmpty)
            {
                Monitor.Pulse(_gate);
            }
        }

        return 0;
    }

    /// <summary>
    /// Queues a control packet behind everything already queued: it takes no serialization time,
    /// arrives one delay after the bytes ahead of it have left, and then runs
    /// <paramref name="onArrival"/> or ends <paramref name="fin"/>'s data. A closed link drops it.
    /// </summary>
    public void SendControl(Action? onArrival, LinkStream? fin = null)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            long now = Stopwatch.GetTimestamp();
            long end = Math.Max(now, _linkFreeAt);
            _queue.Enqueue(new LinkSegment(fin, null, 0, now, end, end, end + _delayTicks, onArrival, fin is not null));
            if (_queue.Count == 1)
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>Totals so far: bytes and segments admitted, the bottleneck's busy share, and how late deliveries were.</summary>
    public LinkDirectionStats Stats()
    {
        lock (_gate)
        {
            double f = Stopwatch.Frequency;
            long span = _lastEnd - _firstStart;
            long delivered = Interlocked.Read(ref _delivered);
            return new LinkDirectionStats(
                Name,
                _bytes,
                _segments,
                _busyTicks / f,
                span > 0 ? (double)_busyTicks / span : 0,
                _bytes > 0 && _busyTicks > 0 ? _bytes * 8.0 / (_busyTicks / f) : 0,
                delivered,
                delivered > 0 ? Interlocked.Read(ref _lateSumTicks) / f / delivered : 0,
                Interlocked.Read(ref _lateMaxTicks) / f);
        }
    }

    /// <summary>The records of every delivered data segment, in order (empty unless <see cref="LinkOptions.Trace"/>).</summary>
    public IReadOnlyList<LinkRecord> Trace()
    {
        if (_trace is null)
        {
            return [];
        }

        lock (_trace)
        {
            return _trace.ToArray();
        }
    }

    /// <summary>Stops delivering; what is still in flight is dropped.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Monitor.Pulse(_gate);
        }

        _thread.Join();
        lock (_gate)
        {
            while (_queue.TryDequeue(out var s))
            {
                if (s.Buffer is not null)
                {
                    _pool.Return(s.Buffer);
                }
            }
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new IOException($"link {Name} is closed");
        }
    }

    private void DeliverLoop()
    {
        var due = new List<LinkSegment>();
        while (true)
        {
            long head;
            lock (_gate)
            {
                while (_queue.Count == 0 && !_disposed)
                {
                    Monitor.Wait(_gate);
                }

                if (_disposed)
                {
                    return;
                }

                head = _queue.Peek().Due;
            }

            // Whatever is queued meanwhile goes behind the head and is due no earlier.
            // Wake now and then to see a dispose.
            if (!PreciseSleep.Until(head, TimeSpan.FromMilliseconds(20)))
            {
                continue;
            }

            long now = Stopwatch.GetTimestamp();
            lock (_gate)
            {
                while (_queue.TryPeek(out var s) && s.Due <= now)
                {
                    due.Add(_queue.Dequeue());
                }
            }

            foreach (var s in due)
            {
                Deliver(s);
            }

            due.Clear();
        }
    }

    private void Deliver(in LinkSegment s)
    {
        if (s.Buffer is not null)
        {
            s.Target!.Deliver(s.Buffer.AsSpan(0, s.Length));
            _pool.Return(s.Buffer);
        }
        else if (s.Fin)
        {
            s.Target!.DeliverFin();
        }

        s.OnArrival?.Invoke();
        long delivered = Stopwatch.GetTimestamp();
        long late = delivered - s.Due;
        Interlocked.Increment(ref _delivered);
        Interlocked.Add(ref _lateSumTicks, late);
        if (late > _lateMaxTicks)
        {
            Interlocked.Exchange(ref _lateMaxTicks, late);
        }

        if (_trace is not null && s.Buffer is not null)
        {
            lock (_trace)
            {
                _trace.Add(new LinkRecord(s.Length, s.Admitted, s.Start, s.End, s.Due, delivered));
            }
        }
    }
}

/// <summary>A direction's totals: what the bottleneck carried, how busy it was, how late the delivery thread was.</summary>
internal readonly record struct LinkDirectionStats(
    string Name,
    long Bytes,
    long Segments,
    double BusySeconds,
    double Utilization,
    double BitsPerBusySecond,
    long Delivered,
    double LateMeanSeconds,
    double LateMaxSeconds)
{
    public override string ToString() => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"{Name} bytes={Bytes} segments={Segments} busy_s={BusySeconds:F3} utilization={Utilization:F3} delivered={Delivered} late_mean_us={LateMeanSeconds * 1e6:F0} late_max_us={LateMaxSeconds * 1e6:F0}");
}
