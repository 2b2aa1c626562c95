using System.Diagnostics;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Attacks;
using Leakage.Experiment;
using Leakage.Robust;
using Leakage.Training;
using static TorchSharp.torch;

// Fidelity levers: trains (or reuses) the standard model that the settings describe in --run, then
// attacks a class-stratified subset of its training images towards D_rand and D_det targets with each
// attack variant and prints the targeted success rate. One JSON line per variant goes to --log.
//
//   dotnet run --project tools/fidelity -c Release -- --data DIR --run DIR [--profile cpu] [--set k=v]...
//       [--images 2000] [--variants "10x0.1,20x0.1,50x0.1"] [--log levers.jsonl]
//
// A variant is STEPSxSTEP (eps from attack.eps). Training is cached in --run like any experiment step.
var opts = Args.Parse(args);
var settings = SettingsOverrides.Apply(Profiles.Get(opts.Get("--profile", "cpu")), opts.All("--set"));
using var run = ExperimentRun.Open(settings, opts.Get("--data", "data"), opts.Get("--run", "runs/fidelity"),
    new RunObserver(Console.WriteLine, p => { }));
if (opts.Pairs.Any(p => p.Name == "--robust")) { RobustRecipes.Run(run, opts.Get("--robust", ""), opts.Get("--log", Path.Combine(run.OutDirectory, "robust-recipes.jsonl"))); return; }
var standard = run.StandardModel();
Console.WriteLine($"standard model: test {standard.TestAccuracy:P2}, train {standard.TrainAccuracy:P2}, {standard.Seconds:0} s training");
int n = int.Parse(opts.Get("--images", "2000"));
using var subset = run.Train.Subset(n, 12345);
var attack = ExperimentRun.AttackOptions(settings);
foreach (var variant in opts.Get("--variants", $"{settings.Attack.Steps}x{settings.Attack.Step}").Split(','))
{
    var parts = variant.Split('x');
    var pgd = new L2PgdOptions { Eps = settings.Attack.Eps, Steps = int.Parse(parts[0]), StepSize = double.Parse(parts[1]), Targeted = true };
    foreach (var kind in new[] { AdversarialKind.Random, AdversarialKind.Deterministic })
    {
        using var targets = AdversarialDatasets.DrawTargets(kind, subset.Labels, attack, 0);
        var clock = Stopwatch.StartNew();
        using var result = L2Pgd.Attack(standard.Model, subset.Images, targets, pgd, run.Device, settings.Attack.BatchSize);
        double seconds = clock.Elapsed.TotalSeconds;
        double success = result.Success.to_type(ScalarType.Float64).mean().item<double>();
        var line = new JsonObject
        {
            ["model"] = $"{settings.Standard.Arch} w{settings.Standard.Width} e{settings.Standard.Epochs} lr{settings.Standard.Lr} wd{settings.Standard.WeightDecay} aug{settings.Standard.Augment}",
            ["testAccuracy"] = standard.TestAccuracy,
            ["trainAccuracy"] = standard.TrainAccuracy,
            ["trainSeconds"] = standard.Seconds,
            ["kind"] = AdversarialDatasets.Name(kind),
            ["eps"] = pgd.Eps,
            ["steps"] = pgd.Steps,
            ["step"] = pgd.StepSize,
            ["images"] = n,
            ["success"] = success,
            ["imageStepsPerSecond"] = n * (double)pgd.Steps / seconds,
        };
        Console.WriteLine(line.ToJsonString());
        File.AppendAllText(opts.Get("--log", Path.Combine(run.OutDirectory, "levers.jsonl")), line.ToJsonString() + "\n");
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
    static readonly double[] Goh = [0.214, 0.194, 0.126, 0.126, 0.143, 0.154, 0.172, 0.155, 0.231, 0.212];

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
                ["pearson"] = Pearson(g, Goh),
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

    static double Pearson(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average();
        double sab = a.Zip(b, (x, y) => (x - ma) * (y - mb)).Sum();
        return sab / Math.Sqrt(a.Sum(x => (x - ma) * (x - ma)) * b.Sum(y => (y - mb) * (y - mb)));
    }
}
