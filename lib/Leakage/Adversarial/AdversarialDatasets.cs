using Leakage.Randomness;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Leakage.Attacks;
using Leakage.IO;
using Leakage.Models;
using Leakage.Native;
using Leakage.Scale;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Adversarial;

/// <summary>
/// Builds D_rand and D_det (Ilyas et al. 2019, section 3.2), and the control D_other: every training
/// image x of class y is attacked with targeted L2 PGD towards a target t and stored with label t.
/// <para>
/// Generation runs in chunks of <see cref="AdversarialOptions.ChunkSize"/> images. Each chunk's
/// targets and randomness are derived from (seed, chunk index) only and each chunk is written
/// atomically as soon as it is done, so a rerun of an interrupted build resumes after the last
/// complete chunk and yields exactly the data set an uninterrupted run would have.
/// </para>
/// <para>
/// Chunks are work units (<see cref="UnitBoard"/> in the data set's <c>units/</c> folder): a worker
/// claims a chunk before attacking it, so several processes on one folder (or one per shard, see
/// <see cref="BuildShard"/>) split the chunks between them instead of colliding, and a plain build
/// waits for chunks that a live worker holds.
/// </para>
/// </summary>
public static class AdversarialDatasets
{
    const string ChunkKind = "adversarial-chunk";
    const string ChunksFolder = "chunks";

    /// <summary>
    /// Builds (or resumes, or reuses) the data set in <paramref name="dir"/>.
    /// </summary>
    /// <param name="kind">D_rand, D_det or D_other.</param>
    /// <param name="model">The source classifier to attack, on <paramref name="device"/>; it is not modified.</param>
    /// <param name="images">Clean training images, float32 N x 3 x 32 x 32 in [0, 1] (CPU).</param>
    /// <param name="labels">Their labels, int64 N in [0, 10).</param>
    /// <param name="options">Attack and chunking settings.</param>
    /// <param name="dir">Folder of the data set; a complete one made with the same settings is reused as is.</param>
    /// <param name="device">Where to run the attack.</param>
    /// <param name="progress">Receives reports after every PGD batch and every chunk.</param>
    /// <param name="cancellationToken">Checked before every PGD batch; finished chunks stay on disk.</param>
    /// <param name="log">One-line messages about reuse, resumption and regeneration (default: <see cref="Trace"/>).</param>
    public static AdversarialDataset Build(AdversarialKind kind, nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels,
        AdversarialOptions options, string dir, Device device, IProgress<AdversarialProgress>? progress = null,
        CancellationToken cancellationToken = default, Action<string>? log = null) =>
        Work(kind, model, images, labels, options, dir, device, null, progress, cancellationToken, log).Dataset!;

    /// <summary>
    /// Computes only the chunks of <paramref name="dir"/>'s data set that fall to <paramref name="shard"/>
    /// (chunk c belongs to shard c mod n), skipping chunks that are done or held by another live
    /// worker, and returns without assembling. A plain <see cref="Build"/> on the folder afterwards
    /// (or once every shard is done) waits for chunks still held, computes any left, and assembles.
    /// </summary>
    public static ShardOutcome BuildShard(AdversarialKind kind, nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels,
        AdversarialOptions options, string dir, Device device, Shard shard, IProgress<AdversarialProgress>? progress = null,
        CancellationToken cancellationToken = default, Action<string>? log = null) =>
        Work(kind, model, images, labels, options, dir, device, shard, progress, cancellationToken, log).Outcome;

