using TcpChan.Core;

namespace TcpChan.Fuzz;

/// <summary>How a channel of the harness behaves. Plain unless the side has faults on.</summary>
public enum Behaviour
{
    Plain,
    Echo,
    FactoryThrow,
    FactoryNull,
    ThrowCreated,
    ThrowData,
    ThrowEnd,
    ThrowClosed,
    ThrowWritable,
    CloseInData,
    AbortInData,
    Reenter,
    ConsumeInData,
    WriteInCreated,
    CloseInCreated,
    CreateInData,
    AbortInWritable,
    AbortInEnd,
    CreateInClosed,
    CloseConnectionInData,
    LostInCreated,
    GoAwayInCreated,
    PingInData,
}

/// <summary>The exception the harness's callbacks throw on purpose: the core must swallow it (from a channel callback), or the harness (from its reaction to an event).</summary>
public sealed class FuzzFault : Exception
{
    public FuzzFault(string message)
        : base(message)
    {
    }
}

/// <summary>A channel that records what it received and what was written to it, and misbehaves on request.</summary>
public sealed class FuzzChannel : Channel
{
    /// <summary>Labels the harness gives and recognises; a label picks the behaviour when faults are on.</summary>
    public static readonly string[] Labels =
    [
        "plain", "echo", "boom", "null", "boom-created", "boom-data", "boom-eod", "boom-closed", "boom-writable",
        "close-in-data", "abort-in-data", "reenter", "consume-in-data", "write-in-created", "close-in-created", "create-in-data",
        "abort-in-writable", "abort-in-eod", "create-in-closed",
        "closeconn-in-data", "lost-in-created", "goaway-in-created", "ping-in-data",
    ];

    private readonly MemoryStream _received = new();
    private readonly MemoryStream _written = new();
    private readonly SideHarness _side;

    internal FuzzChannel(SideHarness side, bool autoConsume, Behaviour behaviour, int index)
        : base(autoConsume)
    {
        _side = side;
        Behaviour = behaviour;
        Index = index;
    }

    public Behaviour Behaviour { get; }

    /// <summary>Position in the side's list of channels.</summary>
    public int Index { get; }

    /// <summary>Bytes received and not yet consumed (manual-consume channels).</summary>
    public long Held { get; set; }

    /// <summary>This side called CompleteWrites or Close (or aborted): writing must throw from now on.</summary>
    public bool WritesDone { get; set; }

    /// <summary>This side stopped reading (close, abort, connection closed): data toward it may be dropped.</summary>
    public bool LostIncoming { get; set; }

    /// <summary>This side dropped what it had queued (abort, connection closed): data from it may not arrive.</summary>
    public bool LostOutgoing { get; set; }

    public bool GotEndOfData { get; private set; }

    public ChannelCloseReason? ClosedWith { get; private set; }

    public int CreatedCalls { get; private set; }

    public int ClosedCalls { get; private set; }

    public byte[] Received => _received.ToArray();

    public long ReceivedLength => _received.Length;

    public byte[] Written => _written.ToArray();

    public long WrittenLength => _written.Length;

    public static Behaviour BehaviourOf(string? label, uint id)
    {
        if (label is not null)
        {
            int i = Array.IndexOf(Labels, label);
            return i >= 0 ? (Behaviour)i : Behaviour.Plain;
        }

        // Without a label (version 0, or none given), most ids are plain.
        uint h = id * 2654435761u;
        int pick = (int)(h >> 26); // 0..63
        int count = Labels.Length - 1;
        return pick < 32 ? Behaviour.Plain : (Behaviour)(1 + ((pick - 32) % count));
    }

    /// <summary>The byte at <paramref name="offset"/> of what a side writes on a channel: not periodic, so that reordering shows.</summary>
    public static byte PatternByte(uint salt, long offset)
    {
        ulong x = ((ulong)offset * 0x9E3779B97F4A7C15UL) ^ salt;
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 32;
        return (byte)x;
    }

