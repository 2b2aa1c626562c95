using System.Reflection;
using System.Reflection.Emit;
using Xunit.Abstractions;

namespace Leakage.Tests;

/// <summary>
/// The folders of lib/Leakage (namespaces Leakage.X) depend on each other without cycles, read from
/// the compiled library: type signatures and every type, method and field the method bodies touch,
/// so a reference through a fully qualified name or a sibling namespace counts as much as a using line.
/// </summary>
public class LayeringTests(ITestOutputHelper output)
{
    /// <summary>
    /// Dependencies that close a cycle and are still to be removed; empty, and it may only stay so or
    /// shrink: an entry that no longer exists fails too.
    /// </summary>
    static readonly (string From, string To)[] KnownBackEdges = [];

    [Fact]
    public void The_library_folders_form_no_cycle()
    {
        var edges = FolderEdges();
        output.WriteLine(string.Join("\n", edges.OrderBy(e => e.Key).Select(e => $"{e.Key} -> {string.Join(", ", e.Value.Order())}")));
        foreach (var (from, to) in KnownBackEdges)
            Assert.True(edges.TryGetValue(from, out var t) && t.Contains(to), $"{from} -> {to} is gone: remove it from {nameof(KnownBackEdges)}.");

        var graph = edges.ToDictionary(e => e.Key, e => e.Value.Where(to => !KnownBackEdges.Contains((e.Key, to))).ToHashSet());
        var cycle = FindCycle(graph);
        Assert.True(cycle is null, $"Folders of lib/Leakage depend on each other in a cycle: {string.Join(" -> ", cycle ?? [])}.");
    }

    [Fact]
    public void The_scan_sees_references_from_method_bodies_and_signatures()
    {
        var edges = FolderEdges();
        // Known one-way dependencies, one from a signature and one from a method body only.
        Assert.Contains("Models", edges["Training"]);        // Trainer.Train(nn.Module ...) calls ITrainingHooks in its body
        Assert.Contains("Attacks", edges["Robust"]);         // LinearPgd uses the attack step and the L2 ball geometry
        Assert.DoesNotContain("Robust", edges["Attacks"]);
        Assert.DoesNotContain("Experiment", edges["Scale"]);  // the workers that run steps live in Experiment/Scaling
        Assert.False(edges.TryGetValue("Native", out var native) && native.Count > 0, $"Native depends on {string.Join(", ", native ?? [])}");
    }

    static string? Folder(Type? t)
    {
        while (t is { IsNested: true }) t = t.DeclaringType;
        var ns = t?.Namespace;
        return ns is not null && ns.StartsWith("Leakage.", StringComparison.Ordinal) ? ns.Split('.')[1] : null;
    }

    static Dictionary<string, HashSet<string>> FolderEdges()
    {
        var assembly = typeof(Leakage.Models.ModelFactory).Assembly;
        var edges = new Dictionary<string, HashSet<string>>();
        foreach (var type in assembly.GetTypes())
        {
            var from = Folder(type);
            if (from is null) continue;
            if (!edges.TryGetValue(from, out var set)) edges[from] = set = [];
            foreach (var used in Referenced(type))
                if (Folder(used) is { } to && to != from && used.Assembly == assembly) set.Add(to);
        }
        return edges;
    }

    const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    static IEnumerable<Type> Referenced(Type type)
    {
        var found = new List<Type>();
        void Add(Type? t)
        {
            if (t is null) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            found.Add(t);
            if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) Add(a);
        }
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        foreach (var f in type.GetFields(All)) Add(f.FieldType);
        foreach (var p in type.GetProperties(All)) Add(p.PropertyType);
        foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
            foreach (var t in BodyReferences(m)) Add(t);
        }
        return found;
    }

    static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The declaring types of the members and the types named by tokens in <paramref name="method"/>'s IL.</summary>
    static IEnumerable<Type> BodyReferences(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException) { il = null; }
        if (il is null) yield break;
        var module = method.Module;
        Type[]? typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE && i + 1 < il.Length ? (short)(0xFE00 | il[i + 1]) : il[i];
            if (!OpCodesByValue.TryGetValue(value, out var op)) yield break;
            i += op.Size;
            int operand = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op.OperandType is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
            {
                MemberInfo? member;
                try { member = module.ResolveMember(BitConverter.ToInt32(il, i), typeArgs, methodArgs); }
                catch (ArgumentException) { member = null; }
                switch (member)
                {
                    case Type t: yield return t; break;
                    case FieldInfo f: yield return f.DeclaringType!; yield return f.FieldType; break;
                    case MethodBase m:
                        yield return m.DeclaringType!;
                        if (m.IsGenericMethod) foreach (var a in m.GetGenericArguments()) yield return a;
                        break;
                }
            }
            i += operand;
        }
    }

    static List<string>? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var state = new Dictionary<string, int>();   // 1 on the current path, 2 done
        var path = new List<string>();
        List<string>? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var next in graph.GetValueOrDefault(node) ?? [])
            {
                if (state.GetValueOrDefault(next) == 1) return [.. path.Skip(path.IndexOf(next)), next];
                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } c) return c;
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (var node in graph.Keys.Order())
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle) return cycle;
        return null;
    }
}
