using System.IO.Pipelines;
using TcpChan.Tests.Pipelines;
using Xunit;


namespace TcpChan.Tests.Adapters;

/// <summary>
/// Many channels doing round trips at once, each checking that it gets exactly its own bytes
/// back: catches frames sent twice or out of order (two senders at once, a reused buffer).
/// </summary>
public class ConcurrentRoundTripTests
{
    [Theory]
    [InlineData("pipes")]
    [InlineData("streams")]
    public async Task Every_channel_gets_exactly_its_own_echo_back(string view)
    {
        for (int run = 0; run < 4; run++)
        {
            var (client, server) = await PipeSessionTests.InMemoryPairAsync();
            _ = view == "pipes" ? PipeSessionTests.EchoPipesAsync(server) : EchoStreams(server);
            var tasks = new List<Task>();
            for (int c = 0; c < 8; c++)
            {
                int ch = c;
                if (view == "pipes")
                {
                    var p = await client.OpenPipeAsync();
                    tasks.Add(Task.Run(async () =>
                    {
                        var req = new byte[64];
                        for (int i = 0; i < 1000; i++)
                        {
                            for (int k = 0; k < 64; k++) req[k] = (byte)(i + k + ch);
                            await p.Output.WriteAsync(req);
                            while (true)
                            {
                                var r = await p.Input.ReadAsync();
                                if (r.Buffer.Length >= 64)
                                {
                                    var got = System.Buffers.BuffersExtensions.ToArray(r.Buffer.Slice(0, 64));
                                    p.Input.AdvanceTo(r.Buffer.GetPosition(64));
                                    if (!got.AsSpan().SequenceEqual(req))
                                    {
                                        throw new Exception($"ch {ch} round {i}: expected {Convert.ToHexString(req)} got {Convert.ToHexString(got)}");
                                    }
                                    break;
                                }
                                p.Input.AdvanceTo(r.Buffer.Start, r.Buffer.End);
                            }
                        }
                    }));
                }
                else
                {
                    var s = await client.OpenChannelAsync();
                    tasks.Add(Task.Run(async () =>
                    {
                        var req = new byte[64];
                        var got = new byte[64];
                        for (int i = 0; i < 1000; i++)
                        {
                            for (int k = 0; k < 64; k++) req[k] = (byte)(i + k + ch);
                            await s.WriteAsync(req);
                            await s.ReadExactlyAsync(got);
                            if (!got.AsSpan().SequenceEqual(req))
                            {
                                throw new Exception($"ch {ch} round {i}: expected {Convert.ToHexString(req)} got {Convert.ToHexString(got)}");
                            }
                        }
                    }));
                }
            }

            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
            await client.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    private static async Task EchoStreams(TcpChanSession session)
    {
        try
        {
            while (true)
            {
                var s = await session.AcceptChannelAsync();
                _ = Task.Run(async () =>
                {
                    var buf = new byte[64];
                    int n;
                    while ((n = await s.ReadAsync(buf)) > 0)
                    {
                        await s.WriteAsync(buf.AsMemory(0, n));
                    }
                });
            }
        }
        catch (TcpChanSessionException)
        {
        }
    }
}
