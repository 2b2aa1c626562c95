using Leakage.Compute;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>results.json's provenance: the machine and libraries that computed a run.</summary>
public class ProvenanceTests
{
    [Fact]
    public void Cpuinfo_gives_the_model_and_only_the_vector_extensions_the_cpu_reports()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cpuinfo-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(path, "processor\t: 0\nmodel name\t: AMD EPYC 9R14 96-Core Processor\nflags\t\t: fpu sse4_1 sse4_2 avx avx2 fma avx512f avx512_bf16\n\nprocessor\t: 1\nmodel name\t: other\n");
            var cpu = CpuInfo.Read(path);
            Assert.Equal("AMD EPYC 9R14 96-Core Processor", cpu.Model);
            Assert.Contains("avx512_bf16", cpu.Flags);
            Assert.DoesNotContain("amx_bf16", cpu.Flags);
            Assert.True(cpu.HasBf16);
            Assert.Null(cpu.Core); // no vendor or family in this file
        }
        finally { File.Delete(path); }
        var missing = CpuInfo.Read(path);
        Assert.Equal((null, 0, false), (missing.Model, missing.Flags.Count, missing.HasBf16));
    }

    [Theory]
    [InlineData("AuthenticAMD", 23, 1, "AuthenticAMD family 23 model 1 (Zen 1)")]
    [InlineData("AuthenticAMD", 25, 1, "AuthenticAMD family 25 model 1 (Zen 3)")]
    [InlineData("AuthenticAMD", 25, 17, "AuthenticAMD family 25 model 17 (Zen 4)")]
    [InlineData("GenuineIntel", 6, 143, "GenuineIntel family 6 model 143 (Sapphire Rapids)")]
    [InlineData("GenuineIntel", 6, 42, "GenuineIntel family 6 model 42")]
    public void The_core_generation_is_named_because_the_model_name_often_is_only_AMD_EPYC(string vendor, int family, int model, string expected)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cpuinfo-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(path, $"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\nvendor_id\t: x\ncpu family\t: 1\nmodel\t\t: 1\n");
            Assert.Equal(expected, CpuInfo.Read(path).Core);
        }
        finally { File.Delete(path); }
        Assert.Null(CpuInfo.Read(path).Core);
    }

    [Fact]
    public void This_machine_is_described_with_its_threads_library_and_precision()
    {
        var p = Provenance.Current(CPU, "fp32");
        Assert.False(string.IsNullOrWhiteSpace(p.CpuModel));
        Assert.Equal(get_num_threads(), p.Threads);
        Assert.Equal(__version__, p.Libtorch);
        Assert.Equal("cpu", p.Device);
        Assert.Equal("fp32 (attacks float32)", p.Precision);
        var flags = CpuInfo.Read().Flags;
        Assert.All(p.VectorExtensions, e => Assert.Contains(e, flags));
        Assert.Equal(Provenance.Extensions.Where(flags.Contains), p.VectorExtensions);
        Assert.Equal(CpuInfo.Read().Core, p.CpuCore);
    }

    [SkippableFact]
    public void Libtorch_names_its_oneDNN_build_and_the_instruction_set_of_its_own_kernels()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64,
            "libtorch's C++ strings are read on x86-64 Linux only.");
        var p = Provenance.Current(CPU, "fp32");
        // at::get_mkldnn_version: "Intel(R) MKL-DNN v3.x.y (Git Hash ...)" in libtorch 2.x.
        Assert.Matches(@"v\d+\.\d+(\.\d+)? \(Git Hash [0-9a-f]+\)", p.OneDnn);
        // ATen's capability can never exceed what the CPU reports.
        Assert.Contains(p.CpuCapability, new[] { "DEFAULT", "AVX2", "AVX512", "ZVECTOR", "SVE256", "VSX" });
        if (p.CpuCapability == "AVX512") Assert.Contains("avx512f", p.VectorExtensions);
        if (p.CpuCapability == "AVX2") Assert.Contains("avx2", p.VectorExtensions);
    }
}
