using System.Text.Json;
using System.Text.Json.Serialization;
using TcpChan.Core;

namespace TcpChan.Fuzz;

/// <summary>
/// Everything needed to replay one input: one connection (<see cref="Kind"/> "single") fed the
/// <see cref="Steps"/> in order, or a client/server pair ("pair") driven by the steps, with the
/// differential check at the end. Saved as JSON in Fuzz/failures/ and replayed with --replay.
/// </summary>
public sealed class FuzzCase
{
    /// <summary>"single": one connection of <see cref="Side"/>'s role; "pair": <see cref="Side"/> is the client, <see cref="Peer"/> the server.</summary>
    public string Kind { get; set; } = "single";

    /// <summary>Where the input came from (seed, index, strategy); informational.</summary>
    public string Origin { get; set; } = string.Empty;

    /// <summary>The failure found when the case was saved; informational.</summary>
    public string? Failure { get; set; }

    /// <summary>The connection under test (single) or the client (pair).</summary>
    public SideConfig Side { get; set; } = new();

    /// <summary>Pair only: the server.</summary>
    public SideConfig? Peer { get; set; }

    /// <summary>Pair only: how transmits are cut into DataReceived calls (see <see cref="ChunkMode"/>).</summary>
    public int ChunkMode { get; set; }

    /// <summary>Pair only: seed of the random chunking.</summary>
    public int ChunkSeed { get; set; }

    /// <summary>What happens, in order.</summary>
    public List<Step> Steps { get; set; } = new();

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    /// <summary>The case as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Reads a case written by <see cref="ToJson"/>.</summary>
    public static FuzzCase FromJson(string json) =>
        JsonSerializer.Deserialize<FuzzCase>(json, s_json) ?? throw new InvalidDataException("Empty fuzz case.");

    /// <summary>Reads a saved case: JSON (a .json file), or the bytes of an AFL++ input (<see cref="AflInput"/>).</summary>
    public static FuzzCase Load(string path) =>
        path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? FromJson(File.ReadAllText(path))
            : AflInput.Decode(File.ReadAllBytes(path), $"afl input {Path.GetFileName(path)}");

