using System.Buffers.Binary;
using TcpChan.Core.Frames;

namespace TcpChan.Fuzz;

/// <summary>One element of a structured input: a frame (or any bytes) to feed, or a local action or time step.</summary>
public sealed class Item
{
    public byte[]? Bytes { get; set; }

    public Step? Act { get; set; }

    public Item Clone() => new() { Bytes = Bytes?.ToArray(), Act = Act?.Clone() };
}

/// <summary>A single-connection input as frames and actions, before it is cut into DataReceived calls.</summary>
public sealed class Structured
{
    public SideConfig Config { get; set; } = new();

    public List<Item> Items { get; set; } = new();

    public string Origin { get; set; } = string.Empty;

    public Structured Clone() => new() { Config = Config.Clone(), Items = Items.Select(i => i.Clone()).ToList(), Origin = Origin };

    /// <summary>Splits a single case's fed bytes into frames (and leftover bytes), keeping actions in place.</summary>
    public static Structured FromCase(FuzzCase fuzzCase)
    {
        var s = new Structured { Config = fuzzCase.Side.Clone(), Origin = fuzzCase.Origin };
        var pending = new List<byte>();
        foreach (var step in fuzzCase.Steps)
        {
            if (step.Op == "feed")
            {
                pending.AddRange(step.Bytes);
                continue;
            }

            s.AddFrames(pending);
            pending.Clear();
            if (step.Op is not ("pump" or "settle"))
            {
                s.Items.Add(new Item { Act = step.Clone() });
            }
        }

        s.AddFrames(pending);
        return s;
    }

    private void AddFrames(List<byte> bytes)
    {
        var all = bytes.ToArray().AsSpan();
        while (!all.IsEmpty)
        {
            int length = Config.Yamux ? YamuxFrames.FrameLength(all) : FrameLength(all);
            Items.Add(new Item { Bytes = all.Slice(0, length).ToArray() });
            all = all.Slice(length);
        }
    }

    /// <summary>The length of the frame at the start of <paramref name="data"/>, or all of it when it is no whole frame.</summary>
    public static int FrameLength(ReadOnlySpan<byte> data)
    {
        var status = FrameHeader.TryRead(data, out var header);
        if (status != FrameReadStatus.Complete)
        {
            return data.Length;
        }

        return (int)Math.Min(data.Length, (long)header.Length + header.PayloadLength);
    }

    /// <summary>Cuts the frames into DataReceived calls in one of several ways.</summary>
    public FuzzCase ToCase(Random r, string origin)
    {
        int mode = r.Next(6);
        var steps = new List<Step>();
        var run = new List<byte[]>();
        int total = Items.Sum(i => i.Bytes?.Length ?? 0);
        if (mode == 1 && total > 8192)
        {
            mode = 2;
        }

        if (mode == 2 && total > 32_768)
        {
            mode = 5;
        }

        if (Items.Count > 2000 && mode != 5)
        {
            mode = 0; // a long recording: keep the number of calls bounded
        }

        void Flush()
        {
            if (run.Count == 0)
            {
                return;
            }

            var joined = run.SelectMany(b => b).ToArray();
            switch (mode)
            {
                case 0: // whole
                    steps.Add(Step.Feed(joined));
                    break;
                case 1: // one byte per call
                    foreach (byte b in joined)
                    {
                        steps.Add(Step.Feed([b]));
                    }

                    break;
                case 2 or 5: // random splits
                    int max = mode == 2 ? 64 : 4096;
                    for (int offset = 0; offset < joined.Length;)
                    {
                        int n = Math.Min(joined.Length - offset, 1 + (int)Math.Min(max, -Math.Log(1 - r.NextDouble()) * max / 4));
                        steps.Add(Step.Feed(joined.AsSpan(offset, n)));
                        offset += n;
                    }

                    break;
                case 3: // frame by frame
                    foreach (var frame in run)
                    {
                        if (frame.Length > 0)
                        {
                            steps.Add(Step.Feed(frame));
                        }
                    }

                    break;
                default: // each frame cut once, inside its header when it can be
                    foreach (var frame in run)
                    {
                        if (frame.Length < 2)
                        {
                            if (frame.Length > 0)
                            {
                                steps.Add(Step.Feed(frame));
                            }

                            continue;
                        }

                        int cut = r.Next(1, Math.Min(frame.Length, 12));
                        steps.Add(Step.Feed(frame.AsSpan(0, cut)));
                        steps.Add(Step.Feed(frame.AsSpan(cut)));
                    }

                    break;
            }

            run.Clear();
        }

        foreach (var item in Items)
        {
            if (item.Bytes is { } bytes)
            {
                run.Add(bytes);
            }
            else if (item.Act is { } act)
            {
                Flush();
                steps.Add(act.Clone());
            }
        }

        Flush();
        return new FuzzCase { Kind = "single", Origin = origin, Side = Config.Clone(), Steps = steps };
    }
}

