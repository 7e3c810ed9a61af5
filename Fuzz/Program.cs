using System.Globalization;

namespace TcpChan.Fuzz;

/// <summary>The command line (Program.cs); also the entry point the coverage load context calls.</summary>
public static class Cli
{
    public static int Main(string[] args)
    {
        if (args.Contains("--afl"))
        {
            return AflHarness.Run(strict: args.Contains("--strict"));
        }

        if (args.Contains("--coverage"))
        {
            return Coverage.RunInstrumented(args.Where(a => a != "--coverage").ToArray(), Console.Out);
        }

        return Run(args);
    }

    // dotnet run -c Release --project Fuzz -- --seconds N [--seed S] [--inputs N] [--replay FILE|DIR] [--minimize FILE] [--failures DIR] [--coverage] [--afl-seeds DIR [--pairs N]]
    public static int Run(string[] args)
    {
        Coverage.Attach();
double? seconds = null;
long? inputs = null;
int seed = Environment.TickCount & 0x7FFF_FFFF;
string? replay = null;
string? minimize = null;
string? failures = null;
double hangSeconds = 2;
bool strict = false;
bool yamux = false;
long? capture = null;
string? aflSeeds = null;
int pairs = 60;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--seconds":
            seconds = double.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--inputs":
            inputs = long.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--seed":
            seed = int.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--replay":
            replay = Next();
            break;
        case "--minimize":
            minimize = Next();
            break;
        case "--failures":
            failures = Next();
            break;
        case "--input":
            capture = long.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--afl-seeds":
            aflSeeds = Next();
            break;
        case "--pairs":
            pairs = int.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--strict":
            strict = true;
            break;
        case "--yamux":
            yamux = true;
            break;
        case "--hang-seconds":
            hangSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "-h" or "--help":
            Console.WriteLine("usage: TcpChan.Fuzz --seconds N [--seed S] [--inputs N] [--failures DIR] [--hang-seconds S] [--strict] [--yamux] [--coverage]\n       TcpChan.Fuzz --seed S --input I   (writes input I of seed S to the failures folder)\n       TcpChan.Fuzz --replay FILE|DIR\n       TcpChan.Fuzz --minimize FILE   (writes FILE.min.json)\n       TcpChan.Fuzz --afl-seeds DIR [--seed S] [--pairs N]   (AFL++ seed files from the generator)\n       TcpChan.Fuzz --afl [--strict]   (the AFL++ harness: Fuzz/afl.sh runs it)\n  FILE is a saved .json case or an AFL++ input (e.g. findings/default/crashes/id:...).");
            return 0;
        default:
            Console.Error.WriteLine($"Unknown argument {args[i]}; try --help.");
            return 2;
    }
}

if (replay is not null)
{
    int failed = FuzzEngine.Replay(replay, Console.Out);
    Console.WriteLine(failed == 0 ? "replay: no failure" : $"replay: {failed} failing input(s)");
    if (Coverage.Enabled)
    {
        WriteCoverageReport(failures ?? DefaultFailureDirectory(), "coverage-replay.txt");
    }

    return failed == 0 ? 0 : 1;
}

if (aflSeeds is not null)
{
    int written = AflHarness.WriteSeeds(aflSeeds, seed, pairs, failures ?? DefaultFailureDirectory(), Console.Out);
    Console.WriteLine($"{written} AFL++ seed files of seed {seed} written to {aflSeeds}");
    return 0;
}

if (minimize is not null)
{
    var fuzzCase = FuzzCase.Load(minimize);
    var first = CaseRunner.Run(fuzzCase).Failures.FirstOrDefault();
    if (first is null)
    {
        Console.WriteLine($"{minimize} does not fail; nothing to minimize.");
        return 0;
    }

    var smaller = Minimizer.Minimize(fuzzCase, first.Key, TimeSpan.FromSeconds(60));
    smaller.Failure = first.ToString();
    string output = Path.ChangeExtension(minimize, ".min.json");
    File.WriteAllText(output, smaller.ToJson());
    Console.WriteLine($"{first.Key}: {fuzzCase.Steps.Count} steps / {fuzzCase.FeedBytes} bytes -> {smaller.Steps.Count} steps / {smaller.FeedBytes} bytes; written to {output}");
    return 1;
}

if (seconds is null && inputs is null)
{
    seconds = 60;
}

var settings = new FuzzSettings
{
    Seed = seed,
    Seconds = seconds,
    MaxInputs = inputs,
    FailureDirectory = failures ?? DefaultFailureDirectory(),
    HangSeconds = hangSeconds,
    ExitOnHang = true,
    Strict = strict,
    YamuxOnly = yamux,
    CaptureIndex = capture,
    Out = capture is null ? Console.Out : TextWriter.Null,
};
var summary = FuzzEngine.Run(settings);
if (capture is not null)
{
    if (summary.Captured is null)
    {
        Console.WriteLine($"Input {capture} was not reached.");
        return 2;
    }

    Directory.CreateDirectory(settings.FailureDirectory);
    string file = Path.Combine(settings.FailureDirectory, $"input-seed{seed}-{capture}.json");
    File.WriteAllText(file, summary.Captured.ToJson());
    Console.WriteLine($"Input {capture} of seed {seed} written to {file}; replay it with --replay {file}");
    return 0;
}

Console.WriteLine($"done: {summary}");
if (Coverage.Enabled)
{
    WriteCoverageReport(settings.FailureDirectory, $"coverage-seed{seed}.txt");
}

string coverageFlag = Coverage.Enabled ? "--coverage " : string.Empty;
Console.WriteLine($"replay: dotnet run -c Release --project Fuzz -- {coverageFlag}--seed {seed} --inputs {summary.Inputs} reproduces this run; --replay {settings.FailureDirectory} replays the saved failures");
return summary.Passed ? 0 : 1;

    }

    private static void WriteCoverageReport(string directory, string name)
    {
        string report = Path.Combine(directory, name);
        Directory.CreateDirectory(directory);
        using (var writer = File.CreateText(report))
        {
            Coverage.WriteReport(writer);
        }

        Console.WriteLine($"coverage: blocks never run are listed in {report}");
    }

// Fuzz/failures of the repository (found from the working folder or the binary), else ./failures.
    private static string DefaultFailureDirectory()
{
    foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TcpChan.sln")))
            {
                return Path.Combine(dir.FullName, "Fuzz", "failures");
            }
        }
    }

    return Path.GetFullPath("failures");
}
}
