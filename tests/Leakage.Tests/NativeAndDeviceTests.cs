using Leakage.Compute;
using Leakage.Native;
using Leakage.Tests.Support;

namespace Leakage.Tests;

public class NativeAndDeviceTests
{
    static string? LoadedTorchSharpNative()
    {
        var dirs = (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return dirs.Select(d => Path.Combine(d, "libLibTorchSharp.so")).FirstOrDefault(File.Exists);
    }

    [SkippableFact]
    public void The_glibcxx_version_need_of_the_loaded_torchsharp_library_is_weak_exactly_where_needed()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "ELF only");
        var lib = LoadedTorchSharpNative();
        Skip.If(lib is null, "libLibTorchSharp.so not found in the native search path");
        var entries = ElfVersionNeeds.Read(File.ReadAllBytes(lib!), lib!);
        var need = Assert.Single(entries, e => e.Version == TorchNative.NeededVersion);
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.Equal(!TorchNative.SystemLibStdCxxHasVersion(), need.IsWeak);
        // Every other version need is untouched.
        Assert.All(entries.Where(e => e.Version != TorchNative.NeededVersion), e => Assert.False(e.IsWeak));
    }

    [SkippableFact]
    public void Marking_a_version_weak_changes_only_its_flags_and_is_idempotent()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "ELF only");
        var lib = LoadedTorchSharpNative();
        Skip.If(lib is null, "libLibTorchSharp.so not found");
        var original = File.ReadAllBytes(lib!);
        var copy = (byte[])original.Clone();
        // Start from a copy where the entry is strong again, as shipped.
        var entry = ElfVersionNeeds.Read(copy, "copy").Single(e => e.Version == "GLIBCXX_3.4.30");
        Assert.Equal(1, ElfVersionNeeds.MarkWeak(copy, "GLIBCXX_3.4.30", "copy"));
        Assert.Equal(0, ElfVersionNeeds.MarkWeak(copy, "GLIBCXX_3.4.30", "copy"));
        var diffs = Enumerable.Range(0, copy.Length).Where(i => copy[i] != original[i]).ToList();
        Assert.Single(diffs);
        Assert.Equal(entry.FlagsOffset, diffs[0]);
        Assert.True(ElfVersionNeeds.Read(copy, "copy").Single(e => e.Version == "GLIBCXX_3.4.30").IsWeak);
    }

    [Fact]
    public void A_file_that_is_not_elf_is_refused_by_name()
    {
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(new byte[100], "/x/notelf.so"));
        Assert.Contains("/x/notelf.so", e.Message);
    }

    [Fact]
    public void An_unknown_device_lists_the_valid_choices()
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Parse("tpu"));
        Assert.Contains("auto, cpu, cuda", e.Message);
        Assert.Equal(DeviceKind.Cuda, Devices.Parse(" CUDA "));
    }

    [SkippableFact]
    public void Cuda_requested_without_cuda_is_a_clear_error()
    {
        Skip.If(Devices.CudaAvailable(), "this machine has CUDA");
        var e = Assert.Throws<InvalidOperationException>(() => Devices.Select("cuda"));
        Assert.Contains("--device cpu", e.Message);
        Assert.Equal(TorchSharp.DeviceType.CPU, Devices.Select("auto").type);
    }
}
