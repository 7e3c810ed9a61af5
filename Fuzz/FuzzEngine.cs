using System.Diagnostics;
using System.Globalization;

namespace TcpChan.Fuzz;

/// <summary>How a fuzzing run goes.</summary>
public sealed class FuzzSettings
{
    public int Seed { get; set; } = 1;

    /// <summary>Stop after this long (wall clock), if set.</summary>
    public double? Seconds { get; set; }

    /// <summary>Stop after this many inputs, if set.</summary>
    public long? MaxInputs { get; set; }

    /// <summary>Where failing inputs are saved; null: not saved.</summary>
    public string? FailureDirectory { get; set; }

    public TextWriter Out { get; set; } = TextWriter.Null;

    public double ProgressSeconds { get; set; } = 5;

    /// <summary>An input that runs longer than this is a hang.</summary>
    public double HangSeconds { get; set; } = 2;

    /// <summary>On a hang, save the input and end the process (the stuck call cannot be stopped). Off for in-process use.</summary>
    public bool ExitOnHang { get; set; }

    /// <summary>Shrink a failing input before saving it.</summary>
    public bool Minimize { get; set; } = true;

    /// <summary>When set, run inputs 0..N-1, then save input N (see <see cref="FuzzSummary.Captured"/>) instead of running it, and stop.</summary>
    public long? CaptureIndex { get; set; }

    /// <summary>Count failures that match a known core bug (<see cref="KnownIssues"/>) as failures too.</summary>
    public bool Strict { get; set; }

    /// <summary>Every input speaks yamux (a fifth do otherwise).</summary>
    public bool YamuxOnly { get; set; }
}

/// <summary>The figures of a run.</summary>
public sealed class FuzzSummary
{
    public long Inputs { get; set; }

    public double Seconds { get; set; }

    public long Pairs { get; set; }

    public int DistinctOutcomes { get; set; }

    public int Features { get; set; }

    /// <summary>With --coverage: distinct edges of the instrumented core seen.</summary>
    public int Edges { get; set; }

    public int BlocksHit { get; set; }

    public int BlocksTotal { get; set; }

    public int CorpusSize { get; set; }

    public long FailedInputs { get; set; }

    public long Hangs { get; set; }

    /// <summary>Inputs whose only failures are known core bugs, by issue id.</summary>
    public SortedDictionary<string, long> KnownHits { get; } = new(StringComparer.Ordinal);

    /// <summary>True when nothing new failed (known core bugs aside).</summary>
    public bool Passed => FailedInputs == 0 && Hangs == 0;

    /// <summary>Each distinct failure key with its first failure and, if saved, the file.</summary>
    public Dictionary<string, (FuzzFailure Failure, string? File, FuzzCase Case)> DistinctFailures { get; } = new();

    public double InputsPerSecond => Seconds > 0 ? Inputs / Seconds : 0;

    /// <summary>The longest time one input took, and which.</summary>
    public double SlowestMs { get; set; }

    public string SlowestOrigin { get; set; } = string.Empty;

    /// <summary>The input captured with <see cref="FuzzSettings.CaptureIndex"/>.</summary>
    public FuzzCase? Captured { get; set; }

    public override string ToString()
    {
        var text = string.Create(
            CultureInfo.InvariantCulture,
            $"inputs {Inputs:N0} in {Seconds:F1} s ({InputsPerSecond:N0}/s), pairs {Pairs:N0}, distinct outcomes {DistinctOutcomes}, features {Features}{(Edges > 0 ? $" ({Edges} coverage edges, {BlocksHit} of {BlocksTotal} basic blocks)" : string.Empty)}, corpus {CorpusSize}, failures {FailedInputs} ({DistinctFailures.Count} distinct, {Hangs} hangs); slowest input {SlowestMs:F0} ms ({SlowestOrigin})");
        foreach (var (id, hits) in KnownHits)
        {
            text += $"\n  known core bug {id}: hit by {hits} inputs";
        }

        foreach (var (key, value) in DistinctFailures)
        {
            text += $"\n  FAILURE {key}: {FirstLine(value.Failure.Detail)}{(value.File is null ? string.Empty : "\n    saved: " + value.File)}";
        }

        return text;
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOf('\n', StringComparison.Ordinal);
        return i < 0 ? s : s[..i];
    }
}

/// <summary>
/// The fuzzing loop. Input <c>i</c> of seed <c>s</c> is made from <c>new Random(Mix(s, i))</c>
/// and the corpus built by inputs 0..i-1 (single-threaded, so a run is reproducible); every
/// failing input is saved whole, so it replays without the run.
/// </summary>
public sealed class FuzzEngine
{
    private const int MaxCorpus = 4000;
    private const int MaxSeedPool = 2000;
    private const int SavedPerKey = 2;

