using System.Diagnostics;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Attacks;
using Leakage.Compute;
using Leakage.Experiment;
using Leakage.Models;
using Leakage.Native;
using Leakage.Robust;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

// Fidelity levers: trains (or reuses) the standard model that the settings describe in --run, then
// attacks a class-stratified subset of its training images towards D_rand and D_det targets with each
// attack variant and prints the targeted success rate. With --transfer, each variant also trains the
// transfer models on the subset's D_rand and D_det (the run's transfer recipe, or the variant's) and
// tests them on the clean test split. One JSON line per variant goes to --log.
// With --from-run true, nothing is attacked: the subset's rows are taken from the run's finished
// D_rand and D_det (d_rand/, d_det/; the attack they were built with is recorded, the variant's attack
// spec is ignored), so transfer recipes can be compared on the run's own data sets.
//
//   dotnet run --project tools/fidelity -c Release -- --data DIR --run DIR [--profile cpu] [--set k=v]...
//       [--images 2000] [--split train|test] [--variants "10x0.1;30x0.1;10x0.1:lrRand=0.1"] [--transfer true] [--from-run true] [--log levers.jsonl]
//   ... --checkpoints "DIR;DIR" [--images 1000] [--variants "10x0.1;20x0.1"]: success against the attacked model's accuracy
//       for saved models and checkpoint folders (CheckpointCurve), nothing trained
//
// A variant is STEPSxSTEP (eps from attack.eps) or STEPSxFIRST>LAST (step size falling from FIRST to
// LAST on a cosine schedule, within the same eps), optionally followed by ':' and comma-separated
// transfer-recipe changes (see TransferRecipe); variants are separated by ';' (or ',' when none has a
// recipe). Variants with the same attack share one attack.
// Training is cached in --run like any experiment step.
var opts = Args.Parse(args);
var settings = SettingsOverrides.Apply(Profiles.Get(opts.Get("--profile", "cpu")), opts.All("--set"));
// Its own results file: --run is often a finished (or running) experiment whose results.json must survive
// the tool's other settings.
using var run = ExperimentRun.Open(settings, opts.Get("--data", "data"), opts.Get("--run", "runs/fidelity"),
    new RunObserver(Console.WriteLine, p => { }), resultsFileName: "fidelity-results.json");
if (opts.Pairs.Any(p => p.Name == "--robust")) { RobustRecipes.Run(run, opts.Get("--robust", ""), opts.Get("--log", Path.Combine(run.OutDirectory, "robust-recipes.jsonl"))); return; }
// --checkpoints "DIR;DIR": success against accuracy along trainings (CheckpointCurve), without training anything.
if (opts.Get("--checkpoints", "") is { Length: > 0 } checkpoints)
{
    var pgds = opts.Get("--variants", $"{settings.Attack.Steps}x{settings.Attack.Step}").Split(';', StringSplitOptions.RemoveEmptyEntries)
        .Select(v => AttackVariant.Parse(v, settings.Attack.Eps)).ToList();
    CheckpointCurve.Run(run, checkpoints.Split(';', StringSplitOptions.RemoveEmptyEntries), int.Parse(opts.Get("--images", "1000")), pgds,
        opts.Get("--log", Path.Combine(run.OutDirectory, "curve.jsonl")));
    return;
}
var standard = run.StandardModel();
Console.WriteLine($"standard model: test {standard.TestAccuracy:P2}, train {standard.TrainAccuracy:P2}, {standard.Seconds:0} s training");
int n = int.Parse(opts.Get("--images", "2000"));
bool transfer = bool.Parse(opts.Get("--transfer", "false"));
string log = opts.Get("--log", Path.Combine(run.OutDirectory, "levers.jsonl"));
// --split test attacks test images (success only: the transfer models are tested on that split).
string split = opts.Get("--split", "train");
if (split is not ("train" or "test")) throw new ArgumentException($"--split must be train or test, got '{split}'.");
if (split == "test" && transfer) throw new ArgumentException("--transfer needs --split train: the transfer models are tested on the test split.");
bool fromRun = bool.Parse(opts.Get("--from-run", "false"));
if (fromRun && split == "test") throw new ArgumentException("--from-run takes the run's D_rand and D_det, which attack training images: use --split train.");
using var subset = (split == "test" ? run.Test : run.Train).Subset(n, 12345);
using var subsetRows = torch.tensor(run.Train.SubsetRows(n, 12345), dtype: ScalarType.Int64);
var attack = ExperimentRun.AttackOptions(settings);
using var bf16 = Precisions.AttackModel(standard.Model, settings.Compute.Precision, run.Device);
var attacked = bf16 ?? standard.Model;
var attacks = new Dictionary<string, (PgdResult Result, Tensor Targets, double Seconds)>();
var variants = opts.Get("--variants", $"{settings.Attack.Steps}x{settings.Attack.Step}").Split(';', StringSplitOptions.RemoveEmptyEntries)
    .SelectMany(v => v.Contains(':') ? [v] : v.Split(',', StringSplitOptions.RemoveEmptyEntries));