/// <summary>Frame-aware mutations of a structured input.</summary>
public static class Mutator
{
    private const int MaxItems = 400;
    private const int MaxBytes = 600_000;

    /// <summary>Applies 1 to 8 mutations (more rarely); <paramref name="other"/> is a donor for splicing.</summary>
    public static Structured Mutate(Structured input, Structured? other, Random r, List<string> applied)
    {
        var s = input.Clone();
        int count = 1 + (int)Math.Min(15, -Math.Log(1 - r.NextDouble()) * 2);
        for (int i = 0; i < count; i++)
        {
            applied.Add(MutateOnce(s, other, r));
            Trim(s);
        }

        return s;
    }

    private static void Trim(Structured s)
    {
        if (s.Items.Count > MaxItems)
        {
            s.Items.RemoveRange(MaxItems, s.Items.Count - MaxItems);
        }

        long total = 0;
        for (int i = 0; i < s.Items.Count; i++)
        {
            total += s.Items[i].Bytes?.Length ?? 0;
            if (total > MaxBytes)
            {
                s.Items.RemoveRange(i, s.Items.Count - i);
                break;
            }
        }
    }

    private static string MutateOnce(Structured s, Structured? other, Random r)
    {
        var frames = Enumerable.Range(0, s.Items.Count).Where(i => s.Items[i].Bytes is { Length: > 0 }).ToList();
        int kind = r.Next(100);
        if (frames.Count == 0 && kind < 55)
        {
            kind = 60; // nothing to edit: insert instead
        }

        switch (kind)
        {
            case < 8:
            {
                var b = s.Items[Generators.Pick(r, frames)].Bytes!;
                int at = r.Next(b.Length);
                b[at] ^= (byte)(1 << r.Next(8));
                return "flip";
            }

            case < 14:
            {
                var b = s.Items[Generators.Pick(r, frames)].Bytes!;
                b[r.Next(b.Length)] = Generators.Pick(r, new byte[] { 0, 1, 2, 0x7F, 0x80, 0xFE, 0xFF, (byte)r.Next(256) });
                return "set-byte";
            }

            case < 40:
            {
                int index = Generators.Pick(r, frames);
                string what;
                s.Items[index].Bytes = s.Config.Yamux ? YamuxFrames.MutateField(s.Items[index].Bytes!, s, r, out what) : MutateField(s.Items[index].Bytes!, s, r, out what);
                return what;
            }

            case < 45:
            {
                int index = Generators.Pick(r, frames);
                var b = s.Items[index].Bytes!;
                s.Items[index].Bytes = b.AsSpan(0, r.Next(b.Length)).ToArray();
                return "cut";
            }

            case < 49:
            {
                var a = s.Items[Generators.Pick(r, frames)].Bytes!;
                var donors = other is not null && r.Next(2) == 0 ? other.Items.Where(i => i.Bytes is { Length: > 0 }).Select(i => i.Bytes!).ToList() : [];
                var donor = donors.Count > 0 ? Generators.Pick(r, donors) : s.Items[Generators.Pick(r, frames)].Bytes!;
                int index = Generators.Pick(r, frames);
                s.Items[index].Bytes = [.. a.AsSpan(0, r.Next(a.Length + 1)), .. donor.AsSpan(r.Next(donor.Length + 1))];
                return "splice-frames";
            }

            case < 55:
            {
                int a = r.Next(s.Items.Count);
                int b = r.Next(s.Items.Count);
                (s.Items[a], s.Items[b]) = (s.Items[b], s.Items[a]);
                return "swap";
            }

            case < 62:
            {
                if (s.Items.Count == 0)
                {
                    goto default;
                }

                int a = r.Next(s.Items.Count);
                int times = r.Next(1, r.Next(8) == 0 ? 30 : 4);
                for (int t = 0; t < times; t++)
                {
                    s.Items.Insert(a, s.Items[a].Clone());
                }

                return "repeat";
            }

            case < 70:
            {
                if (s.Items.Count == 0)
                {
                    goto default;
                }

                int a = r.Next(s.Items.Count);
                int n = r.Next(8) == 0 ? r.Next(1, s.Items.Count - a + 1) : 1;
                s.Items.RemoveRange(a, n);
                return "drop";
            }

            case < 80 when s.Config.Yamux:
                s.Items.Insert(r.Next(s.Items.Count + 1), new Item { Bytes = YamuxFrames.RandomFrame(r, YamuxFrames.Ids(s)) });
                return "insert-yamux-frame";

            case < 80:
            {
                var ids = Ids(s);
                byte version = r.Next(6) switch { 0 => 0, 1 => (byte)r.Next(256), _ => (byte)s.Config.MaxVersion };
                s.Items.Insert(r.Next(s.Items.Count + 1), new Item { Bytes = Generators.RandomFrame(r, version, ids) });
                return "insert-frame";
            }

            case < 83:
            {
                var junk = new byte[r.Next(1, 40)];
                r.NextBytes(junk);
                s.Items.Insert(r.Next(s.Items.Count + 1), new Item { Bytes = junk });
                return "insert-bytes";
            }

            case < 91:
            {
                s.Items.Insert(r.Next(s.Items.Count + 1), new Item { Act = Generators.RandomAct(r, s.Config.Faults) });
                return "insert-act";
            }

            case < 93:
            {
                var acts = Enumerable.Range(0, s.Items.Count).Where(i => s.Items[i].Act is not null).ToList();
                if (acts.Count == 0)
                {
                    goto default;
                }

                var act = s.Items[Generators.Pick(r, acts)].Act!;
                act.Ch = r.Next(16);
                act.N = act.Op == "time" ? act.N : r.Next(3) == 0 ? r.Next(-1, 2) : r.Next(0, 70_000);
                act.Ms = act.Op == "time" ? Generators.RandomMs(r) : null;
                return "edit-act";
            }

            case < 96 when other is not null && other.Items.Count > 0:
            {
                int from = r.Next(other.Items.Count);
                int n = r.Next(1, Math.Min(20, other.Items.Count - from) + 1);
                s.Items.InsertRange(r.Next(s.Items.Count + 1), other.Items.Skip(from).Take(n).Select(i => i.Clone()));
                return "crossover";
            }

            case < 99:
                MutateConfig(s.Config, r);
                return "config";

            default:
            {
                var junk = new byte[r.Next(1, 400)];
                r.NextBytes(junk);
                s.Items.Add(new Item { Bytes = junk });
                return "append-bytes";
            }
        }
    }

