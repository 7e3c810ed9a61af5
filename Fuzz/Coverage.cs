using System.Reflection;
using System.Runtime.Loader;
using Mono.Cecil;
using Mono.Cecil.Cil;
using Mono.Cecil.Rocks;
using TcpChan.Core;

namespace TcpChan.Fuzz;

/// <summary>
/// Edge coverage of the core, AFL-style, in process (SharpFuzz + AFL++, the other engine, was
/// measured to reach less per minute: Fuzz/README.md): a copy of
/// TcpChan.Core.dll is rewritten with Mono.Cecil so that every basic block does
/// <c>Map[cur ^ Prev]++; Prev = cur >> 1</c> on a static byte map injected into the assembly,
/// and the fuzzer runs in a load context where TcpChan.Core is that copy. Each (edge, hit-count
/// bucket) is then a feature: an input that covers a new one joins the corpus.
/// </summary>
public static class Coverage
{
    public const string TypeName = "TcpChanFuzzCoverage";
    public const int MapSize = 1 << 16;

    private static byte[]? s_map;
    private static byte[]? s_blocks;
    private static string[] s_blockNames = [];
    private static FieldInfo? s_prev;

    /// <summary>True when the core in use is the instrumented copy.</summary>
    public static bool Enabled { get; private set; }

    /// <summary>Finds the map of an instrumented core; false for the plain one.</summary>
    public static bool Attach()
    {
        var type = typeof(Connection).Assembly.GetType(TypeName);
        if (type is null)
        {
            return false;
        }

        s_map = (byte[]?)type.GetField("Map")!.GetValue(null);
        s_blocks = (byte[]?)type.GetField("Blocks")!.GetValue(null);
        s_prev = type.GetField("Prev");
        string names = Path.Combine(Path.GetDirectoryName(typeof(Connection).Assembly.Location)!, "blocks.txt");
        s_blockNames = File.Exists(names) ? File.ReadAllLines(names) : [];
        Enabled = s_map is not null;
        return Enabled;
    }

    public static void Reset()
    {
        if (s_map is not null)
        {
            Array.Clear(s_map);
            s_prev!.SetValue(null, 0);
        }
    }

    /// <summary>Basic blocks of the core run at least once since the start, and how many there are.</summary>
    public static (int Hit, int Total) Blocks => s_blocks is null ? (0, 0) : (s_blocks.Count(b => b != 0), s_blocks.Length);

    /// <summary>Writes the blocks never run, grouped by method (to see what the fuzzer does not reach).</summary>
    public static void WriteReport(TextWriter output)
    {
        if (s_blocks is null)
        {
            return;
        }

        var (hit, total) = Blocks;
        output.WriteLine($"# {hit} of {total} basic blocks of TcpChan.Core run ({100.0 * hit / Math.Max(1, total):F1}%). Blocks never run, by method:");
        for (int i = 0; i < s_blocks.Length && i < s_blockNames.Length; i++)
        {
            if (s_blocks[i] == 0)
            {
                output.WriteLine(s_blockNames[i]);
            }
        }
    }

    /// <summary>Adds "edge:index:bucket" for every edge hit since <see cref="Reset"/>; returns how many edges.</summary>
    public static int Collect(HashSet<string> features)
    {
        if (s_map is null)
        {
            return 0;
        }

        int edges = 0;
        var span = s_map.AsSpan();
        int at = 0;
        while (true)
        {
            int next = span.Slice(at).IndexOfAnyExcept((byte)0);
            if (next < 0)
            {
                break;
            }

            at += next;
            int count = span[at];
            int bucket = count switch { 1 => 1, 2 => 2, 3 => 3, < 8 => 4, < 16 => 5, < 32 => 6, < 128 => 7, _ => 8 };
            features.Add($"edge:{at}:{bucket}");
            edges++;
            at++;
        }

        return edges;
    }

