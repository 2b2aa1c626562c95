namespace Leakage.Attacks;

/// <summary>
/// The per-channel CIFAR-10 normalisation constants used by MadryLab's <c>robustness</c> library
/// (<c>InputNormalize</c>): a model sees <c>(x - Mean[c]) / Std[c]</c> for a pixel x in [0,1] of
/// channel c. The lab has noted that these std values are slightly off the true data statistics
/// (about 0.247, 0.243, 0.261); they are kept because published models and radii use them.
/// </summary>
public static class CifarNormalisation
{
    /// <summary>Image channels.</summary>
    public const int Channels = 3;
    /// <summary>Image height and width in pixels.</summary>
    public const int Side = 32;
    /// <summary>Length of a flattened image, <c>3 x 32 x 32 = 3072</c>, channel-major (C, H, W).</summary>
    public const int Dimension = Channels * Side * Side;

    /// <summary>Per-channel mean (R, G, B) of pixel values in [0,1]: <see cref="Models.CifarStats.Mean"/> as doubles.</summary>
    public static IReadOnlyList<double> Mean { get; } = Exact(Models.CifarStats.Mean);

    /// <summary>Per-channel standard deviation (R, G, B): <see cref="Models.CifarStats.Std"/> as doubles.</summary>
    public static IReadOnlyList<double> Std { get; } = Exact(Models.CifarStats.Std);

    // The models' single-precision constants, widened without float noise (0.2023f -> 0.2023, not 0.20229999721).
    static double[] Exact(IReadOnlyList<float> values) => values.Select(v => (double)(decimal)v).ToArray();

    /// <summary>
    /// The per-coordinate value of a per-channel constant for a flattened (C, H, W) image:
    /// entry <c>c*1024 + h*32 + w</c> holds <c>perChannel[c]</c>. Length <see cref="Dimension"/>.
    /// </summary>
    public static double[] PerCoordinate(IReadOnlyList<double> perChannel)
    {
        if (perChannel.Count != Channels)
            throw new ArgumentException($"Expected {Channels} per-channel values, got {perChannel.Count}.", nameof(perChannel));
        var result = new double[Dimension];
        const int plane = Side * Side;
        for (int c = 0; c < Channels; c++)
            Array.Fill(result, perChannel[c], c * plane, plane);
        return result;
    }
}