    /// <summary>Writes <paramref name="count"/> pattern bytes; returns what the channel accepted (all for Write).</summary>
    public int WritePattern(int count, bool tryWrite)
    {
        var data = new byte[count];
        long start = _written.Length;
        uint salt = (uint)(ChannelId * 31 + (_side.Config.Client ? 7 : 13));
        for (int i = 0; i < count; i++)
        {
            data[i] = PatternByte(salt, start + i);
        }

        int accepted;
        if (tryWrite)
        {
            accepted = TryWrite(data);
        }
        else
        {
            Write(data);
            accepted = count;
        }

        _written.Write(data, 0, accepted);
        return accepted;
    }

    /// <summary>The harness took this channel's ChannelCreated event: the application's reaction (as a driver would run it).</summary>
    internal void Created()
    {
        CreatedCalls++;
        switch (Behaviour)
        {
            case Behaviour.ThrowCreated:
                throw new FuzzFault("OnCreated");
            case Behaviour.WriteInCreated:
                WritePattern(100, tryWrite: false);
                break;
            case Behaviour.CloseInCreated:
                WritesDone = true;
                Held = 0;
                Close();
                break;
            case Behaviour.LostInCreated:
                Connection.ConnectionLost();
                break;
            case Behaviour.GoAwayInCreated:
                Connection.GoAway(ErrorCode.NoError); // version 0: throws (misuse), and the harness aborts this channel
                break;
        }
    }

    protected override void DataReceived(ReadOnlySpan<byte> data)
    {
        _received.Write(data);
        if (!AutoConsume)
        {
            Held += data.Length;
        }

        switch (Behaviour)
        {
            case Behaviour.Echo:
                var copy = data.ToArray();
                Write(copy);
                _written.Write(copy);
                break;
            case Behaviour.ThrowData when data.Length > 0 && (data[0] & 3) == 0:
                throw new FuzzFault("DataReceived");
            case Behaviour.CloseInData:
                WritesDone = true;
                Held = 0;
                Close();
                break;
            case Behaviour.AbortInData:
                WritesDone = true;
                Abort((ErrorCode)0x1234);
                break;
            case Behaviour.Reenter:
                Connection.DataReceived(data);
                break;
            case Behaviour.ConsumeInData when !AutoConsume:
                Consume(data.Length);
                Held -= data.Length;
                break;
            case Behaviour.CreateInData:
                Connection.CreateChannel(LabelToCreate());
                break;
            case Behaviour.CloseConnectionInData:
                Connection.Close();
                break;
            case Behaviour.PingInData:
                Connection.Ping(7);
                _side.NoteUserPing(7);
                break;
        }
    }

    protected override void OnEndOfData()
    {
        GotEndOfData = true;
        switch (Behaviour)
        {
            case Behaviour.ThrowEnd:
                throw new FuzzFault("OnEndOfData");
            case Behaviour.Echo:
                WritesDone = true;
                CompleteWrites();
                break;
            case Behaviour.AbortInEnd:
                WritesDone = true;
                Abort();
                break;
        }
    }

    protected override void OnWritable()
    {
        if (Behaviour == Behaviour.ThrowWritable)
        {
            throw new FuzzFault("OnWritable");
        }

        if (Behaviour == Behaviour.AbortInWritable)
        {
            WritesDone = true;
            Abort();
        }
    }

    /// <summary>The label of a channel this one creates: "plain", or none on yamux, which has no labels.</summary>
    private string? LabelToCreate() => Connection.Protocol == WireProtocol.Yamux ? null : "plain";

    /// <summary>The harness took this channel's ChannelClosed event: the application's reaction.</summary>
    internal void Closed(ChannelCloseReason reason)
    {
        ClosedCalls++;
        ClosedWith = reason;
        if (Behaviour == Behaviour.ThrowClosed)
        {
            throw new FuzzFault("OnClosed");
        }

        if (Behaviour == Behaviour.CreateInClosed)
        {
            Connection.CreateChannel(LabelToCreate()); // may throw (going away, closed): the harness catches it
            _side.CreatedFromOnClosed++;
        }
    }
}
