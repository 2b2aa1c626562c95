#:project ../lib/Leakage/Leakage.csproj
// Measures what folding batch norm into the convolutions (compute.foldBatchNorm) buys the attack:
//   dotnet run tools/fold-bench.cs -- [--arch small-cnn] [--width 24] [--batch 500] [--steps 5] [--rounds 5] [--threads 0] [--precision fp32|bf16]
// Alternating rounds of targeted L2 PGD (eps 0.5, step 0.1) on the model and on its folded copy, same
// images and targets, each after a warm-up; prints each round's image-steps/s, the median ratio
// folded / model with its range, and how far the two attacks' outcomes differ. A measurement on this
// machine (name the CPU beside it), never a test assertion. The model has random weights and batch
// norm statistics away from their initial values (as after training), so the folding is not trivial.
using System.Diagnostics;
using Leakage.Attacks;
using Leakage.Compute;
using Leakage.Models;
using Leakage.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

int Option(string name, int fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
string Text(string name, string fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
string arch = Text("--arch", "small-cnn");
// bf16: both networks in bfloat16 behind a float32 interface, as compute.precision=bf16 attacks them.
bool bf16 = Text("--precision", "fp32") switch { "fp32" => false, "bf16" => true, var other => throw new ArgumentException($"--precision must be fp32 or bf16, got '{other}'.") };
int width = Option("--width", 24), batch = Option("--batch", 500), steps = Option("--steps", 5), rounds = Option("--rounds", 5), threads = Option("--threads", 0);

TorchNative.Ensure();
if (threads > 0) set_num_threads(threads);
manual_seed(0);
using var model = ModelFactory.Create(arch, 0, width);
using (no_grad())
    foreach (var bn in model.modules().OfType<BatchNorm2d>())
    {
        using Scalar spread = 0.3.ToScalar(), floor = 0.5.ToScalar(); // kept alive across the calls (Native/Scalars.cs)
        bn.running_mean!.copy_(randn(bn.running_mean.shape) * spread);
        bn.running_var!.copy_(rand(bn.running_var.shape) + floor);
        bn.weight!.copy_(rand(bn.weight.shape) + floor);
    }
model.eval();
// bf16: the fold is computed in bfloat16 here (the library's bf16 attack copy is never folded); the speed is the same.
if (bf16) model.to(ScalarType.BFloat16);
using var foldedCopy = ((IBatchNormFoldable)model).FoldedCopy();
// The views only wrap the two networks, which the using declarations dispose.
nn.Module<Tensor, Tensor> attacked = bf16 ? Precisions.Bfloat16View(model) : model, folded = bf16 ? Precisions.Bfloat16View(foldedCopy) : foldedCopy;
using var x = rand(new long[] { batch, 3, 32, 32 }, generator: new Generator(1));
using var y = randint(0, 10, new long[] { batch }, generator: new Generator(2));
var options = new L2PgdOptions { Eps = 0.5, StepSize = 0.1, Steps = steps, Targeted = true };
Console.WriteLine($"{arch} width {width}, {(bf16 ? "bf16" : "fp32")}, batch {batch}, {steps} PGD steps, {get_num_threads()} threads, {rounds} alternating rounds");

double Rate(nn.Module<Tensor, Tensor> m)
{
    var clock = Stopwatch.StartNew();
    using (var r = L2Pgd.Attack(m, x, y, options, CPU, batchSize: batch)) { }
    return batch * (double)steps / clock.Elapsed.TotalSeconds;
}
foreach (var m in new[] { attacked, folded }) using (var r = L2Pgd.Attack(m, x, y, options with { Steps = 1 }, CPU, batchSize: batch)) { } // warm-up
var ratios = new List<double>();
for (int round = 1; round <= rounds; round++)
{
    double plain = Rate(attacked), fold = Rate(folded);
    ratios.Add(fold / plain);
    Console.WriteLine($"round {round}: model {plain:N0}, folded {fold:N0} image-steps/s, ratio {fold / plain:0.000}");
}
ratios.Sort();
Console.WriteLine($"folded / model: median {ratios[ratios.Count / 2]:0.000} [{ratios[0]:0.000}, {ratios[^1]:0.000}]");
using var p = L2Pgd.Attack(attacked, x, y, options, CPU, batchSize: batch);
using var q = L2Pgd.Attack(folded, x, y, options, CPU, batchSize: batch);
Console.WriteLine($"same images and targets: success {p.SuccessRate:P2} (model) and {q.SuccessRate:P2} (folded); largest difference of the attacked images {(p.Adversarial - q.Adversarial).abs().max().item<float>():G3}");

