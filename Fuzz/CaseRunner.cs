using TcpChan.Core;

namespace TcpChan.Fuzz;

/// <summary>What one input did.</summary>
public sealed class CaseResult
{
    public List<FuzzFailure> Failures { get; } = new();

    /// <summary>Coverage-like features: event kinds with reasons and codes, frame types sent, message templates, local exceptions.</summary>
    public HashSet<string> Features { get; } = new();

    /// <summary>(role, max version, version, final state, last event, error code): the "distinct outcome".</summary>
    public string Outcome { get; set; } = string.Empty;

    /// <summary>Pair only: what each side received, as replayable single cases (seeds for mutation).</summary>
    public List<FuzzCase> Recordings { get; } = new();

    public bool Failed => Failures.Count > 0;
}

/// <summary>Runs a <see cref="FuzzCase"/> and checks it.</summary>
public static class CaseRunner
{
    /// <summary>The step budget: steps of a case that run (generated cases stay well below).</summary>
    public const int MaxSteps = 20_000;

    public static CaseResult Run(FuzzCase fuzzCase, bool record = false)
    {
        var result = new CaseResult();
        if (fuzzCase.Steps.Count > MaxSteps)
        {
            // The step budget: a longer input runs only its first MaxSteps steps.
            fuzzCase = fuzzCase.Clone();
            fuzzCase.Steps.RemoveRange(MaxSteps, fuzzCase.Steps.Count - MaxSteps);
            result.Features.Add("truncated");
        }

        try
        {
            if (fuzzCase.Kind == "pair")
            {
                new PairSession(fuzzCase, result, record).Run();
            }
            else
            {
                RunSingle(fuzzCase, result);
            }
        }
        catch (Exception ex)
        {
            // Whatever escaped the harness's own guards (a harness bug, or a core exception from a property).
            result.Failures.Add(new FuzzFailure($"escape:harness:{ex.GetType().Name}", $"{ex}"));
        }

        return result;
    }

    /// <summary>Runs a single case without the step limit; returns the harness (its Log holds the events).</summary>
    public static SideHarness RunSingle(FuzzCase fuzzCase, CaseResult result)
    {
        var side = new SideHarness(fuzzCase.Side, result.Failures, result.Features) { Log = new List<ConnectionEvent>() };
        side.Establish();
        foreach (var step in fuzzCase.Steps)
        {
            switch (step.Op)
            {
                case "feed":
                    side.Feed(step.Bytes);
                    break;
                case "time":
                    side.Time(step.Ms ?? 0);
                    break;
                case "pump" or "settle":
                    break;
                default:
                    side.Act(step);
                    break;
            }
        }

        result.Outcome = OutcomeOf(side);
        result.Features.Add("outcome:" + result.Outcome);
        return side;
    }

    public static string OutcomeOf(SideHarness side)
    {
        var conn = side.Conn;
        string version = side.Conn.State is ConnectionState.Idle or ConnectionState.Handshaking || side.HandshakeFailure is not null
            ? "-"
            : conn.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string last = side.LastEvent?.GetType().Name ?? "none";
        string code = side.Error is { } error ? error.Code.ToString()
            : side.HandshakeFailure is { } failed ? SideHarness.Template(failed.Reason).Split(':', ',', '.')[0]
            : side.SawKeepAliveTimeout ? "keepalive" : "-";
        return $"{side.Name}|max{side.Config.MaxVersion}|v{version}|{conn.State}|{last}|{code}";
    }
}
