using System.Diagnostics;
using System.Net;
using System.Text;
using Xunit;

namespace TcpChan.Tests.Interop;

/// <summary>
/// Go's hashicorp/yamux for the interop tests: makes sure Go and the yamux sources are there
/// (Debian's <c>golang-go</c> and <c>golang-github-hashicorp-yamux-dev</c>, installed with
/// apt-get when missing and this process is root), builds <c>Interop/yamux/main.go</c> once
/// per test run, and starts it as a child process (<see cref="GoPeer"/>).
/// </summary>
internal static class GoYamux
{
    /// <summary>Where Debian's package puts the yamux sources; GOPATH mode builds against them.</summary>
    public const string GoPath = "/usr/share/gocode";

    /// <summary>The Debian packages that give Go and Go's yamux.</summary>
    public const string Packages = "golang-go golang-github-hashicorp-yamux-dev";

    /// <summary>The bound on one Go process of a test, its own <c>-timeout</c> a little shorter.</summary>
    public static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(90);

    private static readonly string YamuxSource = Path.Combine(GoPath, "src/github.com/hashicorp/yamux/session.go");

    private static readonly Lazy<Availability> s_availability = new(Ensure, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Lazy<string> s_peer = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Null when the tests can run (Go and yamux are there, or were just installed, or an
    /// install was tried and failed: that fails the tests rather than skipping them); else why
    /// they cannot: no apt-get, or not root.
    /// </summary>
    public static string? SkipReason => s_availability.Value.SkipReason;

    /// <summary>The built Go program. Throws when Go or yamux could not be installed, or the build failed.</summary>
    public static string PeerPath
    {
        get
        {
            var availability = s_availability.Value;
            if (availability.SkipReason is not null || availability.Failure is not null)
            {
                throw new InvalidOperationException(availability.SkipReason ?? availability.Failure);
            }

            return s_peer.Value;
        }
    }

    /// <summary>Starts the Go program as a yamux server and waits for its READY line.</summary>
    public static async Task<GoPeer> StartServerAsync(string scenario, params string[] arguments)
    {
        var peer = GoPeer.Start(PeerPath, ["-role", "server", "-scenario", scenario, .. arguments, .. TimeoutArguments]);
        try
        {
            await peer.WaitForReadyAsync(ProcessTimeout);
            return peer;
        }
        catch
        {
            peer.Dispose();
            throw;
        }
    }

    /// <summary>Starts the Go program as a yamux client of <paramref name="server"/>.</summary>
    public static GoPeer StartClient(IPEndPoint server, string scenario, params string[] arguments) =>
        GoPeer.Start(PeerPath, ["-role", "client", "-addr", server.ToString(), "-scenario", scenario, .. arguments, .. TimeoutArguments]);

    /// <summary>Runs the Go program for a scenario without a network (golden, pattern) and returns its result.</summary>
    public static async Task<GoResult> RunAsync(string scenario, params string[] arguments)
    {
        using var peer = GoPeer.Start(PeerPath, ["-scenario", scenario, .. arguments, .. TimeoutArguments]);
        return await peer.WaitForResultAsync(ProcessTimeout);
    }

    /// <summary>The program's own watchdog: it reports its timeout before this side kills it.</summary>
    private static string[] TimeoutArguments => ["-timeout", $"{(int)(ProcessTimeout.TotalSeconds - 10)}s"];

    private sealed record Availability(string? SkipReason, string? Failure);

    private static Availability Ensure()
    {
        if (IsInstalled())
        {
            return new Availability(null, null);
        }

        if (!OperatingSystem.IsLinux())
        {
            return new Availability($"Go yamux interop needs Linux with Debian's {Packages}.", null);
        }

        string? aptGet = FindOnPath("apt-get");
        if (aptGet is null)
        {
            return new Availability($"Go or Go's yamux is missing and apt-get is not available: install {Packages} (Debian) to run the Go yamux interop tests.", null);
        }

        if (!IsRoot())
        {
            return new Availability($"Go or Go's yamux is missing and this process is not root: run `apt-get install {Packages}` as root to run the Go yamux interop tests.", null);
        }

        var log = new StringBuilder();
        string install = $"-o DPkg::Lock::Timeout=300 install -y --no-install-recommends {Packages}";
        if (Run(aptGet, install, log) != 0)
        {
            // A fresh machine may have no package lists yet.
            Run(aptGet, "-o DPkg::Lock::Timeout=300 update", log);
            Run(aptGet, install, log);
        }

        return IsInstalled()
            ? new Availability(null, null)
            : new Availability(null, $"apt-get could not install {Packages}:\n{log}");
    }

    private static bool IsInstalled() => FindGo() is not null && File.Exists(YamuxSource);

    private static string? FindGo() => FindOnPath("go") ?? (File.Exists("/usr/lib/go/bin/go") ? "/usr/lib/go/bin/go" : null);

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>Root by the effective uid in /proc (Linux only, which is all this runs on).</summary>
    private static bool IsRoot()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                string[] ids = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                return ids.Length > 2 && ids[2] == "0";
            }
        }

        return false;
    }

    private static int Run(string file, string arguments, StringBuilder log)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        log.AppendLine($"$ {file} {arguments}");
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit((int)TimeSpan.FromMinutes(10).TotalMilliseconds))
        {
            process.Kill(entireProcessTree: true);
            log.AppendLine("(timed out after 10 minutes)");
            return -1;
        }

        log.Append(stdout.Result).Append(stderr.Result);
        return process.ExitCode;
    }

    /// <summary>Builds the Go program in GOPATH mode, next to the test assembly (so: once per build output).</summary>
    private static string Build()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Interop", "yamux");
        string output = Path.Combine(source, "bin", "yamux-peer");
        var info = new ProcessStartInfo(FindGo()!, $"build -o \"{output}\" main.go")
        {
            WorkingDirectory = source,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["GO111MODULE"] = "off";
        info.Environment["GOPATH"] = GoPath;
        info.Environment["GOPROXY"] = "off";
        info.Environment["GOFLAGS"] = string.Empty;
        info.Environment["CGO_ENABLED"] = "0";
        info.Environment["GOCACHE"] = Path.Combine(source, "obj", "gocache");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit((int)TimeSpan.FromMinutes(5).TotalMilliseconds))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("go build of Interop/yamux/main.go took over 5 minutes.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"go build of Interop/yamux/main.go failed ({process.ExitCode}):\n{stdout.Result}{stderr.Result}");
        }

        return output;
    }
}

/// <summary>A fact that needs Go's yamux: skipped, saying why, only where it cannot be installed (no apt-get, not root).</summary>
public sealed class GoYamuxFactAttribute : FactAttribute
{
    public GoYamuxFactAttribute()
    {
        if (GoYamux.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs Go's yamux, skipped as <see cref="GoYamuxFactAttribute"/> is.</summary>
public sealed class GoYamuxTheoryAttribute : TheoryAttribute
{
    public GoYamuxTheoryAttribute()
    {
        if (GoYamux.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
