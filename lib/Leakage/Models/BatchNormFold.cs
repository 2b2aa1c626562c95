using Leakage.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Leakage.Models;

/// <summary>
/// Folding an eval-mode batch norm into the convolution before it: in eval mode a batch norm is the
/// per-channel affine map y = s x + t with s = gamma / sqrt(var + eps) and t = beta - mean s, so a
/// convolution W followed by it is the convolution s W with bias t (exact algebra; floating point
/// rounds differently). The attack, evaluation and feature extraction run on the folded copy: the
/// batch norm's memory-bound pass disappears into the convolution's bias.
/// </summary>
public static class BatchNormFold
{
    /// <summary>The scale s and shift t of <paramref name="bn"/>'s eval-mode affine map (new tensors, no grad).</summary>
    public static (Tensor Scale, Tensor Shift) Affine(BatchNorm2d bn)
    {
        using var _ = no_grad();
        var mean = bn.running_mean ?? throw new InvalidOperationException("A batch norm without running statistics cannot be folded.");
        var variance = bn.running_var!;
        var scale = (bn.weight is { } g ? g.detach() : ones_like(mean)) / Scalars.With(bn.eps, eps => (variance + eps).sqrt());
        var shift = (bn.bias is { } b ? b.detach() : zeros_like(mean)) - mean * scale;
        return (scale, shift);
    }

    /// <summary>
    /// The weight s W and bias s b + t of <paramref name="conv"/>
    /// followed by <paramref name="bn"/> in eval mode.
    /// </summary>
    public static (Tensor Weight, Tensor Bias) Fold(Conv2d conv, BatchNorm2d bn)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (scale, shift) = Affine(bn);
        var w = conv.weight!.detach();
        var weight = (w * scale.view(-1, 1, 1, 1)).contiguous();
        var bias = conv.bias is { } cb ? cb.detach() * scale + shift : shift;
        return (weight.MoveToOuterDisposeScope(), bias.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Copies every parameter and buffer of <paramref name="source"/> into <paramref name="target"/> by
    /// name (same architecture; <paramref name="target"/> keeps its device and dtype).
    /// </summary>
    public static void CopyState(nn.Module source, nn.Module target)
    {
        using var _ = no_grad();
        var from = source.state_dict();
        foreach (var (name, tensor) in target.state_dict()) tensor.copy_(from[name]);
    }

    /// <summary>The convolution with a folded <paramref name="weight"/> and <paramref name="bias"/> (the bias added inside the convolution).</summary>
    public static Tensor Apply(Tensor x, Tensor weight, Tensor bias, long stride, long padding) =>
        nn.functional.conv2d(x, weight, bias, strides: [stride, stride], padding: [padding, padding]);
}

/// <summary>A classifier that can make a copy of itself with its batch norms folded, for inference only.</summary>
public interface IBatchNormFoldable
{
    /// <summary>
    /// A copy of this model (same device and dtype) in eval mode whose batch norms are folded into the convolutions
    /// before them where that is exact; its forward pass ignores the training flag. The caller disposes it.
    /// </summary>
    nn.Module<Tensor, Tensor> FoldedCopy();
}