var cpuCore = CpuInfo.Current.Core;
foreach (var variant in variants)
{
    var (attackSpec, recipe) = variant.Split(':', 2) is [var a, var r] ? (a, r) : (variant, "");
    var pgd = AttackVariant.Parse(attackSpec, settings.Attack.Eps);
    var line = new JsonObject
    {
        ["model"] = $"{settings.Standard.Arch} w{settings.Standard.Width} e{settings.Standard.Epochs} lr{settings.Standard.Lr} wd{settings.Standard.WeightDecay} aug{settings.Standard.Augment}",
        ["modelTrainImages"] = run.Train.Count,
        ["testAccuracy"] = standard.TestAccuracy,
        ["trainAccuracy"] = standard.TrainAccuracy,
        ["trainSeconds"] = standard.Seconds,
        ["eps"] = pgd.Eps,
        ["steps"] = pgd.Steps,
        ["step"] = pgd.StepSize,
        ["finalStep"] = pgd.FinalStepSize,
        ["precision"] = settings.Compute.Precision,
        ["attackPrecision"] = bf16 is null ? "fp32" : "bf16",
        // Which CPU class made the row: airbench's training is bit-identical within a class, not across.
        ["cpuCore"] = cpuCore,
        ["images"] = n,
        ["split"] = split,
    };
    foreach (var kind in new[] { AdversarialKind.Random, AdversarialKind.Deterministic })
    {
        string key = kind == AdversarialKind.Random ? "drand" : "ddet";
        string cacheKey = $"{attackSpec}/{key}";
        if (!attacks.TryGetValue(cacheKey, out var done))
        {
            if (fromRun)
            {
                // The run's own set, restricted to the subset's rows (the sets keep the training split's order).
                var dir = Path.Combine(run.OutDirectory, AdversarialSet.Of(kind).Folder);
                using var finished = AdversarialDataset.Load(dir);
                if (finished.Count != run.Train.Count || (int?)finished.Settings["steps"] != settings.Attack.Steps
                    || (double?)finished.Settings["stepSize"] != settings.Attack.Step || (double?)finished.Settings["eps"] != settings.Attack.Eps)
                    throw new InvalidDataException($"{dir}: not the set these settings build ({finished.Count:N0} images, attack {finished.Settings["steps"]} x {finished.Settings["stepSize"]}); give the run's --profile and --set.");
                var result = new PgdResult(finished.Images.index_select(0, subsetRows), finished.Success.index_select(0, subsetRows), empty(0));
                attacks[cacheKey] = done = (result, finished.Targets.index_select(0, subsetRows), 0);
            }
            else
            {
                var targets = AdversarialSet.Of(kind).DrawTargets(subset.Labels, attack, 0);
                var clock = Stopwatch.StartNew();
                var result = L2Pgd.Attack(attacked, subset.Images, targets, pgd, run.Device, settings.Attack.BatchSize);
                attacks[cacheKey] = done = (result, targets, clock.Elapsed.TotalSeconds);
            }
        }
        line[$"success_{key}"] = done.Result.Success.to_type(ScalarType.Float64).mean().item<double>();
        // How far the attack went: the perturbations' mean L2 norm and the share that reached the radius.
        using (var norms = done.Result.Adversarial.sub(subset.Images).flatten(1).norm(1))
        {
            line[$"meanNorm_{key}"] = norms.mean().item<float>();
            line[$"atRadius_{key}"] = Scalars.With(0.99 * pgd.Eps, r => norms.ge(r)).to_type(ScalarType.Float64).mean().item<double>();
        }
        if (fromRun)
        {
            line["attack"] = "the run's";
            (line["steps"], line["step"]) = (settings.Attack.Steps, settings.Attack.Step);
        }
        else
        {
            line[$"attackSeconds_{key}"] = done.Seconds;
            line[$"imageStepsPerSecond_{key}"] = n * (double)pgd.Steps / done.Seconds;
        }
        if (!transfer) continue;
        // only=drand / only=ddet: this variant's transfer model for one set (the other's is skipped).
        if (recipe.Split(',').FirstOrDefault(x => x.StartsWith("only=")) is { } only && only != $"only={key}") continue;
        var options = TransferRecipe.Of(settings, kind, recipe);
        // keep=success (a diagnostic, not Ilyas's recipe): train only on the images whose attack reached its target.
        bool successOnly = recipe.Split(',').Contains("keep=success");
        // leak=keller|gaussian (a control): the leakage-only set of the same images and targets replaces the attack's images.
        using var leakSet = recipe.Split(',').FirstOrDefault(x => x.StartsWith("leak=")) is { } leak
            ? LeakageOnlyDatasets.Build(kind, standard.Model, subset.Images, subset.Labels, done.Targets,
                new LeakageOnlyOptions { Construction = Choices.Parse<LeakageOnlyConstruction>("controls.leakageOnly", leak[5..]), Eps = settings.Attack.Eps, Seed = settings.Seed },
                Path.Combine(run.OutDirectory, "fidelity-leak", $"{key}-{leak[5..]}-{n}"), run.Device, Console.WriteLine)
            : null;
        var source = leakSet?.Images ?? done.Result.Adversarial;
        // ownClean=true (a diagnostic): an image whose target is its own label keeps its clean pixels, as an attack that stops once the model is confident leaves it.
        bool ownClean = recipe.Split(',').Contains("ownClean=true");
        using var own = ownClean ? done.Targets.eq(subset.Labels) : null;
        using var cleaned = own is null ? null : where(own.view(-1, 1, 1, 1), subset.Images, source);
        source = cleaned ?? source;
        if (leakSet is not null) (line[$"leakKeptClean_{key}"], line[$"leakSuccess_{key}"]) = (leakSet.KeptClean, leakSet.SuccessRate);
        if (own is not null) line[$"ownClean_{key}"] = own.sum().item<long>();
        // keep=own (a reference): only the images whose target is their own label (with ownClean=true: those clean images alone).
        using var kept = successOnly ? done.Result.Success.nonzero().flatten()
            : recipe.Split(',').Contains("keep=own") ? done.Targets.eq(subset.Labels).nonzero().flatten() : Scalars.Arange(n);
        using var images = source.index_select(0, kept);
        using var labels = done.Targets.index_select(0, kept);
        var clockT = Stopwatch.StartNew();
        var outcome = options.Train(images, labels, run.Test.Images, run.Test.Labels, run.Device);
        line[$"transferImages_{key}"] = images.shape[0];
        line["recipe"] = recipe.Length == 0 ? "run's" : recipe;
        line[$"transfer_{key}"] = outcome.CleanTestAccuracy;
        line[$"transferFit_{key}"] = outcome.TrainAccuracy;
        line[$"transferLr_{key}"] = options.Training.LearningRate;
        line[$"transferEpochs_{key}"] = options.Training.Epochs;
        line[$"transferAugment_{key}"] = options.Training.Augmentation.ToString();
        line[$"transferArch_{key}"] = $"{options.Arch} w{options.Width}";
        line[$"transferSeconds_{key}"] = clockT.Elapsed.TotalSeconds;
    }
    Console.WriteLine(line.ToJsonString());
    File.AppendAllText(log, line.ToJsonString() + "\n");
}
foreach (var (result, targets, _) in attacks.Values) { result.Dispose(); targets.Dispose(); }

