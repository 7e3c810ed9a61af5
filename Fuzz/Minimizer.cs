using System.Diagnostics;

namespace TcpChan.Fuzz;

/// <summary>Shrinks a failing case while it still fails with the same key: fewer steps, fewer bytes, plainer options.</summary>
public static class Minimizer
{
    public static FuzzCase Minimize(FuzzCase fuzzCase, string key, TimeSpan budget)
    {
        var clock = Stopwatch.StartNew();
        bool Fails(FuzzCase candidate) => CaseRunner.Run(candidate).Failures.Exists(f => f.Key == key);
        bool TimeLeft() => clock.Elapsed < budget;
        var best = fuzzCase.Clone();
        if (!Fails(best))
        {
            return best; // not reproducible on its own: keep it as it was
        }

        // 1. Drop windows of steps, halving the window.
        for (int size = Math.Max(1, best.Steps.Count / 2); size >= 1 && TimeLeft(); size /= 2)
        {
            for (int start = 0; start < best.Steps.Count && TimeLeft();)
            {
                var candidate = best.Clone();
                candidate.Steps.RemoveRange(start, Math.Min(size, candidate.Steps.Count - start));
                if (Fails(candidate))
                {
                    best = candidate;
                }
                else
                {
                    start += size;
                }
            }
        }

        // 2. Join neighbouring feeds (fewer DataReceived calls).
        for (int i = 0; i + 1 < best.Steps.Count && TimeLeft();)
        {
            if (best.Steps[i].Op == "feed" && best.Steps[i + 1].Op == "feed")
            {
                var candidate = best.Clone();
                candidate.Steps[i].Hex += candidate.Steps[i + 1].Hex;
                candidate.Steps.RemoveAt(i + 1);
                if (Fails(candidate))
                {
                    best = candidate;
                    continue;
                }
            }

            i++;
        }

        // 3. Drop whole frames inside feeds, then shorten payloads.
        for (int i = 0; i < best.Steps.Count && TimeLeft(); i++)
        {
            if (best.Steps[i].Op != "feed")
            {
                continue;
            }

            var frames = Frames(best.Steps[i].Bytes, best.Side.Yamux);
            for (int f = frames.Count - 1; f >= 0 && frames.Count > 1 && TimeLeft(); f--)
            {
                var fewer = frames.Where((_, k) => k != f).ToList();
                var candidate = best.Clone();
                candidate.Steps[i] = Step.Feed(fewer.SelectMany(x => x).ToArray());
                if (Fails(candidate))
                {
                    best = candidate;
                    frames = fewer;
                }
            }

            for (int f = 0; f < frames.Count && TimeLeft(); f++)
            {
                var frame = frames[f];
                if (frame.Length <= 8 || frame[1] != 5)
                {
                    continue;
                }

                for (int length = (frame.Length - 8) / 2; length >= 0 && TimeLeft(); length = length == 0 ? -1 : length / 2)
                {
                    var shorter = frame.AsSpan(0, 8 + length).ToArray();
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(shorter.AsSpan(6), (ushort)length);
                    var changed = frames.ToList();
                    changed[f] = shorter;
                    var candidate = best.Clone();
                    candidate.Steps[i] = Step.Feed(changed.SelectMany(x => x).ToArray());
                    if (!Fails(candidate))
                    {
                        break;
                    }

                    best = candidate;
                    frames = changed;
                    frame = shorter;
                }
            }
        }

        // 4. Drop byte windows inside small feeds (junk that is no frame).
        for (int i = 0; i < best.Steps.Count && TimeLeft(); i++)
        {
            if (best.Steps[i].Op != "feed" || best.Steps[i].Bytes.Length > 512)
            {
                continue;
            }

            for (int size = Math.Max(1, best.Steps[i].Bytes.Length / 2); size >= 1 && TimeLeft(); size /= 2)
            {
                for (int start = 0; start < best.Steps[i].Bytes.Length && TimeLeft();)
                {
                    var bytes = best.Steps[i].Bytes;
                    var candidate = best.Clone();
                    var shorter = bytes.AsSpan(0, start).ToArray().Concat(bytes.AsSpan(Math.Min(bytes.Length, start + size)).ToArray()).ToArray();
                    if (shorter.Length == 0)
                    {
                        candidate.Steps.RemoveAt(i);
                    }
                    else
                    {
                        candidate.Steps[i] = Step.Feed(shorter);
                    }

                    if (Fails(candidate))
                    {
                        best = candidate;
                        if (shorter.Length == 0)
                        {
                            break;
                        }
                    }
                    else
                    {
                        start += size;
                    }
                }

                if (i >= best.Steps.Count || best.Steps[i].Op != "feed")
                {
                    break;
                }
            }
        }

        // 5. Plainer options.
        foreach (Action<SideConfig> simplify in new Action<SideConfig>[]
        {
            c => c.Faults = false,
            c => c.Consume = "auto",
            c => c.KeepAliveIntervalMs = null,
            c => c.HandshakeTimeoutMs = null,
            c => c.AutoTune = false,
        })
        {
            if (!TimeLeft())
            {
                break;
            }

            var candidate = best.Clone();
            simplify(candidate.Side);
            if (candidate.Peer is not null)
            {
                simplify(candidate.Peer);
            }

            if (Fails(candidate))
            {
                best = candidate;
            }
        }

        return best;
    }

    /// <summary>Cuts bytes into frames, TcpChan's or yamux's (the rest, if no whole frame, as one piece).</summary>
    private static List<byte[]> Frames(byte[] bytes, bool yamux)
    {
        var list = new List<byte[]>();
        var span = bytes.AsSpan();
        while (!span.IsEmpty)
        {
            int n = yamux ? YamuxFrames.FrameLength(span) : Structured.FrameLength(span);
            list.Add(span.Slice(0, n).ToArray());
            span = span.Slice(n);
        }

        return list;
    }
}
