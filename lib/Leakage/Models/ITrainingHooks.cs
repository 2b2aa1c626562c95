using static TorchSharp.torch;

namespace Leakage.Models;

/// <summary>
/// A model whose recipe reaches into training: part of its initial weights is computed from the
/// training images (a whitening layer), or some parameters train for the first epochs only.
/// <see cref="Training.Trainer"/> calls these; other code never needs to.
/// </summary>
public interface ITrainingHooks
{
    /// <summary>Sets the data-dependent weights from <paramref name="images"/> (pixels in [0, 1]), drawing any subset with <paramref name="generator"/>. Called once, before the first epoch of a fresh training.</summary>
    void InitializeFromData(Tensor images, Generator generator);

    /// <summary>Called before each epoch (0-based <paramref name="epoch"/>), also when training resumes.</summary>
    void BeginEpoch(int epoch);
}
