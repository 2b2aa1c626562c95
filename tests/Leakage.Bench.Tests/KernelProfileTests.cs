using Leakage.Benchmarks;
using Leakage.Models;

namespace Leakage.Tests;

/// <summary>
/// <c>bench --kernels</c>' reading of oneDNN's verbose log: which lines are executions, what a
/// convolution costs in FLOP, and how executions become per-step kernels. (The CLI test runs it on
/// libtorch's own log.)
/// </summary>
public sealed class KernelProfileTests
{
    // Lines as libtorch 2.10's oneDNN 3.7.1 writes them with ONEDNN_VERBOSE=profile_exec (a PGD step of
    // SmallCnn width 24 at batch 500 on an AVX2 CPU), plus the same execution in oneDNN 2.x's format and
    // with ONEDNN_VERBOSE_TIMESTAMP=1.
    static readonly string[] Log =
    [
        "onednn_verbose,v1,info,oneDNN v3.7.1 (commit 8d263e693366ef8db40acc569cc7d8edf644556d)",
        "onednn_verbose,v1,info,cpu,runtime:OpenMP,nthr:2",
        "onednn_verbose,v1,info,cpu,isa:Intel AVX2",
        "onednn_verbose,v1,primitive,info,template:operation,engine,primitive,implementation,prop_kind,memory_descriptors,attributes,auxiliary,problem_desc,exec_time",
        "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:acdb::f0 dst:f32::blocked:Acdb24a::f0,attr-scratchpad:user,,48x24x3x3,0.0639648",
        "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx2,forward_training,src:f32::blocked:acdb::f0 wei:f32:a:blocked:Acdb24a::f0 bia:undef::undef::: dst:f32::blocked:acdb::f0,attr-scratchpad:user,alg:convolution_direct,mb500_ic24oc48_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1,16.5",
        "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_bwd:avx2+brg_conv_fwd:avx2,backward_data,src:f32::blocked:acdb::f0 wei:f32:a:blocked:Acdb24a::f0 bia:undef::undef::: dst:f32::blocked:acdb::f0,attr-scratchpad:user,alg:convolution_direct,mb500_ic3oc24_ih32oh32kh3sh1dh0ph1_iw32ow32kw3sw1dw0pw1,14.5",
        "onednn_verbose,exec,cpu,convolution,jit:avx2,forward_training,src_f32::blocked:abcd:f0 wei_f32::blocked:abcd:f0 bia_undef::undef::f0 dst_f32::blocked:abcd:f0,,alg:convolution_direct,mb500_ic24oc48_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1,17.5",
        "onednn_verbose,1733040000000.5,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx2,forward_training,src:f32::blocked:acdb::f0,attr-scratchpad:user,alg:convolution_direct,mb500_ic24oc48_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1,16.0",
        "onednn_verbose,v1,primitive,create:cache_hit,cpu,convolution,brg_conv_fwd:avx2,forward_training,src:f32::blocked:acdb::f0,,alg:convolution_direct,mb500_ic24oc48_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1,0.01",
        "Phases, ms per step: training 109.6",
    ];

    [Fact]
    public void Execution_lines_of_either_log_format_are_read_and_everything_else_is_skipped()
    {
        var calls = OneDnnCall.Parse(Log);
        Assert.Equal(5, calls.Count);
        Assert.Equal(new OneDnnCall("reorder", "jit:uni", "undef", "48x24x3x3", 0.0639648), calls[0]);
        Assert.Equal(("convolution", "brg_conv_bwd:avx2+brg_conv_fwd:avx2", "backward_data", 14.5),
            (calls[2].Primitive, calls[2].Implementation, calls[2].Propagation, calls[2].Milliseconds));
        Assert.Equal(("jit:avx2", 17.5), (calls[3].Implementation, calls[3].Milliseconds));   // oneDNN 2.x
        Assert.Equal(("brg_conv_fwd:avx2", 16.0), (calls[4].Implementation, calls[4].Milliseconds)); // with a timestamp
        Assert.Equal("ic24oc48_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1", calls[1].Layer);
    }

