using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Training;

/// <summary>
/// Batch augmentation on tensors (any device): random crops from a padded image and random
/// horizontal flips. All randomness comes from the given CPU generator, so a run is reproducible
/// from its seed.
/// </summary>
public static class Augment
{
    /// <summary>
    /// Augments <paramref name="images"/> (N x C x H x W) as <paramref name="kind"/> says, drawing crop
    /// offsets (uniform in 0..2p per axis) and flips (probability 1/2) from <paramref name="generator"/>;
    /// <see cref="Augmentation.CropAlternatingFlip"/> flips the images where <paramref name="flipped"/> (N booleans) is true.
    /// Returns a new tensor of the same shape on the same device; <see cref="Augmentation.None"/>
    /// returns an alias and draws nothing.
    /// </summary>
    public static Tensor Apply(Tensor images, Augmentation kind, int padding, PadMode padMode, Generator generator, Tensor? flipped = null)
    {
        if (images.dim() != 4) throw new ArgumentException($"Augment.Apply expects N x C x H x W images, got shape [{string.Join(", ", images.shape)}].", nameof(images));
        if (kind == Augmentation.None) return images.alias();
        using var scope = NewDisposeScope();
        long n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3];
        var x = images;
        if (kind is Augmentation.CropFlip or Augmentation.CropAlternatingFlip && padding > 0)
        {
            var padded = nn.functional.pad(x, [padding, padding, padding, padding],
                padMode == PadMode.Reflect ? PaddingModes.Reflect : PaddingModes.Constant);
            var dy = randint(0, 2 * padding + 1, [n], generator: generator);
            var dx = randint(0, 2 * padding + 1, [n], generator: generator);
            var rows = (dy.unsqueeze(1) + Scalars.Arange(h)).to(x.device).view(n, 1, h, 1).expand(n, c, h, w + 2 * padding);
            var cols = (dx.unsqueeze(1) + Scalars.Arange(w)).to(x.device).view(n, 1, 1, w).expand(n, c, h, w);
            x = padded.gather(2, rows).gather(3, cols);
        }
        if (kind == Augmentation.CropAlternatingFlip && flipped is null)
            throw new ArgumentException("The alternating flip needs the images' flip mask for this epoch.", nameof(flipped));
        var flip = (kind == Augmentation.CropAlternatingFlip ? flipped! : rand([n], generator: generator) < Scalars.Half).to(x.device).view(n, 1, 1, 1);
        return where(flip, x.flip(3), x).MoveToOuterDisposeScope();
    }
}
