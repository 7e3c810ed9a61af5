using BenchmarkDotNet.Running;
using TcpChan.Bench;
using TcpChan.Bench.EndToEnd;

// TcpChan.Bench: see docs/BENCHMARKS.md.
//   micro [BenchmarkDotNet args]   micro benchmarks of the core (e.g. micro --filter '*')
//   quick                          every peer x workload with tiny sizes, in seconds
//   -peer P -workload W [flags]    one loopback run with the flags of /work/shared/peers, one RESULT line
//   -peer P -workload latency|long-bulk|mixed -rtt-ms N [-link-mbit N ...]   one run over the emulated link
if (args.Length > 0 && args[0] == "micro")
{
    BenchmarkSwitcher.FromAssembly(typeof(QuickMode).Assembly).Run(args[1..], TcpChan.Bench.Micro.MicroConfig.Create());
    return 0;
}

if (args.Length > 0 && args[0] == "quick")
{
    return await QuickMode.RunAsync() == 0 ? 0 : 1;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine("usage: TcpChan.Bench micro [--filter PATTERN] | quick | -peer P -workload W [-bulk-bytes N -chunk N -echo-buf N -rpc-streams N -rpc-rounds N -rpc-size N -open-total N -open-conc N -fanin-streams N -fanin-bytes N -mixed-bulk N -mixed-rounds N -mixed-warmup-ms N -timeout-s N] [-rtt-ms N -link-mbit N -link-buffer-kib N -latency-requests N -long-bulk-s N]");
    return 2;
}

// As the peers: whatever happens, the process ends by the timeout, with a RESULT line.
_ = Task.Run(async () =>
{
    await Task.Delay(options.Timeout + TimeSpan.FromSeconds(5));
    Console.WriteLine(new BenchResult(options.Peer, options.Workload, "timeout", 0, "-", options.Timeout, ProcStatus.PeakRss, -1));
    Environment.Exit(3);
});

var result = await BenchRunner.RunAsync(options);
Console.WriteLine(result);
Console.Out.Flush();

// Do not wait for what a failed run left behind.
Environment.Exit(result.Status switch { "ok" => 0, "timeout" => 3, _ => 1 });
return 0;
