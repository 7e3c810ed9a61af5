using System.IO.Compression;
using System.Reflection;
using System.Text.RegularExpressions;
using TcpChan.Tests.Readme;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.Packaging;

/// <summary>
/// <c>dotnet pack</c> of the solution makes the five library packages and the tcpchan tool as
/// a .NET tool package, and the tool installs from that folder alone (no feed, an empty package
/// cache: offline) into a tool path and runs. Packs what the test run built (--no-build).
/// </summary>
public class PackageTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    private static readonly string[] Libraries =
        ["TcpChan.Core", "TcpChan.Adapters.Tasks", "TcpChan.Adapters.Sockets", "TcpChan.Adapters.Pipelines", "TcpChan.Adapters.AspNetCore"];

    [Fact]
    public async Task Pack_makes_the_libraries_and_the_tool_and_the_tool_installs_offline_and_runs()
    {
        string configuration = typeof(PackageTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        var dir = Directory.CreateTempSubdirectory("tcpchan-pack-").FullName;
        try
        {
            string packages = Path.Combine(dir, "packages");
            await RunAsync(["pack", Path.Combine(Repository.RepoRoot(), "TcpChan.sln"), "-c", configuration, "--no-build", "-o", packages, "-nodeReuse:false"]);

            var made = Directory.GetFiles(packages, "*.nupkg")
                .Select(f => Regex.Match(Path.GetFileName(f), @"^(.+?)\.(\d+\.\d+\.\d+[^/]*)\.nupkg$"))
                .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            Assert.Equal(Libraries.Append("TcpChan.Cli").Order(StringComparer.Ordinal), made.Keys.Order(StringComparer.Ordinal));
            string version = made["TcpChan.Cli"];
            Assert.Contains("<packageType name=\"DotnetTool\"", Nuspec(Path.Combine(packages, $"TcpChan.Cli.{version}.nupkg")), StringComparison.Ordinal);

            // Only the folder as a source, and a cache of our own: nothing from a feed, nothing stale.
            string config = Path.Combine(dir, "nuget.config");
            File.WriteAllText(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{packages}" />
                  </packageSources>
                </configuration>
                """);
            string tools = Path.Combine(dir, "tools");
            await RunAsync(
                ["tool", "install", "TcpChan.Cli", "--version", version, "--tool-path", tools, "--configfile", config],
                ("NUGET_PACKAGES", Path.Combine(dir, "cache")));

            string output = await RunAsync(["--version"], tool: Path.Combine(tools, OperatingSystem.IsWindows() ? "tcpchan.exe" : "tcpchan"));
            Assert.StartsWith(version, output.Trim(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Nuspec(string nupkg)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        using var reader = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        return reader.ReadToEnd();
    }

    /// <summary>Runs the SDK's dotnet (or <paramref name="tool"/>) and returns its standard output; a non-zero exit fails the test.</summary>
    private static async Task<string> RunAsync(string[] arguments, (string Name, string Value)? environment = null, string? tool = null)
    {
        // No MSBuild node or server left running after the test.
        var variables = new Dictionary<string, string>
        {
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        if (environment is { } variable)
        {
            variables[variable.Name] = variable.Value;
        }

        string command = tool ?? ChildProcess.Dotnet;
        var (exitCode, output, errors) = await ChildProcess.RunAsync(command, arguments, CommandTimeout, variables);
        Assert.True(exitCode == 0, $"'{command} {string.Join(' ', arguments)}' exited with {exitCode}:\n{output}\n{errors}");
        return output;
    }
}
