namespace Leakage.Models;

/// <summary>
/// Fixed facts about CIFAR-10 inputs that models and attacks share.
/// <para>
/// <see cref="Mean"/> and <see cref="Std"/> are the per-channel constants of MadryLab's
/// <c>robustness</c> library (the models attacked by Ilyas et al.). The lab has noted that these
/// std values are slightly off the true ones (about 0.247, 0.243, 0.261); they are kept as published
/// so that results stay comparable with the original models.
/// </para>
/// </summary>
public static class CifarStats
{
    /// <summary>Number of classes: every classifier here ends with 10 logits.</summary>
    public const int Classes = 10;

    /// <summary>Image channels (RGB).</summary>
    public const int Channels = 3;

    /// <summary>Image height and width in pixels.</summary>
    public const int Size = 32;

    /// <summary>Per-channel mean (R, G, B) of pixel values in [0, 1].</summary>
    public static IReadOnlyList<float> Mean { get; } = Array.AsReadOnly([0.4914f, 0.4822f, 0.4465f]);

    /// <summary>Per-channel standard deviation (R, G, B) used for normalisation (MadryLab values).</summary>
    public static IReadOnlyList<float> Std { get; } = Array.AsReadOnly([0.2023f, 0.1994f, 0.2010f]);

    /// <summary>Shape of one image batch: N x 3 x 32 x 32.</summary>
    public static long[] BatchShape(long n) => [n, Channels, Size, Size];
}
