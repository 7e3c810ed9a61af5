using System.CommandLine;
using TcpChan.Core;

namespace TcpChan.Cli;

/// <summary>
/// <c>tcpchan connect --server S HOST:PORT</c>: one channel to HOST:PORT (as the server reaches
/// it) on standard input and output, like <c>ssh -W</c>; usable as an SSH ProxyCommand.
/// </summary>
internal static class ConnectCommand
{
    public static async Task<int> RunAsync(ClientSettings settings, HostPort target, Log log, CancellationToken stop)
    {
        var client = new TunnelClient(settings, log, new Counters());
        await using var session = await client.ConnectOnceAsync(stop).ConfigureAwait(false);
        await using var channel = await session.OpenChannelAsync(Protocol.ConnectLabel(target), stop).ConfigureAwait(false);
        log.Debug($"channel {channel.ChannelId} to {target} open");

        using var input = Console.OpenStandardInput();
        using var output = Console.OpenStandardOutput();

        // Standard input to the channel, then end of data; the channel to standard output until
        // the far side ends. Standard input may never end (a terminal): the far side's end is
        // what finishes the command.
        var up = Task.Run(async () =>
        {
            try
            {
                await input.CopyToAsync(channel, stop).ConfigureAwait(false);
                channel.CompleteWrites();
            }
            catch (Exception ex) when (ex is TcpChanException or IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }, CancellationToken.None);
        try
        {
            await channel.CopyToAsync(output, stop).ConfigureAwait(false);
            await output.FlushAsync(stop).ConfigureAwait(false);
        }
        catch (TcpChanChannelException ex) when (ex.Code is { } code && code >= ErrorCode.ApplicationBase)
        {
            throw new CliException(ExitCodes.Refused, $"the server refused {target}: {TunnelErrors.Describe(code)}", ex);
        }
        catch (TcpChanException ex)
        {
            throw new CliException(ExitCodes.Failure, $"the connection to {target} failed: {ex.Message}", ex);
        }

        await session.CloseAsync(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
        _ = up; // standard input may still be open; the process ends anyway
        return ExitCodes.Ok;
    }
}