    /// <summary>Changes one field of a frame, knowing its layout.</summary>
    private static byte[] MutateField(byte[] frame, Structured s, Random r, out string what)
    {
        if (frame.Length < 2)
        {
            what = "field-short";
            return [.. frame, (byte)r.Next(256)];
        }

        var b = frame.ToArray();
        byte version = b[0];
        var op = (FrameType)b[1];
        int pick = r.Next(10);
        if (pick == 0)
        {
            what = "field-version";
            b[0] = Generators.Pick(r, new byte[] { 0, 1, 2, 0xFF, (byte)r.Next(256) });
            return b;
        }

        if (pick == 1)
        {
            what = "field-op";
            b[1] = (byte)(r.Next(4) == 0 ? r.Next(256) : r.Next(0, 12));
            return b;
        }

        switch (op)
        {
            case FrameType.ChannelPayload when b.Length >= 8 && r.Next(2) == 0:
            {
                int old = BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(6));
                int length = r.Next(8) switch
                {
                    0 => 0,
                    1 => old + 1,
                    2 => Math.Max(0, old - 1),
                    3 => s.Config.MaxFrame + r.Next(-1, 2),
                    4 => s.Config.Window + r.Next(-1, 2),
                    5 => 65_535,
                    _ => r.Next(65_536),
                };
                length = Math.Clamp(length, 0, 65_535);
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), (ushort)length);
                if (r.Next(2) == 0)
                {
                    // Keep the frame whole at its new length.
                    var resized = new byte[8 + length];
                    b.AsSpan(0, Math.Min(b.Length, resized.Length)).CopyTo(resized);
                    what = "field-payload-length-resized";
                    return resized;
                }

