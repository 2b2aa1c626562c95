using System.Diagnostics;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Attacks;
using Leakage.IO;
using Leakage.Models;
using Leakage.Probes;
using Leakage.Robust;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>
/// A model's accuracy on a set of test images, clean and under untargeted L2 PGD (keep-best, no
/// random start, <see cref="PgdStepRule"/>). The attacked accuracy is an upper bound of the true
/// robust accuracy: a stronger attack could only lower it.
/// </summary>
/// <param name="Images">Test images attacked, spread evenly over the test set.</param>
/// <param name="Radius">L2 radius of the attack, pixel units.</param>
/// <param name="Steps">PGD steps.</param>
/// <param name="CleanAccuracy">Accuracy on those images unperturbed.</param>
/// <param name="AttackedAccuracy">Accuracy on those images after the attack.</param>
public sealed record PgdEvaluation(int Images, double Radius, int Steps, double CleanAccuracy, double AttackedAccuracy);

/// <summary>
/// Goh's bound from robust <em>nonlinear</em> features: a small CNN adversarially trained with L2 PGD,
/// its empirical robustness, and the leakage probe on its logits and penultimate features.
/// </summary>
/// <param name="Model">The adversarially trained network (eval mode).</param>
/// <param name="Radius">Training and evaluation radius (pixel units, L2).</param>
/// <param name="CleanAccuracy">Its clean accuracy on the whole test set.</param>
/// <param name="Robust">The robust CNN under PGD at <paramref name="Radius"/>.</param>
/// <param name="Standard">The standard model of step 1 under the same attack on the same images: what adversarial training changed.</param>
/// <param name="Probes">The probes, in <see cref="NonlinearProbeKind.All"/> order: for the robust CNN's logits and then its penultimate features D_rand, D_det, clean D, and the matched nulls (clean originals with the D_rand / D_det labels); then the standard model's logits on D_rand and D_det for contrast.</param>
/// <param name="Seconds">Compute time of training (when done now or recorded then) plus evaluation and probes.</param>
public sealed record NonlinearOutcome(nn.Module<Tensor, Tensor> Model, double Radius, double CleanAccuracy, PgdEvaluation Robust,
    PgdEvaluation Standard, IReadOnlyList<NonlinearProbe> Probes, double Seconds)
{
    /// <summary>The entry of the probe <paramref name="kind"/>.</summary>
    /// <exception cref="KeyNotFoundException">The outcome has no such probe.</exception>
    public ProbeEntry Probe(NonlinearProbeKind kind) =>
        Probes.FirstOrDefault(p => p.Kind == kind)?.Entry ?? throw new KeyNotFoundException($"The nonlinear extension has no probe {kind}.");

    /// <summary>The entry of the probe on <paramref name="set"/> with the features <paramref name="view"/>.</summary>
    /// <exception cref="KeyNotFoundException">The outcome has no such probe.</exception>
    public ProbeEntry Probe(FeatureView view, ProbeSet set) => Probe(new NonlinearProbeKind(view, set));
}

/// <summary>
/// Extension <c>beyond.nonlinear</c>: trains (or loads, from <c>robust_cnn/</c>) the adversarially
/// trained CNN, measures clean and PGD accuracy, and runs the leakage probe on its features. Goh
/// notes robust nonlinear features should tighten his bound.
/// </summary>
public sealed class NonlinearStep(ExperimentRun run, Checkpoints.ImportedModel? imported = null) : IDisposable
{
    /// <summary>PGD steps of the evaluation attack (stronger than the training one).</summary>
    public const int EvaluationSteps = 20;

    NonlinearOutcome? _outcome;

    /// <summary>The adversarial-training recipe of the robust CNN (untargeted L2 PGD with random start).</summary>
    public static TrainingOptions Options(ExperimentSettings settings)
    {
        var b = settings.Beyond;
        return StandardStep.Options(settings) with
        {
            Epochs = b.NonlinearEpochs,
            Seed = settings.Seed + 2,
            Adversary = new L2PgdOptions
            {
                Eps = b.NonlinearRadius,
                StepSize = PgdStepRule.StepSize(b.NonlinearRadius, b.NonlinearPgdSteps),
                Steps = b.NonlinearPgdSteps,
                RandomStart = true,
                KeepBest = false,
            },
        };
    }

