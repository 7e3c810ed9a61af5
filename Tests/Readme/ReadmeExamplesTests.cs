using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.Readme;

/// <summary>
/// Every C# block of README.md is a whole file of an example program, marked
/// <c>&lt;!-- README:begin PROGRAM/FILE.cs --&gt;</c>. The files of each program are compiled
/// as a new console project compiles them (<c>dotnet new console</c>: the SDK's implicit
/// usings, nullable on) against the assemblies of the TcpChan packages, with nothing added:
/// no using, no namespace, no helper. The program then runs as a process and must print what
/// the README's <c>PROGRAM/output</c> block says it prints.
/// </summary>
public class ReadmeExamplesTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    // What `dotnet new console` gets from <ImplicitUsings>enable</ImplicitUsings> (Microsoft.NET.Sdk):
    // the SDK writes exactly these into obj/*.GlobalUsings.g.cs. Not ours to add to.
    private const string SdkImplicitUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    // The assemblies of the packages. What they bring besides (the logging abstractions) is
    // also in ASP.NET Core's shared framework, which the programs are compiled and run with.
    private static readonly string[] PackageAssemblies =
    [
        "TcpChan.Core.dll",
        "TcpChan.Adapters.Tasks.dll",
        "TcpChan.Adapters.Sockets.dll",
        "TcpChan.Adapters.Pipelines.dll",
        "TcpChan.Adapters.AspNetCore.dll",
    ];

    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    public static TheoryData<string> ProgramNames() => new(Programs().Keys.Order(StringComparer.Ordinal));

    [Fact]
    public void Every_csharp_block_is_a_file_of_a_compiled_program()
    {
        var lines = ReadmeLines();
        var files = Repository.MarkedBlocks(lines).Where(b => b.Key.EndsWith(".cs", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(files);
        foreach (var (name, block) in files)
        {
            Assert.True(block.Length >= 2 && block[0] == "```csharp" && block[^1] == "```", $"README block '{name}' is not exactly one ```csharp block.");
        }

        // A C# block outside the markers would be code nobody compiles.
        int marked = files.Count;
        int fences = lines.Count(l => l.TrimEnd() == "```csharp");
        Assert.True(fences == marked, $"README.md has {fences} ```csharp blocks, {marked} of them marked as program files.");
    }

    [Theory]
    [MemberData(nameof(ProgramNames))]
    public async Task Readme_program_compiles_as_is_and_prints_what_the_readme_says(string program)
    {
        var (files, expected) = Programs()[program];
        Assert.True(expected is not null, $"README.md shows no output of '{program}' (a ```text block marked README:begin {program}/output).");
        var parse = new CSharpParseOptions(LanguageVersion.Default);
        var trees = files
            .Select(f => CSharpSyntaxTree.ParseText(f.Source, parse, path: f.Name))
            .Append(CSharpSyntaxTree.ParseText(SdkImplicitUsings, parse, path: "GlobalUsings.g.cs"));
        var compilation = CSharpCompilation.Create(
            program,
            trees,
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));

        var dir = Directory.CreateTempSubdirectory("tcpchan-readme-").FullName;
        try
        {
            string dll = Path.Combine(dir, program + ".dll");
            var emitted = compilation.Emit(dll);

            // Warnings too: README code is code people copy.
            var problems = emitted.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()).ToList();
            Assert.True(problems.Count == 0, $"README program '{program}' does not compile cleanly:\n{string.Join("\n", problems)}");
            Assert.True(emitted.Success);

            WriteRuntimeConfig(Path.Combine(dir, program + ".runtimeconfig.json"));
            foreach (var name in PackageAssemblies)
            {
                File.Copy(Path.Combine(AppContext.BaseDirectory, name), Path.Combine(dir, name));
            }

            var (exitCode, output) = await RunAsync(dll);
            Assert.True(exitCode == 0, $"README program '{program}' exited with {exitCode}:\n{output}");
            Assert.Equal(expected!.TrimEnd(), output.Replace("\r\n", "\n").TrimEnd());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Readme_test_command_is_what_CI_runs()
    {
        // .ci/run runs the README's command as written (and only pipes its output on).
        string ci = Repository.ReadRepoFile(".ci/run").Replace("\r\n", "\n").Split('\n').Single(l => l.StartsWith("dotnet test", StringComparison.Ordinal));
        string readme = ReadmeLines().Single(l => l.StartsWith("dotnet test", StringComparison.Ordinal));
        Assert.True(ci == readme || ci.StartsWith(readme + " 2>&1 |", StringComparison.Ordinal), $".ci/run runs '{ci}', the README says '{readme}'.");
    }

    private static string[] ReadmeLines() => Repository.ReadRepoFile("README.md").Replace("\r\n", "\n").Split('\n');

    // Each program's files (in README order) and its output block's text, by program name.
    private static Dictionary<string, (List<(string Name, string Source)> Files, string? Output)> Programs()
    {
        var programs = new Dictionary<string, (List<(string Name, string Source)> Files, string? Output)>();
        foreach (var (name, block) in Repository.MarkedBlocks(ReadmeLines()))
        {
            int slash = name.IndexOf('/', StringComparison.Ordinal);
            Assert.True(slash > 0, $"README block '{name}' is not named PROGRAM/FILE.cs or PROGRAM/output.");
            string program = name[..slash];
            string part = name[(slash + 1)..];
            if (!programs.TryGetValue(program, out var entry))
            {
                entry = ([], null);
            }

            string body = string.Join("\n", block.Length >= 2 ? block[1..^1] : []);
            entry = part == "output" ? (entry.Files, body) : (entry.Files, entry.Output);
            if (part != "output")
            {
                entry.Files.Add((part, body));
            }

            programs[program] = entry;
        }

        return programs;
    }

    // The shared frameworks a console app runs on (ASP.NET Core's comes with the AspNetCore
    // package's framework reference), and the packages' assemblies.
    private static MetadataReference[] LoadReferences()
    {
        string[] frameworkDirs =
        [
            Path.GetDirectoryName(typeof(object).Assembly.Location)!,
            Path.GetDirectoryName(typeof(Microsoft.AspNetCore.Builder.WebApplication).Assembly.Location)!,
        ];
        var framework = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => frameworkDirs.Contains(Path.GetDirectoryName(p)) && !PackageAssemblies.Contains(Path.GetFileName(p)));
        var packages = PackageAssemblies.Select(name => Path.Combine(AppContext.BaseDirectory, name));
        return framework.Concat(packages).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray();
    }

    private static void WriteRuntimeConfig(string path)
    {
        string version = $"{Environment.Version.Major}.{Environment.Version.Minor}.0";
        File.WriteAllText(path, $$"""
            {
              "runtimeOptions": {
                "frameworks": [
                  { "name": "Microsoft.NETCore.App", "version": "{{version}}" },
                  { "name": "Microsoft.AspNetCore.App", "version": "{{version}}" }
                ]
              }
            }
            """);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string dll)
    {
        var (exitCode, output, errors) = await ChildProcess.RunAsync(ChildProcess.Dotnet, [dll], RunTimeout);
        return (exitCode, output + (errors.Length > 0 ? "\nstderr:\n" + errors : string.Empty));
    }
}

