namespace Leakage.Models;

/// <summary>
/// A CIFAR-10 classifier built by <see cref="ModelFactory"/>: it maps N x 3 x 32 x 32 pixels in
/// [0, 1] to N x 10 logits and normalises its input itself (<see cref="InputNormalize"/>).
/// The architecture name and width are what <see cref="ModelFactory.Create"/> needs to rebuild it,
/// so <see cref="ModelStore"/> records them next to the weights.
/// </summary>
public interface ICifarClassifier
{
    /// <summary>Architecture name, one of <see cref="ModelFactory.Architectures"/>.</summary>
    string Arch { get; }

    /// <summary>Base channel width (the first stage's channel count).</summary>
    int Width { get; }
}