/// <summary>
/// The transfer model of a variant: the run's recipe (<see cref="TransferStep.Options"/>),
/// changed by comma-separated key=value: lrRand, lrDet, epochs, aug (None, Flip, CropFlip; both sets),
/// augRand, augDet, arch, width, seed (of the fresh model and its data order), schedule, momentum, wd, normLr and lookahead
/// (a number or none); whiten=flat gives an airbench network's whitening one common scale (a diagnostic), whitenEps its regulariser; keep=success trains on the successful attacks only (a diagnostic);
/// only=drand or only=ddet trains the variant's transfer model for that set alone; leak=keller or
/// leak=gaussian trains on the leakage-only set of the same images and targets (a control, no attack);
/// ownClean=true keeps the clean pixels of the images whose target is their own label (a diagnostic);
/// keep=own trains on those images only (a reference).
/// </summary>
static class TransferRecipe
{
    public static TransferModel Of(ExperimentSettings settings, AdversarialKind kind, string recipe)
    {
        bool rand = kind == AdversarialKind.Random;
        var training = TransferStep.Options(settings, kind);
        var (arch, width) = TransferStep.Network(settings);
        var o = new TransferModel(arch, width, training.Seed, training);
        foreach (var kv in recipe.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => x.Split('=')))
            switch (kv[0])
            {
                case "lrRand": if (rand) training = training with { LearningRate = double.Parse(kv[1]) }; break;
                case "lrDet": if (!rand) training = training with { LearningRate = double.Parse(kv[1]) }; break;
                case "epochs": training = training with { Epochs = int.Parse(kv[1]) }; break;
                case "aug": training = training with { Augmentation = Enum.Parse<Augmentation>(kv[1], true) }; break;
                case "augRand": if (rand) training = training with { Augmentation = Enum.Parse<Augmentation>(kv[1], true) }; break;
                case "augDet": if (!rand) training = training with { Augmentation = Enum.Parse<Augmentation>(kv[1], true) }; break;
                case "arch": o = o with { Arch = kv[1] }; break;
                case "width": o = o with { Width = int.Parse(kv[1]) }; break;
                case "seed": o = o with { ModelSeed = long.Parse(kv[1]) }; training = training with { Seed = long.Parse(kv[1]) }; break;
                // The optimiser of another recipe, e.g. Keller Jordan's ResNet-9 one: schedule=OneCycle,momentum=0.9,wd=5e-4,normLr=none,lookahead=none.
                case "schedule": training = training with { Schedule = Enum.Parse<LrSchedule>(kv[1], true) }; break;
                case "momentum": training = training with { Momentum = double.Parse(kv[1]) }; break;
                case "wd": training = training with { WeightDecay = double.Parse(kv[1]) }; break;
                case "normLr": training = training with { NormLrScale = kv[1] == "none" ? null : double.Parse(kv[1]) }; break;
                case "lookahead": training = training with { LookaheadEvery = kv[1] == "none" ? null : int.Parse(kv[1]) }; break;
                // whiten=flat (a diagnostic, airbench only): the whitening layer's directions with one common scale (AirbenchNet.ScaleWhitening).
                case "whiten": o = o with { ScaleWhitening = kv[1] switch { "scaled" => true, "flat" => false, _ => throw new ArgumentException($"whiten={kv[1]}: use scaled or flat") } }; break;
                // whitenEps=V (airbench only): the whitening's regulariser, which caps how far the rarest patch directions are scaled up (airbench: 5e-4).
                case "whitenEps": o = o with { WhiteningEps = double.Parse(kv[1]) }; break;
                case "keep" or "only" or "leak" or "ownClean": break;
                default: throw new ArgumentException($"unknown transfer-recipe key {kv[0]} (lrRand, lrDet, epochs, aug, augRand, augDet, arch, width, seed, schedule, momentum, wd, normLr, lookahead, whiten, whitenEps, keep, only, leak, ownClean)");
            }
        return o with { Training = training };
    }
}