                what = "field-payload-length";
                return b;
            }

            case FrameType.CreateChannel when version != 0 && b.Length >= 7 && r.Next(3) == 0:
                what = "field-label-length";
                b[6] = Generators.Pick(r, new byte[] { 0, 1, 255, (byte)(b[6] + 1), (byte)(b[6] - 1) });
                return b;
            case FrameType.Settings when b.Length >= 3:
                if (r.Next(3) == 0)
                {
                    what = "field-settings-count";
                    b[2] = (byte)r.Next(0, r.Next(4) == 0 ? 256 : 6);
                    return b;
                }

                int entries = (b.Length - 3) / 5;
                if (entries > 0)
                {
                    int e = r.Next(entries);
                    if (r.Next(3) == 0)
                    {
                        what = "field-settings-id";
                        b[3 + (e * 5)] = (byte)(r.Next(4) == 0 ? r.Next(256) : r.Next(0, 6));
                    }
                    else
                    {
                        what = "field-settings-value";
                        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4 + (e * 5)), InterestingValue(r, s));
                    }

                    return b;
                }

                break;
            case FrameType.Ping when b.Length >= 11:
                if (r.Next(2) == 0)
                {
                    what = "field-ping-flags";
                    b[2] = (byte)(r.Next(3) == 0 ? r.Next(256) : b[2] ^ 1);
                }
                else
                {
                    what = "field-ping-opaque";
                    BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(3), r.Next(2) == 0 ? 0x7463_0000_0000_0001UL + (ulong)r.Next(3) : (ulong)r.NextInt64());
                }

                return b;
            case FrameType.WindowUpdate or FrameType.ResetChannel or FrameType.GoAway when b.Length >= 10 && r.Next(2) == 0:
                what = "field-argument";
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(6), InterestingValue(r, s));
                return b;
        }

        if (b.Length >= 6)
        {
            what = "field-id";
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(2), NewId(r, BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(2)), 1, Ids(s)));
            return b;
        }

        what = "field-byte";
        b[r.Next(b.Length)] = (byte)r.Next(256);
        return b;
    }

    /// <summary>A mutated id: the next or previous (by <paramref name="step"/>), the other parity, a known id, or an interesting value.</summary>
    public static uint NewId(Random r, uint old, uint step, IReadOnlyList<uint> ids) => r.Next(6) switch
    {
        0 => old + step,
        1 => old - step,
        2 => old ^ 1,
        3 when ids.Count > 0 => Generators.Pick(r, ids),
        _ => Generators.Pick(r, Generators.InterestingU32),
    };

    private static uint InterestingValue(Random r, Structured s) => r.Next(5) switch
    {
        0 => (uint)(s.Config.Window + r.Next(-1, 2)),
        1 => (uint)(s.Config.Budget + r.Next(-1, 2)),
        2 => (uint)r.Next(),
        _ => Generators.Pick(r, Generators.InterestingU32),
    };

    private static void MutateConfig(SideConfig c, Random r)
    {
        if (r.Next(16) == 0)
        {
            // The same bytes to the other protocol: the one decides how the other's frames read.
            c.Yamux = !c.Yamux;
            return;
        }

        switch (r.Next(8))
        {
            case 0:
                c.MaxVersion ^= 1;
                break;
            case 1:
                c.Window = Generators.Pick(r, new[] { 1, 100, 1024, 65_535 });
                c.Budget = Math.Max(c.Window, c.Budget / 4);
                break;
            case 2:
                c.Budget = c.Window;
                break;
            case 3:
                c.MaxFrame = Generators.Pick(r, new[] { 1024, 1025, 65_535 });
                break;
            case 4:
                c.MaxChannels = r.Next(3);
                break;
            case 5:
                c.Consume = Generators.Pick(r, new[] { "auto", "manual", "mixed" });
                break;
            case 6:
                c.Faults = !c.Faults;
                break;
            default:
                c.KeepAliveIntervalMs = r.Next(2) == 0 ? null : r.Next(0, 2000);
                c.KeepAliveTimeoutMs = r.Next(1, 5000);
                c.HandshakeTimeoutMs = r.Next(2) == 0 ? null : r.Next(0, 2000);
                break;
        }
    }

    /// <summary>Channel ids the input's frames name, for id mutations.</summary>
    private static List<uint> Ids(Structured s) =>
        Ids(s, b => b.Length >= 6 && b[1] is >= 3 and <= 7 ? BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(2)) : null);

    /// <summary>The ids <paramref name="idOf"/> finds in the input's frames (null: the frame names none), at most 33.</summary>
    public static List<uint> Ids(Structured s, Func<byte[], uint?> idOf)
    {
        var ids = new HashSet<uint>();
        foreach (var item in s.Items)
        {
            if (item.Bytes is { } b && idOf(b) is { } id)
            {
                ids.Add(id);
            }

            if (ids.Count > 32)
            {
                break;
            }
        }

        return ids.ToList();
    }
}