    /// <summary>Trains (or loads) the robust CNN, evaluates it and probes with its features.</summary>
    public NonlinearOutcome Run(CancellationToken ct = default)
    {
        if (_outcome != null) return _outcome;
        var drand = run.AdversarialSet(AdversarialKind.Random, ct);
        var ddet = run.AdversarialSet(AdversarialKind.Deterministic, ct);
        var standard = run.StandardModel(ct).Model;
        var (s, b, train, test, device) = (run.Settings.Standard, run.Settings.Beyond, run.Train, run.Test, run.Device);
        var training = Options(run.Settings);
        var identity = new JsonObject { ["training"] = Artifacts.ToNode(training), ["data"] = run.DataIdentity };
        var job = new ModelJob("robust_cnn", "Robust CNN", $"adversarial training at L2 radius {b.NonlinearRadius}", training, identity, StepCatalog.Nonlinear.Key, "standard.lr");
        var (model, _, seconds, _) = imported is null ? ModelCache.TrainOrLoad(run, job, train.Images, train.Labels, ct) : Imported(imported);
        var clock = Stopwatch.StartNew();

        var clean = Evaluation.Accuracy(model, test.Images, test.Labels, device);
        // Empirical robustness on (up to) 1,000 test images spread evenly over the test set (image
        // folders are ordered by class), with a stronger attack than the training one; the standard
        // model under the same attack shows what adversarial training changed.
        int n = (int)Math.Min(1000, test.Count);
        using var pick = tensor(Enumerable.Range(0, n).Select(i => (long)i * test.Count / n).ToArray());
        using var xs = test.Images.index_select(0, pick);
        using var ys = test.Labels.index_select(0, pick);
        PgdEvaluation UnderAttack(nn.Module<Tensor, Tensor> m)
        {
            var options = new L2PgdOptions { Eps = b.NonlinearRadius, StepSize = PgdStepRule.StepSize(b.NonlinearRadius, EvaluationSteps), Steps = EvaluationSteps, KeepBest = true };
            using var attacked = L2Pgd.Attack(m, xs, ys, options, device, run.Settings.Attack.BatchSize, cancellationToken: ct);
            return new PgdEvaluation(n, b.NonlinearRadius, EvaluationSteps, Evaluation.Accuracy(m, xs, ys, device), Evaluation.Accuracy(m, attacked.Adversarial, ys, device));
        }
        var robustEval = UnderAttack(model);
        var standardEval = UnderAttack(standard);
        run.Observer.Log($"Robust CNN: clean {clean:P2}; on {n:N0} test images under L2 PGD ({robustEval.Steps} steps, radius {b.NonlinearRadius}) " +
                     $"{robustEval.CleanAccuracy:P2} -> {robustEval.AttackedAccuracy:P2} (standard model {standardEval.CleanAccuracy:P2} -> {standardEval.AttackedAccuracy:P2}).");

        run.EnsureOriginals(drand);
        run.EnsureOriginals(ddet);
        var probe = run.Probe();
        Tensor Features(FeatureView view, Tensor x) => view switch
        {
            FeatureView.RobustLogits => Evaluation.Logits(model, x, device),
            FeatureView.RobustPenultimate => Evaluation.Features(model, x, device),
            _ => Evaluation.Logits(standard, x, device),
        };
        // Per view, the features of the clean test and training images are computed once for all its probes.
        var probes = new List<NonlinearProbe>();
        foreach (var group in NonlinearProbeKind.All.GroupBy(k => k.View))
        {
            ct.ThrowIfCancellationRequested();
            using var testFeatures = Features(group.Key, test.Images);
            using var cleanTrain = group.Any(k => k.Set is ProbeSet.CleanD or ProbeSet.DRandNull or ProbeSet.DDetNull) ? Features(group.Key, train.Images) : null;
            foreach (var kind in group)
            {
                using var attacked = kind.Set switch
                {
                    ProbeSet.DRand => Features(kind.View, drand.Images),
                    ProbeSet.DDet => Features(kind.View, ddet.Images),
                    _ => null, // the ceiling and the matched nulls: the clean originals
                };
                var labels = kind.Set switch
                {
                    ProbeSet.DRand or ProbeSet.DRandNull => drand.Targets,
                    ProbeSet.DDet or ProbeSet.DDetNull => ddet.Targets,
                    _ => train.Labels,
                };
                probes.Add(new NonlinearProbe(kind, probe.RunOnFeatures(kind.Name, attacked ?? cleanTrain!, labels, testFeatures, test.Labels)));
            }
        }
        foreach (var p in probes) { run.Observer.Log($"Nonlinear probe: {p.Entry}"); run.WarnUnconverged(p.Entry); }
        // Each probe against its matched null, paired on the test points.
        ProbeEntry Of(NonlinearProbeKind kind) => probes.Single(p => p.Kind == kind).Entry;
        var comparisons = new List<PairedResult>();
        foreach (var kind in NonlinearProbeKind.All)
        {
            if (kind.Null is not { } nullKind) continue;
            var (attacked, baseline) = (Of(kind), Of(nullKind));
            var c = probe.Compare(attacked, baseline);
            run.Observer.Log($"Nonlinear probe against its null: {attacked.Name}: {c}");
            comparisons.Add(PairedResult.Of(attacked, baseline, c));
        }
        double total = seconds + clock.Elapsed.TotalSeconds;
        var info = imported?.Info;
        run.Results.Set(StepCatalog.Nonlinear.ResultsKey, ResultsJson.Node(new NonlinearResult(info?.Arch ?? s.Arch, info?.Width ?? s.Width, b.NonlinearRadius,
            info is null ? b.NonlinearPgdSteps : 0, info is null ? b.NonlinearEpochs : 0, clean, robustEval.AttackedAccuracy, robustEval.CleanAccuracy, n, robustEval.Steps,
            new UnderAttackResult(standardEval.CleanAccuracy, standardEval.AttackedAccuracy), probes.Select(NonlinearProbeResult.Of).ToArray(), comparisons)
        {
            Checkpoint = info is null ? null : CheckpointResult.Of(info, run.OutDirectory),
        }));
        run.Results.SetSeconds(StepCatalog.Nonlinear, total);
        return _outcome = new NonlinearOutcome(model, b.NonlinearRadius, clean, robustEval, standardEval, probes, total);
    }

    /// <summary>The robust model read from <c>beyond.nonlinearCheckpoint</c>, on the run's device (no training, so no training time).</summary>
    CachedModel Imported(Checkpoints.ImportedModel m)
    {
        var i = m.Info;
        run.Observer.Log($"Robust CNN: {i.Arch} (width {i.Width}, {i.Parameters:N0} parameters) from {i.Path} ({i.Layout}, sha256 {i.Sha256[..12]}, normalisation from the {i.Normalization}) instead of training one.");
        if (run.Device.type != DeviceType.CPU) m.Model.to(run.Device);
        m.Model.eval();
        return new CachedModel(m.Model, [], 0, false);
    }

    public void Dispose() => (_outcome?.Model ?? imported?.Model)?.Dispose();
}
