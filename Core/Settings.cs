namespace TcpChan.Core;

/// <summary>The ids of version-1 settings entries (docs/PROTOCOL.md, "Settings").</summary>
public enum SettingId : byte
{
    /// <summary>Credit each new channel starts with, in bytes, for data sent to the announcer.</summary>
    InitialChannelWindow = 1,

    /// <summary>The largest payload frame the announcer accepts, in payload bytes.</summary>
    MaxFramePayload = 2,

    /// <summary>How many channels opened by the other side the announcer keeps open at once.</summary>
    MaxConcurrentChannels = 3,

    /// <summary>Credit the session starts with, in bytes, for all channels together.</summary>
    InitialSessionWindow = 4,
}

/// <summary>The settings one side announced (version 1).</summary>
public sealed class Settings
{
    /// <summary>Default credit of a new channel: 256 KiB.</summary>
    public const int DefaultInitialChannelWindow = 256 * 1024;

    /// <summary>
    /// Default session credit: 8 MiB for all channels together (smux's default is 4 MiB). It
    /// bounds what a side buffers for readers that have not read yet; a larger budget buys
    /// throughput only where one session's bandwidth × round-trip time exceeds it (8 MiB
    /// carries about 670 Mbit/s at 100 ms).
    /// </summary>
    public const int DefaultInitialSessionWindow = 8 * 1024 * 1024;

    /// <summary>Default and largest payload per frame (the u16 length's limit).</summary>
    public const int DefaultMaxFramePayload = ushort.MaxValue;

    /// <summary>The smallest payload limit a peer may announce.</summary>
    public const int MinMaxFramePayload = 1024;

    /// <summary>Default channel limit.</summary>
    public const int DefaultMaxConcurrentChannels = 4096;

    /// <summary>See <see cref="SettingId.InitialChannelWindow"/>.</summary>
    public int InitialChannelWindow { get; internal set; } = DefaultInitialChannelWindow;

    /// <summary>See <see cref="SettingId.MaxFramePayload"/>.</summary>
    public int MaxFramePayload { get; internal set; } = DefaultMaxFramePayload;

    /// <summary>See <see cref="SettingId.MaxConcurrentChannels"/>.</summary>
    public int MaxConcurrentChannels { get; internal set; } = DefaultMaxConcurrentChannels;

    /// <summary>See <see cref="SettingId.InitialSessionWindow"/>.</summary>
    public int InitialSessionWindow { get; internal set; } = DefaultInitialSessionWindow;

    /// <inheritdoc />
    public override string ToString() =>
        $"window={InitialChannelWindow} session={InitialSessionWindow} maxFrame={MaxFramePayload} maxChannels={MaxConcurrentChannels}";

    /// <summary>Applies one received entry; returns an error text for a bad value, null when fine. Unknown ids are ignored.</summary>
    internal string? Apply(byte id, uint value)
    {
        switch ((SettingId)id)
        {
            case SettingId.InitialChannelWindow when value > int.MaxValue:
            case SettingId.InitialSessionWindow when value > int.MaxValue:
                return $"Setting {(SettingId)id} = {value} is above 2^31-1.";
            case SettingId.MaxFramePayload when value < MinMaxFramePayload || value > DefaultMaxFramePayload:
                return $"Setting MaxFramePayload = {value} is outside {MinMaxFramePayload}..{DefaultMaxFramePayload}.";
            case SettingId.InitialChannelWindow:
                InitialChannelWindow = (int)value;
                break;
            case SettingId.InitialSessionWindow:
                InitialSessionWindow = (int)value;
                break;
            case SettingId.MaxFramePayload:
                MaxFramePayload = (int)value;
                break;
            case SettingId.MaxConcurrentChannels:
                MaxConcurrentChannels = (int)Math.Min(value, int.MaxValue);
                break;
        }

        return null;
    }
}