    /// <summary>Writes an instrumented copy of <paramref name="input"/>; returns the number of probes.</summary>
    public static int Instrument(string input, string output)
    {
        using var assembly = AssemblyDefinition.ReadAssembly(input, new ReaderParameters { ReadSymbols = false });
        var module = assembly.MainModule;
        var byteArray = new ArrayType(module.TypeSystem.Byte);
        var coverage = new TypeDefinition(string.Empty, TypeName, Mono.Cecil.TypeAttributes.Public | Mono.Cecil.TypeAttributes.Abstract | Mono.Cecil.TypeAttributes.Sealed | Mono.Cecil.TypeAttributes.BeforeFieldInit, module.TypeSystem.Object);
        var map = new FieldDefinition("Map", Mono.Cecil.FieldAttributes.Public | Mono.Cecil.FieldAttributes.Static, byteArray);
        var prev = new FieldDefinition("Prev", Mono.Cecil.FieldAttributes.Public | Mono.Cecil.FieldAttributes.Static, module.TypeSystem.Int32);
        var blocksField = new FieldDefinition("Blocks", Mono.Cecil.FieldAttributes.Public | Mono.Cecil.FieldAttributes.Static, byteArray);
        coverage.Fields.Add(map);
        coverage.Fields.Add(prev);
        coverage.Fields.Add(blocksField);
        var cctor = new MethodDefinition(".cctor", Mono.Cecil.MethodAttributes.Private | Mono.Cecil.MethodAttributes.Static | Mono.Cecil.MethodAttributes.HideBySig | Mono.Cecil.MethodAttributes.SpecialName | Mono.Cecil.MethodAttributes.RTSpecialName, module.TypeSystem.Void);
        var il = cctor.Body.GetILProcessor();
        il.Emit(OpCodes.Ldc_I4, MapSize);
        il.Emit(OpCodes.Newarr, module.TypeSystem.Byte);
        il.Emit(OpCodes.Stsfld, map);
        var blocksSize = il.Create(OpCodes.Ldc_I4, 0);
        il.Append(blocksSize);
        il.Emit(OpCodes.Newarr, module.TypeSystem.Byte);
        il.Emit(OpCodes.Stsfld, blocksField);
        il.Emit(OpCodes.Ret);
        coverage.Methods.Add(cctor);

        var random = new Random(12345);
        var blocks = new List<string>();
        foreach (var type in module.GetTypes().ToList())
        {
            foreach (var method in type.Methods.Where(m => m.HasBody))
            {
                InstrumentMethod(method, map, prev, blocksField, blocks, random);
            }
        }

        blocksSize.Operand = blocks.Count;
        module.Types.Add(coverage);
        assembly.Write(output);
        File.WriteAllLines(Path.Combine(Path.GetDirectoryName(output)!, "blocks.txt"), blocks);
        return blocks.Count;
    }