    private readonly FuzzSettings _settings;
    private readonly List<Structured> _corpus = new();
    private readonly List<Structured> _seedPool = new();
    private readonly List<Structured> _golden;
    private readonly HashSet<string> _features = new();
    private readonly HashSet<string> _outcomes = new();
    private readonly HashSet<string> _edges = new();
    private readonly Dictionary<string, int> _savedByKey = new();
    private readonly FuzzSummary _summary = new();
    private readonly object _watchLock = new();
    private FuzzCase? _current;
    private long _currentIndex;
    private long _currentStart;
    private bool _hangReported;

    public FuzzEngine(FuzzSettings settings)
    {
        _settings = settings;
        _golden = Generators.GoldenSeeds().Where(s => !settings.YamuxOnly || s.Side.Yamux).Select(Structured.FromCase).ToList();
    }

    public static FuzzSummary Run(FuzzSettings settings) => new FuzzEngine(settings).Run();

    /// <summary>Every feature seen so far (for --dump-features).</summary>
    public IReadOnlyCollection<string> SeenFeatures => _features;

    public static ulong Mix(int seed, long index)
    {
        ulong x = ((ulong)(uint)seed << 32) ^ (ulong)index ^ 0x9E3779B97F4A7C15UL;
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return x;
    }

    public FuzzSummary Run()
    {
        var clock = Stopwatch.StartNew();
        var watchdog = new Thread(Watch) { IsBackground = true, Name = "fuzz watchdog" };
        bool running = true;
        watchdog.Start(new Func<bool>(() => Volatile.Read(ref running)));
        double nextProgress = _settings.ProgressSeconds;
        long index = 0;
        _settings.Out.WriteLine($"tcpchan fuzz: seed {_settings.Seed}, {(_settings.Seconds is { } s ? s + " s" : string.Empty)}{(_settings.MaxInputs is { } m ? " " + m + " inputs" : string.Empty)}");
        try
        {
            while (_summary.Captured is null && (_settings.MaxInputs is not { } max || index < max) && (_settings.Seconds is not { } seconds || clock.Elapsed.TotalSeconds < seconds))
            {
                RunOne(index++);
                if (clock.Elapsed.TotalSeconds >= nextProgress)
                {
                    nextProgress += _settings.ProgressSeconds;
                    Fill(clock);
                    _settings.Out.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F0}s] {Progress()}");
                }
            }
        }
        finally
        {
            Volatile.Write(ref running, false);
        }

        Fill(clock);
        return _summary;
    }

    private string Progress() => string.Create(
        CultureInfo.InvariantCulture,
        $"inputs {_summary.Inputs:N0} ({_summary.InputsPerSecond:N0}/s) pairs {_summary.Pairs:N0} outcomes {_outcomes.Count} features {_features.Count}{(_edges.Count > 0 ? $" edges {_edges.Count}" : string.Empty)} corpus {_corpus.Count} failures {_summary.FailedInputs} known-bug hits {_summary.KnownHits.Values.Sum()}");

    private void Fill(Stopwatch clock)
    {
        _summary.Seconds = clock.Elapsed.TotalSeconds;
        _summary.DistinctOutcomes = _outcomes.Count;
        _summary.Features = _features.Count;
        _summary.Edges = _edges.Count;
        (_summary.BlocksHit, _summary.BlocksTotal) = Coverage.Blocks;
        _summary.CorpusSize = _corpus.Count;
    }

    private void RunOne(long index)
    {
        var r = new Random((int)(Mix(_settings.Seed, index) & 0x7FFF_FFFF));
        string origin = $"seed {_settings.Seed} index {index}";
        FuzzCase fuzzCase;
        int roll = r.Next(100);
        if (roll < 8 || _seedPool.Count == 0)
        {
            fuzzCase = Generators.RandomPair(r, origin + " pair", _settings.YamuxOnly);
        }
        else if (roll < 13)
        {
            fuzzCase = RandomBytes(r, _settings.YamuxOnly).ToCase(r, origin + " random");
        }
        else if (roll < 15)
        {
            fuzzCase = Generators.Pick(r, _golden).ToCase(r, origin + " golden");
        }
        else
        {
            var pool = _corpus.Count > 0 && r.Next(10) < 6 ? _corpus : _seedPool;
            var baseInput = Generators.Pick(r, pool);
            var other = r.Next(3) == 0 ? Generators.Pick(r, r.Next(2) == 0 || _corpus.Count == 0 ? _seedPool : _corpus) : null;
            var applied = new List<string>();
            Structured mutated;
            if (r.Next(40) == 0)
            {
                // The same conversation to a fresh connection of another role or version.
                mutated = baseInput.Clone();
                if (r.Next(2) == 0)
                {
                    mutated.Config.Client = !mutated.Config.Client;
                }
                else
                {
                    mutated.Config.MaxVersion ^= 1;
                }

                applied.Add("role-or-version");
            }
            else if (r.Next(50) == 0)
            {
                mutated = baseInput;
                applied.Add("unmutated");
            }
            else
            {
                mutated = Mutator.Mutate(baseInput, other, r, applied);
            }

            mutated.Config.Yamux |= _settings.YamuxOnly;

            fuzzCase = mutated.ToCase(r, $"{origin} mutated ({string.Join(",", applied)}) from {baseInput.Origin}");
        }

        Execute(fuzzCase, index);
    }

    /// <summary>Random bytes, usually after a valid handshake, with random actions between them.</summary>
    public static Structured RandomBytes(Random r, bool yamuxOnly = false)
    {
        var config = Generators.RandomConfig(r, client: r.Next(2) == 0, faults: r.Next(2) == 0, yamuxOnly);
        var s = new Structured { Config = config, Origin = "random" };
        if (r.Next(10) < 7)
        {
            foreach (var frame in Generators.HandshakePrefix(config, (byte)r.Next(2)))
            {
                s.Items.Add(new Item { Bytes = frame });
            }
        }

        int parts = r.Next(1, 8);
        for (int i = 0; i < parts; i++)
        {
            switch (r.Next(3))
            {
                case 0:
                    var junk = new byte[r.Next(1, r.Next(4) == 0 ? 2000 : 60)];
                    r.NextBytes(junk);
                    s.Items.Add(new Item { Bytes = junk });
                    break;
                case 1:
                    s.Items.Add(new Item { Bytes = config.Yamux ? YamuxFrames.RandomFrame(r, [1, 2, 3, 4]) : Generators.RandomFrame(r, (byte)config.MaxVersion, [1, 2, 3, 4]) });
                    break;
                default:
                    s.Items.Add(new Item { Act = Generators.RandomAct(r, config.Faults) });
                    break;
            }
        }

        return s;
    }

    private void Execute(FuzzCase fuzzCase, long index)
    {
        if (index == _settings.CaptureIndex)
        {
            _summary.Captured = fuzzCase;
            return;
        }

        lock (_watchLock)
        {
            _current = fuzzCase;
            _currentIndex = index;
            _currentStart = Stopwatch.GetTimestamp();
            _hangReported = false;
        }

        Coverage.Reset();
        var result = CaseRunner.Run(fuzzCase, record: fuzzCase.Kind == "pair");
        if (Coverage.Enabled)
        {
            Coverage.Collect(result.Features);
        }

        double ms;
        lock (_watchLock)
        {
            _current = null;
            ms = Stopwatch.GetElapsedTime(_currentStart).TotalMilliseconds;
        }

        if (ms > _summary.SlowestMs)
        {
            _summary.SlowestMs = ms;
            _summary.SlowestOrigin = fuzzCase.Origin.Length > 80 ? fuzzCase.Origin[..80] + "..." : fuzzCase.Origin;
        }

        _summary.Inputs++;
        if (fuzzCase.Kind == "pair")
        {
            _summary.Pairs++;
            foreach (var recording in result.Recordings)
            {
                var structured = Structured.FromCase(recording);
                if (_seedPool.Count < MaxSeedPool)
                {
                    _seedPool.Add(structured);
                }
                else
                {
                    _seedPool[(int)(index % MaxSeedPool)] = structured;
                }
            }
        }

        if (result.Outcome.Length > 0)
        {
            _outcomes.Add(result.Outcome);
        }

        bool fresh = false;
        foreach (var feature in result.Features)
        {
            if (_features.Add(feature))
            {
                fresh = true;
                if (feature.StartsWith("edge:", StringComparison.Ordinal))
                {
                    _edges.Add(feature[..feature.LastIndexOf(':')]);
                }
            }
        }

        if (fresh && fuzzCase.Kind == "single" && !result.Failed)
        {
            var structured = Structured.FromCase(fuzzCase);
            if (_corpus.Count < MaxCorpus)
            {
                _corpus.Add(structured);
            }
            else
            {
                _corpus[(int)(index % MaxCorpus)] = structured;
            }
        }

        if (result.Failed)
        {
            var known = _settings.Strict ? null : KnownIssues.Classify(result.Failures);
            if (known is null)
            {
                ReportFailure(fuzzCase, result.Failures[0], hang: false);
            }
            else if (_summary.KnownHits.TryAdd(known.Id, 1))
            {
                _settings.Out.WriteLine($"known core bug {known.Id} ({fuzzCase.Origin}): {known.Summary}");
            }
            else
            {
                _summary.KnownHits[known.Id]++;
            }
        }
    }

    private void ReportFailure(FuzzCase fuzzCase, FuzzFailure failure, bool hang)
    {
        _summary.FailedInputs++;
        int saved = _savedByKey.GetValueOrDefault(failure.Key);
        _savedByKey[failure.Key] = saved + 1;
        if (saved >= SavedPerKey)
        {
            return;
        }

        var toSave = fuzzCase;
        if (!hang && _settings.Minimize)
        {
            toSave = Minimizer.Minimize(fuzzCase, failure.Key, TimeSpan.FromSeconds(5));
        }

        toSave.Failure = failure.ToString();
        string? file = Save(toSave, failure.Key);
        _summary.DistinctFailures.TryAdd(failure.Key, (failure, file, toSave));
        _settings.Out.WriteLine($"FAILURE {failure.Key} ({fuzzCase.Origin}){(file is null ? string.Empty : " saved to " + file)}\n  {failure.Detail.Replace("\n", "\n  ", StringComparison.Ordinal)}");
    }

    private string? Save(FuzzCase fuzzCase, string key)
    {
        if (_settings.FailureDirectory is not { } dir)
        {
            return null;
        }

        Directory.CreateDirectory(dir);
        string safe = new(key.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '_').ToArray());
        string path = Path.Combine(dir, $"{safe}-seed{_settings.Seed}-{DateTime.UtcNow:yyyyMMddHHmmssfff}.json");
        File.WriteAllText(path, fuzzCase.ToJson());
        return path;
    }

    /// <summary>The watchdog: flags an input that runs longer than the hang limit.</summary>
    private void Watch(object? state)
    {
        var running = (Func<bool>)state!;
        while (running())
        {
            Thread.Sleep(100);
            FuzzCase? stuck = null;
            long index = 0;
            lock (_watchLock)
            {
                if (_current is not null && !_hangReported && Stopwatch.GetElapsedTime(_currentStart).TotalSeconds > _settings.HangSeconds)
                {
                    _hangReported = true;
                    stuck = _current;
                    index = _currentIndex;
                }
            }

            if (stuck is null)
            {
                continue;
            }

            var failure = new FuzzFailure("hang", $"Input {index} ran longer than {_settings.HangSeconds} s.");
            lock (_summary)
            {
                _summary.Hangs++;
            }

            var copy = stuck.Clone();
            copy.Failure = failure.ToString();
            string? file = Save(copy, "hang");
            _settings.Out.WriteLine($"FAILURE hang: input {index} ({stuck.Origin}) has run over {_settings.HangSeconds} s{(file is null ? string.Empty : "; saved to " + file)}");
            if (_settings.ExitOnHang)
            {
                _settings.Out.Flush();
                Environment.Exit(1);
            }
        }
    }

    /// <summary>
    /// Replays saved cases (a file, or every case in a folder: .json files, and AFL++ inputs such
    /// as its queue/ or crashes/); prints each; returns how many failed. With the instrumented
    /// core (--coverage) it ends with the edges and blocks the cases reached together.
    /// </summary>
    public static int Replay(string path, TextWriter output)
    {
        var files = Directory.Exists(path) ? Directory.GetFiles(path).Where(FuzzCase.IsCaseFile).OrderBy(f => f, StringComparer.Ordinal).ToArray() : [path];
        int failed = 0;
        var edges = new HashSet<string>();
        foreach (var file in files)
        {
            var fuzzCase = FuzzCase.Load(file);
            var clock = Stopwatch.StartNew();
            Coverage.Reset();
            var result = CaseRunner.Run(fuzzCase, record: fuzzCase.Kind == "pair");
            Coverage.Collect(edges);
            output.WriteLine($"{file}: {fuzzCase.Kind}, {fuzzCase.Steps.Count} steps, {fuzzCase.FeedBytes} bytes fed, {clock.Elapsed.TotalMilliseconds:F0} ms; outcome {result.Outcome}");
            if (fuzzCase.Failure is not null)
            {
                output.WriteLine($"  saved with: {fuzzCase.Failure.Split('\n')[0]}");
            }

            if (result.Failed)
            {
                failed++;
                foreach (var failure in result.Failures)
                {
                    output.WriteLine($"  FAILURE {failure.Key}: {failure.Detail.Replace("\n", "\n    ", StringComparison.Ordinal)}");
                }

                if (KnownIssues.Classify(result.Failures) is { } known)
                {
                    output.WriteLine($"  (known core bug {known.Id}: {known.Summary})");
                }
            }
            else
            {
                output.WriteLine("  passes");
            }
        }

        if (Coverage.Enabled)
        {
            var (hit, total) = Coverage.Blocks;
            int distinct = edges.Select(e => e[..e.LastIndexOf(':')]).Distinct(StringComparer.Ordinal).Count();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"coverage of {files.Length} cases: {distinct} edges, {hit} of {total} basic blocks of TcpChan.Core"));
        }

        return failed;
    }
}