/// <summary>A fresh model of <paramref name="Arch"/> trained on a variant's relabelled images, then tested on clean ones.</summary>
sealed record TransferModel(string Arch, int Width, long ModelSeed, TrainingOptions Training, bool ScaleWhitening = true, double WhiteningEps = AirbenchNet.DefaultWhiteningEps)
{
    public (double CleanTestAccuracy, double TrainAccuracy) Train(Tensor images, Tensor targets, Tensor testImages, Tensor testLabels, Device device)
    {
        using var model = ModelFactory.Create(Arch, ModelSeed, Width, device);
        if (!ScaleWhitening || WhiteningEps != AirbenchNet.DefaultWhiteningEps)
        {
            var airbench = (model as AirbenchNet) ?? throw new ArgumentException("whiten and whitenEps need arch=airbench");
            (airbench.ScaleWhitening, airbench.WhiteningEps) = (ScaleWhitening, WhiteningEps);
        }
        Trainer.Train(model, images, targets, Training, device, checkpointDir: null, progress: null, log: m => Console.Error.WriteLine(m));
        return (Evaluation.Accuracy(model, testImages, testLabels, device), Evaluation.Accuracy(model, images, targets, device));
    }
}

/// <summary>Just enough argument parsing for a measurement script: repeated --name value pairs.</summary>
sealed record Args(List<(string Name, string Value)> Pairs)
{
    public static Args Parse(string[] a) => new([.. Enumerable.Range(0, a.Length / 2).Select(i => (a[2 * i], a[2 * i + 1]))]);
    public string Get(string name, string fallback) => Pairs.LastOrDefault(p => p.Name == name).Value ?? fallback;
    public IEnumerable<string> All(string name) => Pairs.Where(p => p.Name == name).Select(p => p.Value);
}

