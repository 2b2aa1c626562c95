using Leakage.Randomness;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Attacks;

/// <summary>
/// L2 projected gradient descent (Madry et al. 2018) with MadryLab <c>robustness</c> semantics:
/// per step, the gradient of the cross-entropy w.r.t. the input is normalised per sample
/// (g / (||g||_2 + 1e-10)), a step of <see cref="L2PgdOptions.StepSize"/> (or its schedule) is taken (towards the target
/// when targeted, away from the true label otherwise), the difference to the original is projected
/// back onto the eps-ball per sample (renorm), and pixels are clamped (default [0, 1]).
/// <para>
/// The model runs in eval mode and its parameters do not require gradients during the attack (only the
/// input does), so no parameter gradient is computed or accumulated. The per-sample losses are summed,
/// not averaged, so each sample's step is independent of the batch it is in.
/// </para>
/// <para>
/// The loop is <see cref="Pgd.Ascend"/> with an <see cref="L2Step"/> in pixel units; this class supplies
/// the classifier's cross-entropy and its input gradient by autograd.
/// </para>
/// </summary>
public static class L2Pgd
{
    /// <summary>
    /// Attacks <paramref name="images"/> in batches of <paramref name="batchSize"/> on <paramref name="device"/>.
    /// </summary>
    /// <param name="model">Classifier taking pixels in [0, 1] (normalisation inside), on <paramref name="device"/>.</param>
    /// <param name="images">float32 N x C x H x W, any device.</param>
    /// <param name="labels">int64 N: target labels when <see cref="L2PgdOptions.Targeted"/>, true labels otherwise.</param>
    /// <param name="options">Attack settings.</param>
    /// <param name="device">Where to run.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="seed">Seed for the random start (batch b uses a generator derived from (seed, b)); unused without random start.</param>
    /// <param name="progress">Receives the number of images done after each batch.</param>
    /// <param name="cancellationToken">Checked before each batch.</param>
    /// <returns>Adversarial images, per-sample success and loss, on the CPU.</returns>
    public static PgdResult Attack(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, L2PgdOptions options, Device device,
        int batchSize = 256, long seed = 0, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (images.dim() != 4) throw new ArgumentException($"L2 PGD expects N x C x H x W images, got [{string.Join(", ", images.shape)}].", nameof(images));
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0] || labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"L2 PGD needs one int64 label per image: {images.shape[0]} images, labels {labels.dtype} [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be at least 1");

        long n = images.shape[0];
        var adversarial = new List<Tensor>();
        var success = new List<Tensor>();
        var losses = new List<Tensor>();
        try
        {
            for (long start = 0, b = 0; start < n; start += batchSize, b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                long count = Math.Min(batchSize, n - start);
                var x = images.narrow(0, start, count).to(device);
                var y = labels.narrow(0, start, count).to(device);
                using var generator = options.RandomStart ? new Generator(Seeds.Derive(seed, b), CPU) : null;
                var (adv, loss, ok) = Perturb(model, x, y, options, generator);
                adversarial.Add(adv.cpu().MoveToOuterDisposeScope());
                losses.Add(loss.cpu().MoveToOuterDisposeScope());
                success.Add(ok.cpu().MoveToOuterDisposeScope());
                progress?.Report(start + count);
            }
            return n == 0
                ? new PgdResult(images.cpu().clone(), zeros(0, dtype: ScalarType.Bool), zeros(0))
                : new PgdResult(cat(adversarial, 0), cat(success, 0), cat(losses, 0));
        }
        finally
        {
            foreach (var t in adversarial.Concat(success).Concat(losses)) t.Dispose();
        }
    }

    /// <summary>
    /// Attacks one batch already on the model's device.
    /// </summary>
    /// <param name="model">Classifier; switched to eval mode for the attack and restored afterwards.</param>
    /// <param name="images">float32 B x C x H x W on the model's device; not modified.</param>
    /// <param name="labels">int64 B (targets when targeted).</param>
    /// <param name="options">Attack settings.</param>
    /// <param name="generator">CPU generator for the random start; required when <see cref="L2PgdOptions.RandomStart"/> is on.</param>
    /// <returns>
    /// The adversarial batch (detached), the per-sample cross-entropy of the returned images w.r.t.
    /// <paramref name="labels"/>, and per-sample success, all on the batch's device.
    /// </returns>
    public static (Tensor Adversarial, Tensor Loss, Tensor Success) Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels,
        L2PgdOptions options, Generator? generator = null)
    {
        options.Validate();
        if (options.RandomStart && generator is null)
            throw new ArgumentException("L2 PGD with RandomStart needs a generator (pass one to Perturb, or a seed to Attack).", nameof(generator));
        bool wasTraining = model.training;
        var parameters = model.parameters().ToList();
        var requiredGrad = parameters.Select(p => p.requires_grad).ToList();
        model.eval();
        foreach (var p in parameters) p.requires_grad = false;
        try
        {
            return PerturbCore(model, images, labels, options, generator);
        }
        finally
        {
            for (int i = 0; i < parameters.Count; i++) parameters[i].requires_grad = requiredGrad[i];
            model.train(wasTraining);
        }
    }

    static (Tensor, Tensor, Tensor) PerturbCore(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, L2PgdOptions options, Generator? generator)
    {
        using var outer = NewDisposeScope();
        var x0 = images.detach();
        var step = new L2Step(x0, RadiusGeometry.Pixel(x0.numel() / Math.Max(1, x0.shape[0])), options.Eps, options.StepSize, options.ClampMin, options.ClampMax,
            schedule: options.FinalStepSize is null ? null : options.StepSizeAt);
        // Targeted: descend the target's cross-entropy, i.e. ascend its negation (negation is exact, so
        // iterates and losses are those of the descent).
        bool targeted = options.Targeted;
        (Tensor, Tensor?) Objective(Tensor x, bool withGradient)
        {
            if (!withGradient)
            {
                using var _ = no_grad();
                var value = nn.functional.cross_entropy(model.forward(x), labels, reduction: nn.Reduction.None);
                return (targeted ? value.neg() : value, null);
            }
            var input = x.detach().requires_grad_(true);
            var loss = nn.functional.cross_entropy(model.forward(input), labels, reduction: nn.Reduction.None);
            var objective = targeted ? loss.neg() : loss;
            var grad = autograd.grad([objective.sum()], [input])[0];
            return (objective.detach(), grad);
        }
        var (adversarial, best) = Pgd.Ascend(step, Objective, options.Steps, options.KeepBest, options.RandomStart, generator: generator);
        using (no_grad())
        {
            var predicted = model.forward(adversarial).argmax(1);
            var ok = targeted ? predicted.eq(labels) : predicted.ne(labels);
            var loss = targeted ? best.neg() : best;
            return (adversarial.detach().MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope(), ok.MoveToOuterDisposeScope());
        }
    }
}