    /// <summary>Whether a file in a folder of cases is one: .json, or an AFL++ input (not its README.txt, reports or dot files).</summary>
    public static bool IsCaseFile(string path)
    {
        string name = Path.GetFileName(path);
        return !name.StartsWith('.') && !name.EndsWith(".txt", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A deep copy.</summary>
    public FuzzCase Clone() => FromJson(ToJson());

    /// <summary>Total bytes fed.</summary>
    [JsonIgnore]
    public int FeedBytes => Steps.Sum(s => s.Op == "feed" ? s.Bytes.Length : 0);
}

/// <summary>Options of one connection, and how the harness's channels behave.</summary>
public sealed class SideConfig
{
    public bool Client { get; set; }

    /// <summary>The connection speaks yamux (<see cref="WireProtocol.Yamux"/>) instead of TcpChan; MaxVersion and Magic then do not apply.</summary>
    public bool Yamux { get; set; }

    public int MaxVersion { get; set; } = 1;

    public uint Magic { get; set; } = ConnectionOptions.DefaultHandshakeMagic;

    /// <summary>SessionReceiveBudget.</summary>
    public int Budget { get; set; } = Settings.DefaultInitialSessionWindow;

    /// <summary>InitialChannelWindow.</summary>
    public int Window { get; set; } = Settings.DefaultInitialChannelWindow;

    public int MaxChannelWindow { get; set; } = 16 * 1024 * 1024;

    public int MaxFrame { get; set; } = Settings.DefaultMaxFramePayload;

    public int MaxChannels { get; set; } = Settings.DefaultMaxConcurrentChannels;

    public bool AutoTune { get; set; } = true;

    /// <summary>KeepAliveInterval in ms, or null for none (written even when null: the default is not null).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? KeepAliveIntervalMs { get; set; } = 30_000;

    public int KeepAliveTimeoutMs { get; set; } = 90_000;

    /// <summary>HandshakeTimeout in ms, or null for none (written even when null).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? HandshakeTimeoutMs { get; set; } = 30_000;

    /// <summary>"auto", "manual" or "mixed" (by channel id): whether channels consume on their own.</summary>
    public string Consume { get; set; } = "auto";

    /// <summary>Channel factory and callbacks misbehave (throw, re-enter, close, echo) by label or id.</summary>
    public bool Faults { get; set; }


    /// <summary>Seed of ConnectionOptions.Random (version-0 channel ids).</summary>
    public int RandomSeed { get; set; } = 1;

    /// <summary>0: output as DataTransmit events. Otherwise the output is pulled (OutputAsEvents false): TakeOutput with this budget, as a driver whose transport takes that much at a time.</summary>
    public int PullBudget { get; set; }

    /// <summary>ConnectionOptions.SendQuantum (forced into 1,024 to 65,535; 0: the default).</summary>
    public int SendQuantum { get; set; }

    /// <summary>Makes the options, with the values forced into what Validate accepts.</summary>
    public ConnectionOptions ToOptions()
    {
        int window = EffectiveWindow;
        return new ConnectionOptions
        {
            Protocol = Yamux ? WireProtocol.Yamux : WireProtocol.TcpChan,
            MaxVersion = (byte)Math.Clamp(MaxVersion, 0, ConnectionOptions.LatestVersion),
            HandshakeMagic = Magic,
            InitialChannelWindow = window,
            MaxChannelWindow = Math.Max(window, MaxChannelWindow),
            SessionReceiveBudget = Math.Max(window, Budget),
            MaxFramePayload = Math.Clamp(MaxFrame, Settings.MinMaxFramePayload, Yamux ? ConnectionOptions.MaxYamuxFramePayload : Settings.DefaultMaxFramePayload),
            MaxConcurrentChannels = Math.Max(0, MaxChannels),
            AutoTuneWindows = AutoTune,
            KeepAliveInterval = KeepAliveIntervalMs is { } i ? TimeSpan.FromMilliseconds(i) : null,
            KeepAliveTimeout = TimeSpan.FromMilliseconds(Math.Max(1, KeepAliveTimeoutMs)),
            HandshakeTimeout = HandshakeTimeoutMs is { } h ? TimeSpan.FromMilliseconds(h) : null,
            Random = new Random(RandomSeed),
            SendQuantum = SendQuantum == 0 ? new ConnectionOptions().SendQuantum : Math.Clamp(SendQuantum, Settings.MinMaxFramePayload, Settings.DefaultMaxFramePayload),
        };
    }

    /// <summary>The effective InitialChannelWindow (yamux: at least its 256 KiB).</summary>
    [JsonIgnore]
    public int EffectiveWindow => Math.Max(Yamux ? (int)Core.Yamux.YamuxProtocol.InitialStreamWindow : 1, Window);

    /// <summary>The effective session budget (on TcpChan, what BufferedBytes must never exceed).</summary>
    [JsonIgnore]
    public int EffectiveBudget => Math.Max(EffectiveWindow, Budget);

    /// <summary>
    /// What BufferedBytes must never exceed with <paramref name="openChannels"/> open: the budget;
    /// on yamux, which has no session window, the initial window of each open channel as well.
    /// </summary>
    public long BufferBound(int openChannels) => EffectiveBudget + (Yamux ? (long)EffectiveWindow * openChannels : 0);

    public SideConfig Clone() => (SideConfig)MemberwiseClone();

    public override string ToString() =>
        $"{(Client ? "client" : "server")} {(Yamux ? "yamux" : $"v{MaxVersion}")} budget={Budget} window={Window} maxFrame={MaxFrame} maxChannels={MaxChannels} consume={Consume} faults={Faults}";
}

/// <summary>
/// One step. <see cref="Op"/> is "feed" (one DataReceived call with <see cref="Hex"/>), "time"
/// (advance the clock by <see cref="Ms"/>, which may be negative, then HandleTimeout), or a
/// local action: create, write, trywrite, complete, close, abort, consume, consumeall, ping,
/// goaway, closeid, closeconn, lost; and for pairs "pump" and "settle". <see cref="Ch"/>
/// indexes the channels the side's factory made, in order (modulo their count).
/// </summary>
public sealed class Step
{
    public string Op { get; set; } = "feed";

    /// <summary>Pair: 0 the client, 1 the server.</summary>
    public int? Side { get; set; }

    private byte[]? _raw;
    private string? _hex;

    /// <summary>The bytes of a feed, as lowercase hex (kept as bytes until asked for).</summary>
    public string? Hex
    {
        get => _hex ??= _raw is null ? null : Convert.ToHexStringLower(_raw);
        set
        {
            _hex = value;
            _raw = null;
        }
    }

    public int? Ch { get; set; }

    public int? N { get; set; }

    public uint? Code { get; set; }

    public string? Label { get; set; }

    public int? Ms { get; set; }

    public static Step Feed(ReadOnlySpan<byte> bytes) => new() { Op = "feed", _raw = bytes.ToArray() };

    public static Step Time(int ms) => new() { Op = "time", Ms = ms };

    /// <summary>The bytes of a feed (shared: do not change them).</summary>
    [JsonIgnore]
    public byte[] Bytes => _raw ??= _hex is null ? Array.Empty<byte>() : Convert.FromHexString(_hex);

    public Step Clone() => (Step)MemberwiseClone();

    public override string ToString() => Op switch
    {
        "feed" => $"feed {Bytes.Length}B",
        "time" => $"time {Ms}ms",
        _ => $"{Op}{(Side is { } s ? (s == 0 ? " client" : " server") : string.Empty)} ch={Ch} n={N} code={Code} label={Label}",
    };
}