/// <summary>
/// C's recipe: trains the robust linear classifier once per variant on the run's training split and
/// certifies it on the test split at 0.25 (normalised units), against Goh's gamma table. A variant is
/// comma-separated key=value over RobustLinearOptions (mode, train, epochs, lr, wd, centre, clean, warmup, opt, units)
/// and cert (the certification radius, default 0.25).
/// </summary>
static class RobustRecipes
{
    static readonly IReadOnlyList<double> Goh = Published.GohGamma;

    public static void Run(ExperimentRun run, string variants, string log)
    {
        var baseline = ExperimentRun.RobustOptions(run.Settings);
        foreach (var variant in variants.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var o = baseline;
            foreach (var kv in variant.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => x.Split('=')))
                o = kv[0] switch
                {
                    "mode" => o with { Mode = Enum.Parse<RobustTrainingMode>(kv[1], true) },
                    "train" => o with { TrainRadius = double.Parse(kv[1]) },
                    "epochs" => o with { Epochs = int.Parse(kv[1]) },
                    "lr" => o with { LearningRate = double.Parse(kv[1]) },
                    "wd" => o with { WeightDecay = double.Parse(kv[1]) },
                    "centre" => o with { CentreInputs = bool.Parse(kv[1]) },
                    "clean" => o with { CleanLossWeight = double.Parse(kv[1]) },
                    "warmup" => o with { WarmupEpochs = int.Parse(kv[1]) },
                    "opt" => o with { Optimizer = Enum.Parse<RobustOptimizer>(kv[1], true) },
                    "cert" => o,
                    "units" => o with { Units = Enum.Parse<RadiusUnits>(kv[1], true) },
                    _ => throw new ArgumentException($"unknown recipe key {kv[0]}"),
                };
            double cert = 0.25;
            foreach (var kv in variant.Split(',').Select(x => x.Split('=')).Where(kv => kv[0] == "cert")) cert = double.Parse(kv[1]);
            var clock = Stopwatch.StartNew();
            using var c = RobustLinearTrainer.Train(run.Train.Images, run.Train.Labels, o with { CertifyRadius = cert }, run.Device);
            var report = c.Certify(run.Test.Images, run.Test.Labels);
            var n = report[RadiusUnits.Normalised];
            var p = report[RadiusUnits.Pixel];
            var g = n.Features.Select(f => f.Gamma).ToArray();
            var line = new JsonObject
            {
                ["variant"] = variant,
                ["gamma"] = new JsonArray(g.Select(x => (JsonNode)Math.Round(x, 4)).ToArray()),
                ["maxAbsDiff"] = g.Zip(Goh, (a, b) => Math.Abs(a - b)).Max(),
                ["meanDiff"] = g.Zip(Goh, (a, b) => a - b).Average(),
                ["pearson"] = Fidelity.Pearson(g, Goh),
                ["spec2"] = n.Spec2Fraction,
                ["clean"] = n.CleanAccuracy,
                ["certified"] = n.CertifiedAccuracy,
                ["spec2Pixel"] = p.Spec2Fraction,
                ["seconds"] = clock.Elapsed.TotalSeconds,
            };
            Console.WriteLine(line.ToJsonString());
            File.AppendAllText(log, line.ToJsonString() + "\n");
        }
    }

}
