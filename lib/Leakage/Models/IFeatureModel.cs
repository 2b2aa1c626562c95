using static TorchSharp.torch;

namespace Leakage.Models;

/// <summary>
/// A classifier whose penultimate layer can be read out: the representation its final linear layer
/// maps to logits. Used to probe with the features of an adversarially trained (robust) network.
/// </summary>
public interface IFeatureModel
{
    /// <summary>Width of the penultimate representation.</summary>
    long FeatureCount { get; }

    /// <summary>x: N x 3 x 32 x 32 pixels in [0, 1]; returns N x <see cref="FeatureCount"/> features.</summary>
    Tensor Features(Tensor x);
}
