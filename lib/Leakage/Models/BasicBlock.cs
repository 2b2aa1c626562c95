using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// The residual block of ResNet-18/34 (He et al. 2016): two 3x3 conv-BN layers and an identity
/// shortcut, or a 1x1 conv-BN shortcut when the stride or the channel count changes.
/// </summary>
public sealed class BasicBlock : Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d bn1, bn2;
    readonly Module<Tensor, Tensor> shortcut;
    readonly int stride;
    // Folded batch norms of a folded copy (Fold): weight and bias of conv1+bn1, conv2+bn2 and the shortcut's conv+bn.
    Tensor? w1, b1, w2, b2, ws, bs;

    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/>, downsampling by <paramref name="stride"/>.</summary>
    public BasicBlock(int inChannels, int outChannels, int stride) : base(nameof(BasicBlock))
    {
        conv1 = Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        bn1 = BatchNorm2d(outChannels);
        conv2 = Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1, bias: false);
        bn2 = BatchNorm2d(outChannels);
        this.stride = stride;
        shortcut = stride != 1 || inChannels != outChannels
            ? Sequential(Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), BatchNorm2d(outChannels))
            : Identity();
        RegisterComponents();
    }

    /// <summary>x: N x in x H x W; returns N x out x H/stride x W/stride.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (w1 is not null)
        {
            var f = functional.relu(BatchNormFold.Apply(x, w1, b1!, stride, padding: 1));
            f = BatchNormFold.Apply(f, w2!, b2!, stride: 1, padding: 1);
            var skip = ws is null ? x : BatchNormFold.Apply(x, ws, bs!, stride, padding: 0);
            return functional.relu(f + skip).MoveToOuterDisposeScope();
        }
        var h = functional.relu(bn1.forward(conv1.forward(x)));
        h = bn2.forward(conv2.forward(h));
        return functional.relu(h + shortcut.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Folds the block's batch norms into its convolutions, in place, for inference only (a copy's blocks;
    /// <see cref="ResNet18.FoldedCopy"/>).
    /// </summary>
    internal void Fold()
    {
        (w1, b1) = BatchNormFold.Fold(conv1, bn1);
        (w2, b2) = BatchNormFold.Fold(conv2, bn2);
        if (shortcut is Sequential s && s.children().ToList() is [Conv2d conv, BatchNorm2d bn])
            (ws, bs) = BatchNormFold.Fold(conv, bn);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) foreach (var t in new[] { w1, b1, w2, b2, ws, bs }) t?.Dispose();
        base.Dispose(disposing);
    }
}