/// <summary>Files of the repository, and the marked blocks of README.md.</summary>
internal static class Repository
{
    private static readonly Regex Marker = new(@"^<!-- README:(begin|end) ([\w./-]+) -->$");

    /// <summary>The lines strictly between each "begin NAME" and "end NAME" marker, by name, in order.</summary>
    public static List<KeyValuePair<string, string[]>> MarkedBlocks(string[] lines)
    {
        var blocks = new List<KeyValuePair<string, string[]>>();
        string? open = null;
        int start = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            var m = Marker.Match(lines[i].Trim());
            if (!m.Success)
            {
                continue;
            }

            string name = m.Groups[2].Value;
            if (m.Groups[1].Value == "begin")
            {
                Assert.True(open is null, $"'{name}' begins inside '{open}'.");
                open = name;
                start = i + 1;
            }
            else
            {
                Assert.True(open == name, $"'end {name}' without its begin.");
                Assert.True(blocks.All(b => b.Key != name), $"'{name}' is marked twice.");
                blocks.Add(new(name, lines[start..i]));
                open = null;
            }
        }

        Assert.True(open is null, $"'{open}' is never ended.");
        return blocks;
    }

    public static string ReadRepoFile(string relativePath) => File.ReadAllText(Path.Combine(RepoRoot(), relativePath));

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TcpChan.sln")))
        {
            dir = dir.Parent;
        }

        Assert.True(dir is not null, $"No folder above {AppContext.BaseDirectory} has TcpChan.sln.");
        return dir.FullName;
    }
}