    private static void InstrumentMethod(MethodDefinition method, FieldDefinition map, FieldDefinition prev, FieldDefinition blocksField, List<string> blocks, Random random)
    {
        var body = method.Body;
        body.SimplifyMacros();
        var instructions = body.Instructions;
        var leaders = new HashSet<Instruction> { instructions[0] };
        foreach (var instruction in instructions)
        {
            switch (instruction.Operand)
            {
                case Instruction target:
                    leaders.Add(target);
                    if (instruction.OpCode.FlowControl == FlowControl.Cond_Branch && instruction.Next is { } fallThrough)
                    {
                        leaders.Add(fallThrough);
                    }

                    break;
                case Instruction[] targets:
                    leaders.UnionWith(targets);
                    if (instruction.Next is { } next)
                    {
                        leaders.Add(next);
                    }

                    break;
            }
        }

        foreach (var handler in body.ExceptionHandlers)
        {
            leaders.Add(handler.HandlerStart);
            if (handler.FilterStart is not null)
            {
                leaders.Add(handler.FilterStart);
            }
        }

        var il = body.GetILProcessor();
        foreach (var leader in instructions.Where(leaders.Contains).ToList())
        {
            int id = random.Next(MapSize);
            int block = blocks.Count;
            blocks.Add($"{method.DeclaringType.FullName}::{method.Name} IL_{leader.Offset:x4}");
            var probe = new[]
            {
                il.Create(OpCodes.Ldsfld, blocksField),
                il.Create(OpCodes.Ldc_I4, block),
                il.Create(OpCodes.Ldc_I4_1),
                il.Create(OpCodes.Stelem_I1),
                il.Create(OpCodes.Ldsfld, map),
                il.Create(OpCodes.Ldc_I4, id),
                il.Create(OpCodes.Ldsfld, prev),
                il.Create(OpCodes.Xor),
                il.Create(OpCodes.Ldelema, method.Module.TypeSystem.Byte),
                il.Create(OpCodes.Dup),
                il.Create(OpCodes.Ldind_U1),
                il.Create(OpCodes.Ldc_I4_1),
                il.Create(OpCodes.Add),
                il.Create(OpCodes.Conv_U1),
                il.Create(OpCodes.Stind_I1),
                il.Create(OpCodes.Ldc_I4, id >> 1),
                il.Create(OpCodes.Stsfld, prev),
            };

            // Everything that pointed at the leader (branches, switch tables, handler bounds) now points at its probe.
            foreach (var instruction in instructions)
            {
                if (instruction.Operand == leader)
                {
                    instruction.Operand = probe[0];
                }
                else if (instruction.Operand is Instruction[] targets)
                {
                    for (int i = 0; i < targets.Length; i++)
                    {
                        if (targets[i] == leader)
                        {
                            targets[i] = probe[0];
                        }
                    }
                }
            }

            foreach (var handler in body.ExceptionHandlers)
            {
                if (handler.TryStart == leader)
                {
                    handler.TryStart = probe[0];
                }

                if (handler.TryEnd == leader)
                {
                    handler.TryEnd = probe[0];
                }

                if (handler.HandlerStart == leader)
                {
                    handler.HandlerStart = probe[0];
                }

                if (handler.HandlerEnd == leader)
                {
                    handler.HandlerEnd = probe[0];
                }

                if (handler.FilterStart == leader)
                {
                    handler.FilterStart = probe[0];
                }
            }

            foreach (var instruction in probe)
            {
                il.InsertBefore(leader, instruction);
            }
        }

        body.MaxStackSize += 4;
        body.OptimizeMacros();
    }

    /// <summary>
    /// Runs <paramref name="run"/>'s class again in a load context whose TcpChan.Core is an
    /// instrumented copy (made in a temporary folder); returns its exit code.
    /// </summary>
    public static int RunInstrumented(string[] args, TextWriter output)
    {
        string baseDir = AppContext.BaseDirectory;
        string dir = Path.Combine(Path.GetTempPath(), $"tcpchan-fuzz-coverage-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string core = Path.Combine(dir, "TcpChan.Core.dll");
        int probes = Instrument(Path.Combine(baseDir, "TcpChan.Core.dll"), core);
        output.WriteLine($"coverage: instrumented TcpChan.Core with {probes} block probes ({MapSize}-byte edge map)");
        var context = new CoverageLoadContext(core, Path.Combine(baseDir, "TcpChan.Fuzz.dll"));
        var fuzz = context.LoadFromAssemblyName(new AssemblyName("TcpChan.Fuzz"));
        var entry = fuzz.GetType("TcpChan.Fuzz.Cli")!.GetMethod("Run")!;
        try
        {
            return (int)entry.Invoke(null, [args])!;
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private sealed class CoverageLoadContext : AssemblyLoadContext
    {
        private readonly string _core;
        private readonly string _fuzz;

        public CoverageLoadContext(string core, string fuzz)
            : base("tcpchan-fuzz-coverage")
        {
            _core = core;
            _fuzz = fuzz;
        }

        protected override Assembly? Load(AssemblyName assemblyName) => assemblyName.Name switch
        {
            "TcpChan.Core" => LoadFromAssemblyPath(_core),
            "TcpChan.Fuzz" => LoadFromAssemblyPath(_fuzz),
            _ => null,
        };
    }
}
