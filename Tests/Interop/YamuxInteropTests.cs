using System.Buffers.Binary;
using TcpChan.Core;
using Xunit;
using static TcpChan.Tests.Interop.OurYamux;

namespace TcpChan.Tests.Interop;

/// <summary>
/// This implementation's yamux (the Stream API over <see cref="WireProtocol.Yamux"/>) against Go's
/// hashicorp/yamux with <c>DefaultConfig()</c>, over loopback: every scenario of the Go program
/// (Interop/yamux/main.go) with Go as client of our listener and as server of our client, and
/// with either side opening the streams. Each asserts our side and Go's RESULT.
/// </summary>
public sealed class YamuxInteropTests
{
    private const int GoAwayStreams = 8;
    private const int HalfCloseSize = 1 << 20;

    public static TheoryData<GoRole, bool> Topologies() => new()
    {
        { GoRole.Client, true },
        { GoRole.Client, false },
        { GoRole.Server, true },
        { GoRole.Server, false },
    };

    [GoYamuxTheory]
    [MemberData(nameof(Topologies))]
    public async Task Echo_100_concurrent_streams_up_to_8_MiB_sha256_checked(GoRole go, bool goOpens)
    {
        const int streams = 100;
        const uint seed = 7;
        const long maxSize = 8 << 20;
        var result = await RunAsync(go, "echo", goOpens, ["-streams", $"{streams}", "-seed", $"{seed}"], async (session, _) =>
        {
            if (goOpens)
            {
                // Go opens them at once, its SYNs in any order; each echoed exactly, then half-closed.
                var serving = new List<Task>();
                for (int i = 0; i < streams; i++)
                {
                    var stream = await session.AcceptChannelAsync();
                    serving.Add(Task.Run(async () =>
                    {
                        await using (stream)
                        {
                            await EchoAsync(stream, await ReadLengthAsync(stream));
                            stream.CompleteWrites();
                            await ExpectEndAsync(stream);
                        }
                    }));
                }

                await Task.WhenAll(serving);
                Assert.Equal(0, session.OpenChannelCount);
                await PeerEndsAsync(session);
                return;
            }

            var sizes = EchoSizes(streams, seed, maxSize);
            await Task.WhenAll(sizes.Select((n, i) => Task.Run(async () =>
            {
                uint key = (seed << 16) + (uint)i + 1;
                await using var stream = await session.OpenChannelAsync();
                var writing = Task.Run(async () =>
                {
                    await stream.WriteAsync(Length(n));
                    await WritePatternAsync(stream, key, n);
                });
                await ReadPatternAsync(stream, key, n);
                await writing;
                await ExpectEndAsync(stream);
                stream.CompleteWrites();
            })));
            Assert.Equal(0, session.OpenChannelCount);
        });

        Assert.Equal($"{streams}", result["streams"]);
        Assert.Equal($"{EchoSizes(streams, seed, maxSize).Sum()}", result["bytes"]);
    }

    [GoYamuxTheory]
    [InlineData(GoRole.Client)]
    [InlineData(GoRole.Server)]
    public async Task Echo_through_channels_as_pipes(GoRole go)
    {
        const int streams = 10;
        const uint seed = 3;
        var sizes = EchoSizes(streams, seed, 1 << 20);
        var result = await RunAsync(go, "echo", goActive: false, ["-streams", $"{streams}", "-seed", $"{seed}", "-max-size", $"{1 << 20}"], async (session, _) =>
        {
            await Task.WhenAll(sizes.Select((n, i) => Task.Run(async () =>
            {
                uint key = (seed << 16) + (uint)i + 1;
                var pipe = await session.OpenPipeAsync();
                var data = Pattern.Bytes(key, (int)n);
                var writing = Task.Run(async () =>
                {
                    await pipe.Output.WriteAsync(Length(n));
                    await pipe.Output.WriteAsync(data);
                });
                var echoed = new MemoryStream();
                await pipe.Input.CopyToAsync(echoed); // to Go's half-close
                await writing;
                await pipe.Output.CompleteAsync();
                await pipe.Input.CompleteAsync();
                Assert.Equal(data, echoed.ToArray());
            })));
        });

        Assert.Equal($"{sizes.Sum()}", result["bytes"]);
    }

