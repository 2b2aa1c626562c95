using System.Diagnostics;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Attacks;
using Leakage.Compute;
using Leakage.Experiment;
using Leakage.IO;
using Leakage.Models;
using Leakage.Native;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// Attack success against the attacked model's accuracy: for each saved model (a training checkpoint
/// <c>epoch-NNNN/</c> or a finished model folder, each holding <c>model.bin</c> and <c>metadata.json</c>),
/// its clean test accuracy, its accuracy on the attacked training images, and targeted success of each
/// attack variant on the same images and targets for every model. Checkpoints along one training are
/// models in mid-schedule (the learning rate not yet annealed): the curve says what accuracy the attack
/// needs, not what a shorter training would give (that is the separate trainings' points).
/// </summary>
static class CheckpointCurve
{
    public static void Run(ExperimentRun run, IEnumerable<string> folders, int n, IReadOnlyList<L2PgdOptions> variants, string log)
    {
        var settings = run.Settings;
        using var subset = run.Train.Subset(n, 12345);
        var attack = ExperimentRun.AttackOptions(settings);
        var targets = new[] { AdversarialKind.Random, AdversarialKind.Deterministic }
            .ToDictionary(k => k, k => AdversarialSet.Of(k).DrawTargets(subset.Labels, attack, 0));
        // A folder of checkpoints stands for its epoch-* folders, in order.
        var models = folders.SelectMany<string, string>(f => File.Exists(Path.Combine(f, "model.bin")) ? [f]
            : Directory.GetDirectories(f, "epoch-*").Order(StringComparer.Ordinal)).ToList();
        foreach (var folder in models)
        {
            var meta = JsonFile.ReadObject(Path.Combine(folder, "metadata.json"));
            // A checkpoint names its epoch and its schedule's length; a finished model its epochs (the whole schedule).
            int scheduleEpochs = (int?)meta["settings"]?["options"]?["epochs"] ?? (int?)meta["settings"]?["settings"]?["training"]?["epochs"]
                ?? throw new InvalidDataException($"{folder}/metadata.json: no training epochs recorded.");
            int epoch = (int?)meta["extra"]?["epoch"] ?? scheduleEpochs;
            using var model = ModelFactory.Create(settings.Standard.Arch, 0, settings.Standard.Width, run.Device);
            model.load(Path.Combine(folder, "model.bin"), strict: true);
            model.eval();
            double test = Evaluation.Accuracy(model, run.Test.Images, run.Test.Labels, run.Device);
            double attacked = Evaluation.Accuracy(model, subset.Images, subset.Labels, run.Device);
            Console.WriteLine($"{Path.GetFileName(folder)}: epoch {epoch} of {scheduleEpochs}, test {test:P2}, on the attacked images {attacked:P2}");
            using var bf16 = Precisions.AttackModel(model, settings.Compute.Precision, run.Device);
            foreach (var pgd in variants)
            {
                var line = new JsonObject
                {
                    ["curve"] = $"{settings.Standard.Arch} w{settings.Standard.Width}, {scheduleEpochs}-epoch schedule",
                    ["epoch"] = epoch,
                    ["scheduleEpochs"] = scheduleEpochs,
                    ["testAccuracy"] = test,
                    ["attackedImagesAccuracy"] = attacked,
                    ["eps"] = pgd.Eps,
                    ["steps"] = pgd.Steps,
                    ["step"] = pgd.StepSize,
                    ["finalStep"] = pgd.FinalStepSize,
                    ["precision"] = bf16 is null ? "fp32" : "bf16",
                    ["cpuCore"] = CpuInfo.Current.Core,
                    ["images"] = n,
                };
                foreach (var (kind, t) in targets)
                {
                    string key = kind == AdversarialKind.Random ? "drand" : "ddet";
                    var clock = Stopwatch.StartNew();
                    using var result = L2Pgd.Attack(bf16 ?? model, subset.Images, t, pgd, run.Device, settings.Attack.BatchSize);
                    line[$"success_{key}"] = result.Success.to_type(ScalarType.Float64).mean().item<double>();
                    line[$"attackSeconds_{key}"] = clock.Elapsed.TotalSeconds;
                }
                Console.WriteLine(line.ToJsonString());
                File.AppendAllText(log, line.ToJsonString() + "\n");
            }
        }
        foreach (var t in targets.Values) t.Dispose();
    }
}
