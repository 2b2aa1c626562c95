#:project ../lib/Leakage/Leakage.csproj
// Measures importing a PyTorch checkpoint and attacking it (docs/checkpoints.md, "Cost"):
//   dotnet run tools/checkpoint-bench.cs -- FILE [--images 32] [--steps 5] [--threads 0]
// 1. Load: wall time of CheckpointImport.Load and the process's resident memory (VmRSS) and peak
//    (VmHWM) above what it held before, against the file's size.
// 2. Attack: targeted L2 PGD (eps 0.5, step 0.1, as for D_rand/D_det) on --images random images for
//    --steps steps after one warm-up step; prints image-steps/s and the time per 1,000 images at
//    100 steps. A measurement on this machine, never a test assertion.
using System.Diagnostics;
using Leakage.Attacks;
using Leakage.Checkpoints;
using Leakage.Native;
using static TorchSharp.torch;

var file = args.FirstOrDefault(a => !a.StartsWith("--")) ?? throw new ArgumentException("usage: checkpoint-bench.cs FILE [--images N] [--steps S] [--threads T]");
int Option(string name, int fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
int images = Option("--images", 32), steps = Option("--steps", 5), threads = Option("--threads", 0);

TorchNative.Ensure();
if (threads > 0) set_num_threads(threads);
using (var warm = ones(8, 8).matmul(ones(8, 8))) { }
GC.Collect();
long Kb(string key) => long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(key + ":"))[(key.Length + 1)..].Trim().Split(' ')[0]);
long rss0 = Kb("VmRSS"), hwm0 = Kb("VmHWM");
double size = new FileInfo(file).Length / 1e6;

var clock = Stopwatch.StartNew();
using var imported = CheckpointImport.Load(file);
double loadSeconds = clock.Elapsed.TotalSeconds;
GC.Collect();
long rss1 = Kb("VmRSS"), hwm1 = Kb("VmHWM");
var info = imported.Info;
Console.WriteLine($"{file}: {size:N1} MB, {info.Layout}, {info.Arch} width {info.Width}, {info.Parameters:N0} parameters ({info.Parameters * 4 / 1e6:N1} MB of float32)");
Console.WriteLine($"load: {loadSeconds:N2} s (SHA-256 included); resident memory +{(rss1 - rss0) / 1e3:N1} MB, peak +{(Math.Max(hwm1, rss1) - Math.Max(hwm0, rss0)) / 1e3:N1} MB "
    + $"({(Math.Max(hwm1, rss1) - Math.Max(hwm0, rss0)) / 1e3 / size:N2}x the file)");

Console.WriteLine($"threads: {get_num_threads()}; {Environment.ProcessorCount} logical CPUs");
using var x = rand(new long[] { images, 3, 32, 32 }, generator: new Generator(1));
using var y = randint(0, 10, new long[] { images }, generator: new Generator(2));
var options = new L2PgdOptions { Eps = 0.5, StepSize = 0.1, Steps = 1, Targeted = true };
using (var r = L2Pgd.Attack(imported.Model, x, y, options, CPU, batchSize: images)) { } // warm-up
clock.Restart();
using (var r = L2Pgd.Attack(imported.Model, x, y, options with { Steps = steps }, CPU, batchSize: images)) { }
double perImageStep = clock.Elapsed.TotalSeconds / (images * (double)steps);
Console.WriteLine($"L2 PGD: {images} images x {steps} steps in {clock.Elapsed.TotalSeconds:N1} s: {1 / perImageStep:N1} image-steps/s; "
    + $"1,000 images x 100 steps: {perImageStep * 1000 * 100 / 3600:N2} h");
