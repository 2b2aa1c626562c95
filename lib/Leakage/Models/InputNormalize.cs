using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Models;

/// <summary>
/// The first layer of every classifier: clamps pixels to [0, 1], then subtracts the per-channel
/// mean and divides by the per-channel std (<see cref="CifarStats"/>), as MadryLab's
/// <c>InputNormalize</c> does. Keeping normalisation inside the model lets attacks work in pixel
/// space, where their eps is defined; clamping happens before normalising, never after.
/// </summary>
/// <remarks>
/// The constants are registered buffers (as in MadryLab's module): they move with the model between
/// devices and dtypes and are written into model files, which therefore say how their input was
/// normalised. (TorchSharp 0.107 does not track non-persistent buffers, so they could not be moved.)
/// </remarks>
public sealed class InputNormalize : nn.Module<Tensor, Tensor>
{
    Tensor mean;
    Tensor std;

    /// <summary>Uses <paramref name="mean"/>/<paramref name="std"/> (3 values each), or the CIFAR constants.</summary>
    public InputNormalize(IReadOnlyList<float>? mean = null, IReadOnlyList<float>? std = null) : base(nameof(InputNormalize))
    {
        mean ??= CifarStats.Mean;
        std ??= CifarStats.Std;
        if (mean.Count != CifarStats.Channels || std.Count != CifarStats.Channels)
            throw new ArgumentException($"InputNormalize needs {CifarStats.Channels} mean and std values, got {mean.Count} and {std.Count}.");
        if (std.Any(s => !(s > 0)))
            throw new ArgumentException($"InputNormalize: every std value must be positive, got [{string.Join(", ", std)}].");
        this.mean = tensor(mean.ToArray()).reshape(1, CifarStats.Channels, 1, 1);
        this.std = tensor(std.ToArray()).reshape(1, CifarStats.Channels, 1, 1);
        register_buffer(nameof(this.mean), this.mean);
        register_buffer(nameof(this.std), this.std);
    }

    /// <summary>x: N x 3 x H x W pixels (nominally in [0, 1]); returns the normalised tensor of the same shape.</summary>
    public override Tensor forward(Tensor x) => x.clamp(Scalars.Zero, Scalars.One).sub(mean).div(std);
}
