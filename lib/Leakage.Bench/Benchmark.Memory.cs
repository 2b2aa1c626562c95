using System.Diagnostics;
using Leakage.Adversarial;
using Leakage.Models;
using Leakage.Native;
using static TorchSharp.torch;

namespace Leakage.Benchmarks;

// Resident memory while D_rand is generated.
public static partial class Benchmark
{
    /// <summary>
    /// Resident memory while <see cref="AdversarialDatasets.Build"/> generates D_rand for
    /// <see cref="BenchmarkSettings.DrandImages"/> images against an untrained model of the profile's
    /// architecture, sampled after every PGD batch. Files go to a fresh folder under
    /// <paramref name="workDirectory"/>, which is deleted afterwards.
    /// </summary>
    public static MemoryProfile MeasureMemory(BenchmarkSettings settings, Device device, BenchmarkData data, string workDirectory,
        CancellationToken cancellationToken = default)
    {
        TorchNative.Ensure();
        var dir = Path.Combine(Path.GetFullPath(workDirectory), $"d_rand-{Environment.ProcessId}-{Guid.NewGuid():N}");
        using var model = ModelFactory.Create(settings.Arch, settings.Seed, settings.Width, device);
        model.eval();
        var (images, labels) = data.Take(settings.DrandImages, stream: 4);
        try
        {
            var samples = new List<long>();
            var chunks = new List<int>();
            var stamps = new List<long>();
            long lastDone = 0;
            var progress = new SyncProgress<AdversarialProgress>(p =>
            {
                // Reports come after every PGD batch and again after every chunk (same count): sample once per batch.
                if (p.ImagesDone <= lastDone) return;
                lastDone = p.ImagesDone;
                stamps.Add(Stopwatch.GetTimestamp());
                chunks.Add(p.Chunk);
                samples.Add(InUse());
            });
            Quiesce();
            long before = InUse();
            bool phaseOnly = ResidentMemory.ResetPeak();
            long start = Stopwatch.GetTimestamp();
            double seconds;
            using (AdversarialDatasets.Build(AdversarialKind.Random, model, images, labels, settings.Attack, dir, device, progress, cancellationToken, log: _ => { }))
                seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (samples.Count == 0) throw new InvalidOperationException("D_rand generation reported no PGD batch.");
            long peak = Math.Max(ResidentMemory.Peak(), samples.Max());
            int reference = DriftReference(chunks, settings.DriftReferenceBatch);
            long atReference = samples[reference - 1], end = samples[^1];
            var batchSeconds = stamps.Select((t, i) => Stopwatch.GetElapsedTime(i == 0 ? start : stamps[i - 1], t).TotalSeconds).ToArray();
            return new MemoryProfile(settings.DrandImages, settings.Attack.BatchSize, settings.Attack.Steps, samples.Count, reference,
                peak, phaseOnly, before, atReference, end, (double)(end - atReference) / atReference,
                seconds, settings.DrandImages / seconds, samples, batchSeconds);
        }
        finally
        {
            images.Dispose();
            labels.Dispose();
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The 1-based batch whose sample the drift is measured from. Within a chunk, each PGD batch adds its
    /// results (about 6 MB per 500 images) until the chunk is written, so resident memory climbs in a
    /// saw-tooth that restarts every chunk. The reference is therefore the first batch at or after
    /// <paramref name="preferred"/> that sits at the same place in its chunk as the last batch (so a
    /// steady process shows zero drift); failing that, the latest such batch before it; for a single
    /// chunk, batch <paramref name="preferred"/> (or the middle one of a shorter run).
    /// </summary>
    /// <param name="chunkOfBatch">1-based chunk of every sampled batch, in order.</param>
    /// <param name="preferred">Preferred reference batch (1-based; 10 by default).</param>
    public static int DriftReference(IReadOnlyList<int> chunkOfBatch, int preferred)
    {
        int n = chunkOfBatch.Count;
        if (n == 0) throw new ArgumentException("no batches were sampled", nameof(chunkOfBatch));
        var position = new int[n];
        for (int i = 1; i < n; i++) position[i] = chunkOfBatch[i] == chunkOfBatch[i - 1] ? position[i - 1] + 1 : 0;
        var aligned = Enumerable.Range(0, n - 1)
            .Where(i => position[i] == position[n - 1] && chunkOfBatch[i] != chunkOfBatch[n - 1]).ToList();
        if (aligned.Count > 0)
        {
            var atOrAfter = aligned.Where(i => i + 1 >= preferred).ToList();
            return (atOrAfter.Count > 0 ? atOrAfter[0] : aligned[^1]) + 1;
        }
        return n > preferred ? preferred : Math.Max(1, n / 2);
    }

    /// <summary>
    /// Resident size with the C heap's cached free pages returned first (<see cref="ResidentMemory.Trim"/>):
    /// without that, samples taken after identical batches differ by 100-200 MB depending on what glibc
    /// happened to keep, which would hide (or fake) a drift. Managed garbage is not collected, so
    /// tensors left to finalisers would show as growth.
    /// </summary>
    static long InUse()
    {
        ResidentMemory.Trim();
        return ResidentMemory.Current();
    }
}