    [Fact]
    public void A_convolutions_flop_are_the_models_own_for_every_small_cnn_layer()
    {
        // The descriptor oneDNN prints for each SmallCnn convolution gives the FLOP ModelFlops counts.
        foreach (var layer in ModelFlops.Layers(ModelFactory.SmallCnnArch, 24).Where(l => l.Kernel == 3))
        {
            int s = layer.OutputSize;
            var problem = $"mb256_ic{layer.InChannels}oc{layer.OutChannels}_ih{s}oh{s}kh3sh1dh0ph1_iw{s}ow{s}kw3sw1dw0pw1";
            var call = new OneDnnCall("convolution", "brg_conv_fwd:avx2", "forward_training", problem, 1.0);
            Assert.Equal(256.0 * ModelFlops.FlopPerMac * layer.Macs, call.ConvolutionFlop);
        }
        // A square problem may come without its width fields; groups divide the input channels.
        Assert.Equal(2.0 * 8 * 64 * 4 * 4 * 32 * 9, new OneDnnCall("convolution", "x", "backward_data", "mb8_g2ic64oc64_ih4oh4kh3sh1dh0ph1", 1).ConvolutionFlop);
        Assert.Null(new OneDnnCall("reorder", "jit:uni", "undef", "48x24x3x3", 1).ConvolutionFlop);
        Assert.Null(new OneDnnCall("convolution", "x", "forward_training", "unreadable", 1).ConvolutionFlop);
    }

    [Fact]
    public void Executions_become_per_step_kernels_with_their_median_time_and_the_convolutions_share_of_the_step()
    {
        const string conv1 = "mb500_ic3oc24_ih32oh32kh3sh1dh0ph1_iw32ow32kw3sw1dw0pw1";
        const string conv2 = "mb500_ic24oc48_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1";
        var calls = new List<OneDnnCall>();
        // Four steps: the first (warm-up) slow; two weight reorders per step.
        foreach (var (a, b) in new[] { (30.0, 60.0), (10.0, 20.0), (12.0, 22.0), (11.0, 21.0) })
        {
            calls.Add(new("convolution", "brg_conv_fwd:avx2", "forward_training", conv1, a));
            calls.Add(new("convolution", "brg_conv_bwd:avx2", "backward_data", conv2, b));
            calls.Add(new("reorder", "jit:uni", "undef", "48x24x3x3", 0.5));
            calls.Add(new("reorder", "jit:uni", "undef", "48x24x3x3", 0.5));
        }
        var step = StepKernels.From(calls, steps: 4, stepSeconds: 0.05);

        var forward = step.Kernels.Single(k => k.Propagation == "forward_training");
        Assert.Equal((1.0, 11.5, 11.5), (forward.CallsPerStep, forward.MillisecondsPerCall, forward.MillisecondsPerStep)); // median of 30, 10, 12, 11
        var reorder = step.Kernels.Single(k => k.Primitive == "reorder");
        Assert.Equal((2.0, 1.0), (reorder.CallsPerStep, reorder.MillisecondsPerStep));
        Assert.Null(reorder.Gflops);
        Assert.Equal(2.0 * 500 * 24 * 32 * 32 * 3 * 9 / 11.5e6, forward.Gflops!.Value, 9);
        Assert.Equal(11.5 + 21.5, step.ConvolutionMilliseconds, 9);
        Assert.Equal((11.5 + 21.5) / 50, step.ConvolutionShare, 9);
        Assert.Equal(1.0, step.OtherOneDnnMilliseconds, 9);
        Assert.Equal(new Dictionary<string, double> { ["forward_training"] = 11.5, ["backward_data"] = 21.5 }, step.ByPropagation);
        Assert.Equal("backward_data", step.Kernels[0].Propagation); // the most expensive first
        double flop = 2.0 * 500 * (24 * 32 * 32 * 3 + 48 * 16 * 16 * 24) * 9;
        Assert.Equal(flop / 33e6, step.ConvolutionGflops, 9);
    }
}