    [GoYamuxTheory]
    [MemberData(nameof(Topologies))]
    public async Task Half_close_first_from_either_side_then_the_other_side_still_writes(GoRole go, bool goOpens)
    {
        var closed = new List<ChannelCloseReason?>();
        var result = await RunAsync(go, "halfclose", goOpens, ["-size", $"{HalfCloseSize}"], async (session, _) =>
        {
            if (goOpens)
            {
                // 'C': Go half-closes first; 'S': we do. We are passive: we end the session.
                for (int i = 0; i < 2; i++)
                {
                    await using var stream = await session.AcceptChannelAsync();
                    var kind = new byte[1];
                    await stream.ReadExactlyAsync(kind);
                    if (kind[0] == 'C')
                    {
                        await ReadPatternAsync(stream, 101, HalfCloseSize);
                        await ExpectEndAsync(stream);
                        await WritePatternAsync(stream, 102, HalfCloseSize);
                        stream.CompleteWrites();
                    }
                    else
                    {
                        await WritePatternAsync(stream, 102, HalfCloseSize);
                        stream.CompleteWrites();
                        await ReadPatternAsync(stream, 101, HalfCloseSize);
                        await ExpectEndAsync(stream);
                    }

                    closed.Add(stream.CloseReason);
                }

                return;
            }

            await using (var c = await session.OpenChannelAsync())
            {
                await c.WriteAsync("C"u8.ToArray());
                await WritePatternAsync(c, 101, HalfCloseSize);
                c.CompleteWrites();
                await ReadPatternAsync(c, 102, HalfCloseSize);
                await ExpectEndAsync(c);
                closed.Add(c.CloseReason);
            }

            await using (var s = await session.OpenChannelAsync())
            {
                await s.WriteAsync("S"u8.ToArray());
                await ReadPatternAsync(s, 102, HalfCloseSize);
                await ExpectEndAsync(s);
                await WritePatternAsync(s, 101, HalfCloseSize);
                s.CompleteWrites();
                closed.Add(s.CloseReason);
            }

            await PeerEndsAsync(session); // Go, passive, checks last and ends it
        });

        Assert.Equal([ChannelCloseReason.Completed, ChannelCloseReason.Completed], closed);
        if (!goOpens)
        {
            Assert.Single(result.Events("halfclose-peer-first"));
            Assert.Equal($"{HalfCloseSize}", Assert.Single(result.Events("halfclose-self-first"))["received_after_fin"]);
        }
    }

    [GoYamuxTheory]
    [MemberData(nameof(Topologies))]
    public async Task Our_reset_fails_Gos_blocked_write_and_its_reads(GoRole go, bool goOpens)
    {
        const int read = 100_000;
        ChannelCloseReason? reason = null;
        var result = await RunAsync(go, "reset", goOpens, [], async (session, peer) =>
        {
            var stream = goOpens ? await session.AcceptChannelAsync() : await session.OpenChannelAsync();
            if (goOpens)
            {
                var w = new byte[1];
                await stream.ReadExactlyAsync(w);
                Assert.Equal((byte)'W', w[0]);
            }
            else
            {
                await stream.WriteAsync("W"u8.ToArray());
            }

            // Go writes until reset: take some of it, check it, then reset the stream.
            var got = new byte[read];
            await stream.ReadExactlyAsync(got);
            Assert.Equal(Pattern.Bytes(103, read), got);
            stream.Abort();
            reason = stream.CloseReason;
            await peer.WaitForLineAsync("EVENT name=reset-received", Bound);
        });

        Assert.Equal(ChannelCloseReason.LocalReset, reason);
        Assert.Equal("connection_reset", result["error"]);
        Assert.InRange(long.Parse(result["written"]), read, 64 << 20);
    }

