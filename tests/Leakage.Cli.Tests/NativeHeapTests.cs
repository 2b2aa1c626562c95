using System.Text.Json;
using Leakage.Benchmarks;
using Leakage.Cli.Tests.Support;
using Leakage.Compute;
using Leakage.Native;
using Leakage.IO;

namespace Leakage.Cli.Tests;

/// <summary>
/// <see cref="NativeHeap"/> read back from glibc in a child process (the CLI's hidden
/// <c>bench --native-heap-child</c>): mallopt is process-wide and its effect is pinned on the main
/// thread's arena, which only a process of its own offers a test. The child trains a few steps, then
/// mallocs a 64 MiB block on its main thread and reports glibc's <c>mallinfo2</c> around it.
/// </summary>
public class NativeHeapTests
{
    static async Task<NativeHeapChild> Child(IReadOnlyDictionary<string, string> environment)
    {
        using var dir = new TempDir();
        var outcome = await CliProcess.RunAsync(["bench", "--native-heap-child", "--quick", "--threads", "1"], dir["cache"], TimeSpan.FromMinutes(3), environment);
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var line = outcome.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last(l => l.StartsWith('{'));
        return JsonSerializer.Deserialize<NativeHeapChild>(line, Artifacts.Json)!;
    }

    static bool UserSetsMalloc() =>
        Environment.GetEnvironmentVariables().Keys.Cast<string>().Any(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) && k.EndsWith('_'))
        || (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc", StringComparison.Ordinal);

    [SkippableFact]
    public async Task Configured_heap_serves_a_large_block_without_mmap_and_keeps_its_top_after_the_free()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "glibc's malloc settings are a Linux matter.");
        Skip.If(UserSetsMalloc(), "This environment sets glibc malloc parameters, so NativeHeap stands aside.");
        var on = await Child(new Dictionary<string, string> { [NativeHeap.SwitchVariable] = "on" });
        Assert.True(on.Configured, on.HeapStatus);
        Assert.Equal("configured", on.HeapStatus);
        var block = on.LargeBlock;
        Skip.If(block is null, "This C library has no mallinfo2 (glibc 2.33 and later).");
        Assert.Equal(Benchmark.ProbeBlockBytes, block!.Bytes);
        // Served from the heap: glibc's count of bytes in mmap'd chunks did not grow while the block was held ...
        Assert.False(block.Mmapped, $"mmap'd bytes {block.MmappedBefore} -> {block.MmappedWhileHeld}");
        Assert.True(block.MmappedWhileHeld <= block.MmappedBefore, $"mmap'd bytes {block.MmappedBefore} -> {block.MmappedWhileHeld}");
        // ... and after the free the main arena kept it at its top (below the trim threshold), instead of returning it.
        Assert.InRange(block.TopKeptAfterFree, block.Bytes, NativeHeap.TrimThresholdBytes + (64L << 20) + block.Bytes);
        Assert.True(on.ImagesPerSecond > 0 && on.StepSeconds.Count > 0);
    }

    [SkippableTheory]
    [InlineData(NativeHeap.SwitchVariable, "off", "off (LEAKAGE_NATIVE_HEAP=off)")]
    [InlineData("MALLOC_TOP_PAD_", "1048576", "left to the environment (MALLOC_TOP_PAD_)")]
    [InlineData("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1048576", "left to the environment (GLIBC_TUNABLES)")]
    public async Task The_switch_and_the_users_own_malloc_settings_make_it_stand_aside(string variable, string value, string status)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "glibc's malloc settings are a Linux matter.");
        Skip.If(UserSetsMalloc(), "This environment sets glibc malloc parameters already.");
        var child = await Child(new Dictionary<string, string> { [variable] = value });
        Assert.False(child.Configured);
        Assert.Equal(status, child.HeapStatus);
        var block = child.LargeBlock;
        Skip.If(block is null, "This C library has no mallinfo2 (glibc 2.33 and later).");
        // glibc as configured by default (or by the user): a 64 MiB block is above its largest mmap threshold, so it gets an mmap of its own.
        Assert.True(block!.Mmapped, $"mmap'd bytes {block.MmappedBefore} -> {block.MmappedWhileHeld}");
    }
}
