using static TorchSharp.torch;

namespace Leakage.Attacks;

/// <summary>The outcome of <see cref="L2Pgd.Attack"/>; owns its tensors (all on the CPU).</summary>
public sealed class PgdResult : IDisposable
{
    /// <summary>Wraps the attack's outputs.</summary>
    public PgdResult(Tensor adversarial, Tensor success, Tensor loss)
    {
        Adversarial = adversarial;
        Success = success;
        Loss = loss;
    }

    /// <summary>Adversarial images, float32 N x C x H x W (same shape as the input).</summary>
    public Tensor Adversarial { get; }

    /// <summary>Per sample: the target was reached (targeted) or the label changed (untargeted); bool N.</summary>
    public Tensor Success { get; }

    /// <summary>Per sample cross-entropy (nats) of the returned images w.r.t. the attack's labels; float32 N.</summary>
    public Tensor Loss { get; }

    /// <summary>Fraction of successful samples, in [0, 1] (NaN for an empty input).</summary>
    public double SuccessRate => Success.shape[0] == 0 ? double.NaN : Success.to_type(ScalarType.Float64).mean().item<double>();

    /// <inheritdoc/>
    public void Dispose()
    {
        Adversarial.Dispose();
        Success.Dispose();
        Loss.Dispose();
    }
}
