using Leakage.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>Batch norm folded into the convolution before it: exact algebra, so a folded copy computes the model's logits and input gradients.</summary>
/// <remarks>In float64: in float32 the two orders of summation differ by rounding, and where a ReLU input sits within that
/// rounding of zero the gradient takes the other branch (the ResNet-18 check saw input gradients 0.08% and 0.6% of their
/// largest entry apart on a loaded Zen 5); in float64 the folding's own error is what remains.</remarks>
[Collection(nameof(HeavySimulation))]
public class BatchNormFoldTests
{
    /// <summary>Running statistics and affine parameters away from their initial values, as after training; <paramref name="negative"/> flips one scale's sign in that batch norm.</summary>
    static void Randomise(nn.Module model, int seed, int? negative = null)
    {
        using var g = new Generator((ulong)seed, CPU);
        using var _ = no_grad();
        var norms = model.modules().OfType<BatchNorm2d>().ToList();
        for (int i = 0; i < norms.Count; i++)
        {
            var bn = norms[i];
            bn.running_mean!.copy_(randn(bn.running_mean.shape, generator: g) * 0.3);
            bn.running_var!.copy_(rand(bn.running_var.shape, generator: g) + 0.5);
            bn.weight!.copy_(rand(bn.weight.shape, generator: g) + 0.5);
            bn.bias!.copy_(randn(bn.bias.shape, generator: g) * 0.2);
            if (i == negative) bn.weight[0] = bn.weight[0].neg();
        }
        model.eval();
    }

    static (Tensor Logits, Tensor Gradient) LogitsAndGradient(nn.Module<Tensor, Tensor> model, Tensor x)
    {
        var input = x.detach().clone().requires_grad_(true);
        var logits = model.forward(input);
        // The attack's objective: cross-entropy to a target class, differentiated with respect to the input.
        using var loss = nn.functional.cross_entropy(logits, arange(x.shape[0], dtype: ScalarType.Int64) % 10);
        loss.backward();
        return (logits.detach(), input.grad!.detach().clone());
    }

    static void AssertSame(nn.Module<Tensor, Tensor> model, nn.Module<Tensor, Tensor> folded, int seed)
    {
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)seed, CPU);
        var x = rand([16, 3, 32, 32], dtype: ScalarType.Float64, generator: g);
        var (logits, gradient) = LogitsAndGradient(model, x);
        var (foldedLogits, foldedGradient) = LogitsAndGradient(folded, x);
        Assert.Equal(ScalarType.Float64, foldedLogits.dtype);
        var logitGap = (logits - foldedLogits).abs().max().item<double>();
        Assert.True(logitGap <= 1e-10, $"logits differ by up to {logitGap}");
        var gradientGap = ((gradient - foldedGradient).abs().max() / gradient.abs().max()).item<double>();
        Assert.True(gradientGap <= 1e-8, $"input gradients differ by up to {gradientGap} of their largest entry");
    }

    [Fact]
    public void A_folded_SmallCnn_gives_the_models_logits_and_input_gradients()
    {
        using var model = new SmallCnn(width: 4);
        model.to(ScalarType.Float64);
        Randomise(model, 1);
        using var folded = (SmallCnn)model.FoldedCopy();
        Assert.Equal(4, folded.FoldedStages);
        Assert.Equal(0, model.FoldedStages);
        AssertSame(model, folded, 2);
        // A copy of its own: a different fingerprint, so an attack on it caches apart from one on the model.
        Assert.NotEqual(Fingerprint.Of(model), Fingerprint.Of(folded));
    }

    [Fact]
    public void A_batch_norm_with_a_negative_scale_after_the_max_pool_is_kept_and_the_logits_still_match()
    {
        using var model = new SmallCnn(width: 4);
        model.to(ScalarType.Float64);
        Randomise(model, 3, negative: 1);   // the second stage's batch norm: s max(z) + t != max(s z + t) for s < 0
        using var folded = (SmallCnn)model.FoldedCopy();
        Assert.Equal(3, folded.FoldedStages);
        AssertSame(model, folded, 4);
    }

    [Fact]
    public void A_folded_ResNet18_gives_the_models_logits_and_input_gradients()
    {
        // Widths 4 and 8 crash libtorch 2.10 (a double free in the backward pass, the unfolded model's too): width 4 on one thread,
        // width 8 on a Zen 5 (family 26), where NNPACK reports unsupported hardware. The folding does not depend on the width.
        using var model = new ResNet18(width: 16);
        model.to(ScalarType.Float64);
        Randomise(model, 5, negative: 2); // conv-BN-ReLU with no pool between: every scale folds, whatever its sign
        using var folded = model.FoldedCopy();
        AssertSame(model, folded, 6);
    }
}