    /// <summary>How often a worker looks again at chunks another live worker holds.</summary>
    public static TimeSpan WaitPoll { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Name of the work unit of chunk <paramref name="chunk"/> (its folder under <c>chunks/</c> has the same name).</summary>
    public static string ChunkUnit(int chunk) => $"chunk-{chunk:D5}";

    const string AssembleUnit = "assemble";

    static (AdversarialDataset? Dataset, ShardOutcome Outcome) Work(AdversarialKind kind, nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels,
        AdversarialOptions options, string dir, Device device, Shard? shard, IProgress<AdversarialProgress>? progress,
        CancellationToken cancellationToken, Action<string>? log)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        log ??= message => Trace.WriteLine(message);
        CheckData(images, labels);
        var settings = Settings(kind, model, images, labels, options);
        long n = images.shape[0];
        int chunks = (int)((n + options.ChunkSize - 1) / options.ChunkSize);

        if (Artifacts.TryValidate(dir, AdversarialDataset.ArtifactKind, settings, out var reason))
        {
            log($"Reusing the {AdversarialSet.Of(kind).Name} data set in {dir}.");
            return (shard is null ? AdversarialDataset.Load(dir) : null, new ShardOutcome(chunks, 0, chunks, 0, true));
        }
        if (File.Exists(Path.Combine(dir, Artifacts.MetadataFile)))
        {
            log($"Regenerating the {AdversarialSet.Of(kind).Name} data set in {dir}: {reason}.");
            try { File.Delete(Path.Combine(dir, Artifacts.MetadataFile)); } catch (FileNotFoundException) { }
        }

        var chunkRoot = Path.Combine(dir, ChunksFolder);
        RemoveStrayChunks(chunkRoot, chunks, log);
        var board = new UnitBoard(dir, log);
        var fingerprint = UnitBoard.FingerprintOf(settings.ToJsonString());
        board.Plan(AdversarialSet.Of(kind).Name, [.. Enumerable.Range(0, chunks).Select(ChunkUnit)], fingerprint);
        var clock = Stopwatch.StartNew();
        long done = 0, successes = 0, attackedThisSession = 0;
        int reused = 0, computed = 0, byOthers = 0;
        bool resumeLogged = false, firstPass = true;
        void LogResume(string next)
        {
            if (resumeLogged || reused == 0) return;
            resumeLogged = true;
            log($"Resuming the {AdversarialSet.Of(kind).Name} data set in {dir}: {reused} of {chunks} chunks were already complete; {next}.");
        }
        var pending = Enumerable.Range(0, chunks).Where(c => shard?.Owns(c) ?? true).ToList();
        bool ChunkDone(int c, out string why) =>
            Artifacts.TryValidate(ChunkDir(chunkRoot, c), ChunkKind, ChunkSettings(settings, c, (long)c * options.ChunkSize,
                Math.Min(options.ChunkSize, n - (long)c * options.ChunkSize)), out why);
        void Count(int c, long count, bool first)
        {
            successes += (long?)Artifacts.ReadExtra(ChunkDir(chunkRoot, c))?["successes"] ?? 0;
            done += count;
            if (first) reused++; else byOthers++;
            progress?.Report(new AdversarialProgress(c + 1, chunks, done, n, done == 0 ? double.NaN : (double)successes / done, 0));
        }
        while (true)
        {
            var held = new List<int>();
            foreach (var c in pending)
            {
                long start = (long)c * options.ChunkSize;
                long count = Math.Min(options.ChunkSize, n - start);
                var chunkDir = ChunkDir(chunkRoot, c);
                var chunkSettings = ChunkSettings(settings, c, start, count);
                if (ChunkDone(c, out var chunkReason)) { Count(c, count, firstPass); continue; }
                using var claim = board.TryClaim(ChunkUnit(c), out var holder);
                if (claim is null)
                {
                    held.Add(c);
                    continue;
                }
                // Finished by another worker between the check and the claim.
                if (ChunkDone(c, out chunkReason)) { Count(c, count, firstPass); continue; }
                LogResume($"continuing with chunk {c + 1}");
                if (Directory.Exists(chunkDir))
                {
                    log($"Regenerating chunk {c + 1}/{chunks} of {dir}: {chunkReason}.");
                    Artifacts.Delete(chunkDir);
                }

                var unitClock = Stopwatch.StartNew();
                long before = done;
                var batchProgress = progress is null ? null : new SyncProgress<long>(k =>
                    progress.Report(new AdversarialProgress(c + 1, chunks, before + k, n,
                        done == 0 ? double.NaN : (double)successes / done,
                        (attackedThisSession + k) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9))));
                using var x = images.narrow(0, start, count);
                using var y = labels.narrow(0, start, count);
                long chunkSuccesses = AttackChunk(kind, model, x, y, options, c, chunkDir, chunkSettings, device, batchProgress, cancellationToken);
                board.MarkDone(ChunkUnit(c), fingerprint, unitClock.Elapsed.TotalSeconds);

                successes += chunkSuccesses;
                done += count;
                attackedThisSession += count;
                computed++;
                progress?.Report(new AdversarialProgress(c + 1, chunks, done, n, (double)successes / done,
                    attackedThisSession / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)));
            }
            firstPass = false;
            pending = held;
            if (pending.Count == 0) break;
            if (shard is not null)
            {
                log($"{AdversarialSet.Of(kind).Name} shard {shard}: {pending.Count} chunk(s) of this shard are held by other live workers; leaving them to them.");
                break;
            }
            // A plain build waits for chunks that live workers hold, then takes over whatever is left.
            board.WaitWhileHeld(ChunkUnit(pending[0]), () => ChunkDone(pending[0], out _), WaitPoll, cancellationToken);
        }

        var outcome = new ShardOutcome(chunks, computed, reused + byOthers, pending.Count, false);
        if (shard is not null)
        {
            log($"{AdversarialSet.Of(kind).Name} shard {shard}: computed {computed} chunk(s), {reused + byOthers} were done already, {pending.Count} held by others; the data set is assembled by a plain run.");
            return (null, outcome);
        }

        LogResume("assembling them");
        // One worker assembles; the others wait for its metadata.json.
        while (!Artifacts.TryValidate(dir, AdversarialDataset.ArtifactKind, settings, out _))
        {
            using var claim = board.TryClaim(AssembleUnit, out _);
            if (claim is null)
            {
                board.WaitWhileHeld(AssembleUnit, () => Artifacts.TryValidate(dir, AdversarialDataset.ArtifactKind, settings, out _, verifyChecksums: false), WaitPoll, cancellationToken);
                continue;
            }
            if (Artifacts.TryValidate(dir, AdversarialDataset.ArtifactKind, settings, out _)) break;
            Assemble(dir, chunkRoot, chunks, labels, settings, kind, model);
            log($"{AdversarialSet.Of(kind).Name} data set complete in {dir}: {n} images, attack success {(double)successes / n:P1}.");
            Artifacts.Delete(chunkRoot);
            break;
        }
        return (AdversarialDataset.Load(dir), outcome with { Complete = true });
    }

    /// <summary>
    /// The attack itself, for chunk <paramref name="chunk"/> of images <paramref name="x"/> labelled
    /// <paramref name="y"/>: its targets, targeted L2 PGD from a seed of the chunk's own, and the chunk
    /// committed to <paramref name="chunkDir"/> (images, targets, success flags). Returns its successes.
    /// Everything else in <see cref="Work"/> decides which chunks to attack and when.
    /// </summary>
    static long AttackChunk(AdversarialKind kind, nn.Module<Tensor, Tensor> model, Tensor x, Tensor y, AdversarialOptions options, int chunk,
        string chunkDir, JsonObject chunkSettings, Device device, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();
        var targets = AdversarialSet.Of(kind).DrawTargets(y, options, chunk);
        using var result = L2Pgd.Attack(model, x, targets, options.Attack, device, options.BatchSize,
            (long)Seeds.Derive(options.Seed, chunk, 1), progress, cancellationToken);
        long successes = result.Success.sum().item<long>();
        AtomicFile.CreateFolder(chunkDir);
        TensorFile.Save(Path.Combine(chunkDir, AdversarialDataset.ImagesFile), result.Adversarial);
        TensorFile.Save(Path.Combine(chunkDir, AdversarialDataset.TargetsFile), targets);
        TensorFile.Save(Path.Combine(chunkDir, AdversarialDataset.SuccessFile), result.Success);
        Artifacts.Commit(chunkDir, ChunkKind, chunkSettings,
            [AdversarialDataset.ImagesFile, AdversarialDataset.TargetsFile, AdversarialDataset.SuccessFile],
            new JsonObject { ["successes"] = successes });
        return successes;
    }

    /// <summary>
    /// The identity of a data set: kind, attack, seed, chunking, and fingerprints of the source model's
    /// weights and of the clean data. Device and batch size are not part of it (they only change
    /// floating-point rounding).
    /// </summary>
    public static JsonObject Settings(AdversarialKind kind, nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, AdversarialOptions options) => new()
    {
        ["kind"] = kind.ToString().ToLowerInvariant(),
        ["eps"] = options.Eps,
        ["stepSize"] = options.StepSize,
        ["steps"] = options.Steps,
        ["keepBest"] = options.KeepBest,
        ["randomStart"] = options.RandomStart,
        ["randomTargetExcludesSource"] = kind == AdversarialKind.Random && options.RandomTargetExcludesSource,
        ["clamp"] = new JsonArray(0.0, 1.0),
        ["seed"] = options.Seed,
        ["chunkSize"] = options.ChunkSize,
        ["sourceModel"] = Fingerprint.Of(model),
        ["sourceArch"] = model is ICifarClassifier c ? $"{c.Arch} width {c.Width}" : model.GetType().Name,
        ["data"] = Fingerprint.Of(images, labels),
        ["count"] = images.shape[0],
    };

    static JsonObject ChunkSettings(JsonObject settings, int chunk, long start, long count)
    {
        var s = (JsonObject)settings.DeepClone();
        s["chunk"] = chunk;
        s["start"] = start;
        s["chunkCount"] = count;
        return s;
    }

    static string ChunkDir(string root, int chunk) => Path.Combine(root, ChunkUnit(chunk));

    static void RemoveStrayChunks(string root, int chunks, Action<string> log)
    {
        if (!Directory.Exists(root)) return;
        foreach (var d in Directory.GetDirectories(root))
        {
            var name = Path.GetFileName(d);
            if (name.StartsWith('.')) continue;   // another writer's folder being removed (Artifacts.Delete)
            bool ours = name.StartsWith("chunk-", StringComparison.Ordinal)
                && int.TryParse(name.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var c) && c < chunks;
            if (!ours)
            {
                log($"Removing {d}: not a chunk of this data set.");
                Artifacts.Delete(d);
            }
        }
    }

    static void Assemble(string dir, string chunkRoot, int chunks, Tensor labels, JsonObject settings, AdversarialKind kind, nn.Module<Tensor, Tensor> model)
    {
        using var scope = NewDisposeScope();
        var images = new List<Tensor>();
        var targets = new List<Tensor>();
        var success = new List<Tensor>();
        for (int c = 0; c < chunks; c++)
        {
            var cd = ChunkDir(chunkRoot, c);
            images.Add(TensorFile.Load(Path.Combine(cd, AdversarialDataset.ImagesFile)));
            targets.Add(TensorFile.Load(Path.Combine(cd, AdversarialDataset.TargetsFile)));
            success.Add(TensorFile.Load(Path.Combine(cd, AdversarialDataset.SuccessFile)));
        }
        var allSuccess = cat(success, 0);
        TensorFile.Save(Path.Combine(dir, AdversarialDataset.ImagesFile), cat(images, 0));
        TensorFile.Save(Path.Combine(dir, AdversarialDataset.LabelsFile), labels.cpu());
        TensorFile.Save(Path.Combine(dir, AdversarialDataset.TargetsFile), cat(targets, 0));
        TensorFile.Save(Path.Combine(dir, AdversarialDataset.SuccessFile), allSuccess);
        var extra = new JsonObject
        {
            ["name"] = AdversarialSet.Of(kind).Name,
            ["successRate"] = allSuccess.to_type(ScalarType.Float64).mean().item<double>(),
            ["sourceModel"] = model is ICifarClassifier c2 ? c2.Arch : model.GetType().Name,
        };
        Artifacts.Commit(dir, AdversarialDataset.ArtifactKind, settings,
            [AdversarialDataset.ImagesFile, AdversarialDataset.LabelsFile, AdversarialDataset.TargetsFile, AdversarialDataset.SuccessFile], extra);
    }

    static void CheckData(Tensor images, Tensor labels)
    {
        if (images.dim() != 4 || images.shape[1] != CifarStats.Channels || images.dtype != ScalarType.Float32)
            throw new ArgumentException($"Adversarial data: images must be float32 N x 3 x H x W, got {images.dtype} [{string.Join(", ", images.shape)}].", nameof(images));
        if (labels.dim() != 1 || labels.dtype != ScalarType.Int64 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"Adversarial data: need one int64 label per image ({images.shape[0]} images), got {labels.dtype} [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (images.shape[0] == 0) throw new ArgumentException("Adversarial data: no images.", nameof(images));
        long lo = labels.min().item<long>(), hi = labels.max().item<long>();
        if (lo < 0 || hi >= CifarStats.Classes)
            throw new ArgumentException($"Adversarial data: labels must be in [0, {CifarStats.Classes}), found [{lo}, {hi}].", nameof(labels));
    }
}

/// <summary>What one worker's pass over a data set's chunks did.</summary>
/// <param name="Chunks">Chunks of the whole data set.</param>
/// <param name="Computed">Chunks this worker attacked.</param>
/// <param name="AlreadyDone">Chunks of its share that were finished already (earlier, or by other workers).</param>
/// <param name="HeldByOthers">Chunks of its share that other live workers were computing.</param>
/// <param name="Complete">Whether the assembled data set is in place.</param>
public sealed record ShardOutcome(int Chunks, int Computed, int AlreadyDone, int HeldByOthers, bool Complete);