    [GoYamuxTheory]
    [InlineData(GoRole.Client)]
    [InlineData(GoRole.Server)]
    public async Task Gos_reset_of_an_open_past_its_backlog_is_a_retryable_refusal(GoRole go)
    {
        var result = await RunAsync(go, "backlog", goActive: false, [], async (session, _) =>
        {
            var streams = new List<TcpChanStream>();
            for (int i = 0; i <= 256; i++)
            {
                streams.Add(await session.OpenChannelAsync());
            }

            var refused = await Assert.ThrowsAsync<TcpChanChannelException>(async () => await streams[^1].ReadExactlyAsync(new byte[1]));
            Assert.True(refused.IsRetryable);
            Assert.Equal((ChannelCloseReason.Refused, ErrorCode.Refused), (refused.Reason, refused.Code));
            Assert.Equal(go == GoRole.Server ? 513u : 514u, refused.ChannelId);
            Assert.Equal(256, session.OpenChannelCount); // the others wait, unacknowledged, in Go's backlog
        });

        Assert.Equal("256", result["pending"]);
        Assert.Contains("backlog exceeded", result.Stderr, StringComparison.Ordinal);
    }

    [GoYamuxTheory]
    [InlineData(GoRole.Client)]
    [InlineData(GoRole.Server)]
    public async Task Our_refusal_of_opens_past_MaxConcurrentChannels_resets_Gos_open(GoRole go)
    {
        var result = await RunAsync(go, "backlog", goActive: true, [], async (session, _) =>
        {
            // Go opens 257 at once; we take 256 (Go's backlog is our default limit too) and refuse one.
            await PeerEndsAsync(session);
        });

        Assert.Equal("257", result["opened"]);
        Assert.Equal(go == GoRole.Client ? "513" : "514", result["reset_stream"]);
    }

    [GoYamuxTheory]
    [MemberData(nameof(Topologies))]
    public async Task Ping_from_each_side(GoRole go, bool goOpens)
    {
        var rtts = new List<TimeSpan>();
        var result = await RunAsync(go, "ping", goOpens, ["-pings", "3"], async (session, _) =>
        {
            if (goOpens)
            {
                // Go pings us 3 times, then opens; we ping it 3 times on accepting, then answer 'K'.
                await using var stream = await session.AcceptChannelAsync();
                for (int i = 0; i < 3; i++)
                {
                    rtts.Add(await session.PingAsync());
                }

                await stream.WriteAsync("K"u8.ToArray());
                stream.CompleteWrites();
                await ExpectEndAsync(stream);
                await PeerEndsAsync(session);
                return;
            }

            for (int i = 0; i < 3; i++)
            {
                rtts.Add(await session.PingAsync());
            }

            await using var opened = await session.OpenChannelAsync();
            var k = new byte[1];
            await opened.ReadExactlyAsync(k);
            Assert.Equal((byte)'K', k[0]);
            await ExpectEndAsync(opened);
            opened.CompleteWrites();
        });

        Assert.Equal(3, rtts.Count);
        Assert.All(rtts, rtt => Assert.True(rtt > TimeSpan.Zero && rtt < Bound, $"{rtt}"));
        Assert.Equal(3, result.Events("ping").Count());
    }

    [GoYamuxTheory]
    [InlineData(GoRole.Client, true, "active")]
    [InlineData(GoRole.Client, true, "passive")]
    [InlineData(GoRole.Client, false, "active")]
    [InlineData(GoRole.Client, false, "passive")]
    [InlineData(GoRole.Server, true, "active")]
    [InlineData(GoRole.Server, true, "passive")]
    [InlineData(GoRole.Server, false, "active")]
    [InlineData(GoRole.Server, false, "passive")]
    public async Task Go_away_from_either_side_with_streams_in_flight_lets_them_finish_and_refuses_new_opens(GoRole go, bool goOpens, string by)
    {
        const int size = 1 << 20;
        bool weSend = (by == "active") != goOpens;
        bool refusedHere = false;
        var result = await RunAsync(go, "goaway", goOpens, ["-streams", $"{GoAwayStreams}", "-size", $"{size}", "-goaway-by", by], async (session, _) =>
        {
            Task? closing = null;
            var streams = new TcpChanStream[GoAwayStreams];
            var lengths = new long[GoAwayStreams];
            for (int i = 0; i < GoAwayStreams; i++)
            {
                if (goOpens)
                {
                    streams[i] = await session.AcceptChannelAsync();
                    lengths[i] = await ReadLengthAsync(streams[i]);
                }
                else
                {
                    streams[i] = await session.OpenChannelAsync();
                    await streams[i].WriteAsync(Length(size));
                }
            }

            if (weSend)
            {
                // Our go-away: the open channels go on until they finish, then the session closes.
                closing = session.CloseAsync(Bound);
            }

            var once = new SemaphoreSlim(1);
            async Task CheckOpenRefusedAsync()
            {
                if (!weSend && await once.WaitAsync(0))
                {
                    // The peer's go-away came before the first byte that followed it.
                    var refused = await Assert.ThrowsAsync<TcpChanSessionException>(() => session.OpenChannelAsync());
                    Assert.Contains("going away", refused.Message, StringComparison.Ordinal);
                    refusedHere = true;
                }
            }

            await Task.WhenAll(streams.Select((stream, i) => Task.Run(async () =>
            {
                await using (stream)
                {
                    var first = new byte[1];
                    if (goOpens)
                    {
                        await stream.ReadExactlyAsync(first);
                        await CheckOpenRefusedAsync();
                        await stream.WriteAsync(first);
                        await EchoAsync(stream, lengths[i] - 1);
                        stream.CompleteWrites();
                        await ExpectEndAsync(stream);
                        return;
                    }

                    var writing = WritePatternAsync(stream, 104 + (uint)i, size);
                    var expected = Pattern.Bytes(104 + (uint)i, 1);
                    await stream.ReadExactlyAsync(first);
                    Assert.Equal(expected, first);
                    await CheckOpenRefusedAsync();
                    await ReadPatternAfterAsync(stream, 104 + (uint)i, size, first);
                    await writing;
                    await ExpectEndAsync(stream);
                    stream.CompleteWrites();
                }
            })));

            if (closing is not null)
            {
                await closing;
            }
            else if (goOpens)
            {
                await PeerEndsAsync(session);
            }
        });

        Assert.Equal(!weSend, refusedHere);
        Assert.Equal($"{GoAwayStreams}", result["streams"]);
        Assert.Equal(weSend ? 1 : 0, result.Events("open-refused-after-goaway").Count());
        Assert.Equal(weSend ? 0 : 1, result.Events("goaway-sent").Count());
    }

    /// <summary>The sizes of the echo scenario, as main.go's echoSizes makes them.</summary>
    private static long[] EchoSizes(int n, uint seed, long maxSize)
    {
        long[] edges = [0, 1, 12, 65535, 65536, 262143, 262144, 262145, maxSize, maxSize - 1];
        var random = Pattern.Bytes(seed * 7919, n * 4);
        return Enumerable.Range(0, n)
            .Select(i => i < edges.Length ? edges[i] : BinaryPrimitives.ReadUInt32LittleEndian(random.AsSpan(i * 4)) % (1 << 20))
            .ToArray();
    }

    /// <summary>The rest of a pattern whose first byte was already read.</summary>
    private static async Task ReadPatternAfterAsync(Stream stream, uint key, long length, byte[] first)
    {
        var rest = new byte[length - 1];
        await stream.ReadExactlyAsync(rest);
        Assert.Equal(Pattern.Digest(key, length), Convert.ToHexString(System.Security.Cryptography.SHA256.HashData([.. first, .. rest])).ToLowerInvariant());
    }
}
