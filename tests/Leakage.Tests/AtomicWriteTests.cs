using System.Text.Json.Nodes;
using Leakage.Data;
using Leakage.Experiment;
using Leakage.IO;
using Leakage.Models;
using Leakage.Robust;
using Leakage.Tests.Support;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// Every writer family replaces files atomically: the new content goes to a temporary file that is
/// renamed over the target. The proof used here: a reader that opened the old file before the write
/// still reads the complete old content afterwards (an in-place write would truncate and overwrite
/// the very file it reads), the path then holds the new content, and no temporary file is left.
/// </summary>
public class AtomicWriteTests
{
    /// <summary>Opens <paramref name="path"/>, runs <paramref name="write"/>, then checks the old handle still reads the old bytes.</summary>
    static void AssertReplacedAtomically(string path, Action write)
    {
        var old = File.ReadAllBytes(path);
        using (var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1))
        {
            write();
            var seen = new byte[old.Length + 1];
            int n = 0, r;
            while ((r = reader.Read(seen, n, seen.Length - n)) > 0) n += r;
            Assert.True(n == old.Length && seen.AsSpan(0, n).SequenceEqual(old), $"a reader of the old {Path.GetFileName(path)} saw it change under it ({n} of {old.Length} bytes)");
        }
        Assert.False(File.ReadAllBytes(path).AsSpan().SequenceEqual(old), $"{Path.GetFileName(path)} was not rewritten");
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*" + AtomicFile.TempSuffix));
    }

    [Fact]
    public void Results_json_updates_replace_the_file_atomically()
    {
        using var dir = new TempDir();
        var results = new ResultsFile(dir.Path);
        results.Set("standardModel.testAccuracy", 0.5);
        AssertReplacedAtomically(results.Path, () => results.Set("transfer.drand", 0.25));
        Assert.Equal(0.5, (double)results.Read()["standardModel"]!["testAccuracy"]!);
    }

    [Fact]
    public void Artifact_metadata_is_committed_atomically()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.txt"], "one");
        Artifacts.Commit(dir.Path, "demo", new { steps = 1 }, ["a.txt"]);
        AssertReplacedAtomically(dir[Artifacts.MetadataFile], () => Artifacts.Commit(dir.Path, "demo", new { steps = 2 }, ["a.txt"]));
        Assert.True(Artifacts.TryValidate(dir.Path, "demo", new { steps = 2 }, out var reason), reason);
    }

    [Fact]
    public void Tensor_files_and_linear_classifiers_are_saved_atomically()
    {
        using var dir = new TempDir();
        using (var a = zeros(4, 5)) TensorFile.Save(dir["t.bin"], a);
        using (var b = ones(4, 5)) AssertReplacedAtomically(dir["t.bin"], () => TensorFile.Save(dir["t.bin"], b));

        using var first = new LinearClassifier(3, 4);
        first.Save(dir["linear"], new { run = 1 });
        using var second = new LinearClassifier(3, 4);
        using (no_grad()) second.weight.add_(1);
        AssertReplacedAtomically(Path.Combine(dir["linear"], "weight.ts.bin"), () => second.Save(dir["linear"], new { run = 2 }));
        using var back = LinearClassifier.TryLoad(dir["linear"], new { run = 2 }, out var reason) ?? throw new Xunit.Sdk.XunitException(reason);
        Assert.True(back.weight.eq(second.weight).all().item<bool>());
    }

    [Fact]
    public void Model_weights_written_by_module_save_are_replaced_atomically()
    {
        using var dir = new TempDir();
        using var a = ModelFactory.Create("small-cnn", seed: 1, width: 4);
        using var b = ModelFactory.Create("small-cnn", seed: 2, width: 4);
        ModelStore.Save(a, dir.Path, new { seed = 1 });
        AssertReplacedAtomically(Path.Combine(dir.Path, ModelStore.WeightsFile), () => ModelStore.Save(b, dir.Path, new { seed = 2 }));
        using var back = ModelStore.Load(dir.Path, "small-cnn", new { seed = 2 }, CPU, width: 4);
        Assert.Equal(Fingerprint.Of(b), Fingerprint.Of(back));
    }

    [Fact]
    public void The_image_decode_cache_and_written_data_files_are_replaced_atomically()
    {
        using var dir = new TempDir();
        var cache = dir["cache.bin"];
        TensorCache.Payload Payload(byte v) => new(Enumerable.Repeat(v, Cifar10.ImageSize).ToArray(), [1], Enumerable.Repeat(v, Cifar10.ImageSize).ToArray(), [2]);
        TensorCache.Write(cache, "f1", dir.Path, Payload(1));
        AssertReplacedAtomically(cache, () => TensorCache.Write(cache, "f2", dir.Path, Payload(2)));
        Assert.NotNull(TensorCache.TryRead(cache, "f2", out var reason));

        var bin = dir["data_batch_1.bin"];
        CifarBinaryFormat.WriteFile(bin, new byte[Cifar10.ImageSize], [3]);
        AssertReplacedAtomically(bin, () => CifarBinaryFormat.WriteFile(bin, new byte[Cifar10.ImageSize], [4]));

        var png = dir["img.png"];
        ImageFolderFormat.WritePng(png, new byte[Cifar10.ImageSize]);
        AssertReplacedAtomically(png, () => ImageFolderFormat.WritePng(png, Enumerable.Repeat((byte)200, Cifar10.ImageSize).ToArray()));
    }

    [Fact]
    public void Seed_study_summaries_are_replaced_atomically()
    {
        using var dir = new TempDir();
        var settings = Profiles.Get("quick");
        SeedStudy.Write(dir.Path, SeedStudy.Aggregate(settings, [(0, "seed-0", ResultsUpgrade.Read(JsonNode.Parse("""{"leakage":{"drand":0.2}}""")!.AsObject()))]));
        var next = SeedStudy.Aggregate(settings, [(0, "seed-0", ResultsUpgrade.Read(JsonNode.Parse("""{"leakage":{"drand":0.2}}""")!.AsObject())), (1, "seed-1", ResultsUpgrade.Read(JsonNode.Parse("""{"leakage":{"drand":0.3}}""")!.AsObject()))]);
        AssertReplacedAtomically(dir[SeedStudy.FileName], () => SeedStudy.Write(dir.Path, next));
        AssertReplacedAtomically(dir[SeedStudy.TableFileName], () => SeedStudy.Write(dir.Path, SeedStudy.Aggregate(settings, [])));
    }

    [Fact]
    public void Temporary_files_of_killed_writers_are_removed_and_those_of_live_writers_kept()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["d_rand"]);
        const int gone = 999_999_999; // above any Linux pid_max: no such process
        var orphan = dir[Path.Combine("d_rand", $".images.bin.{gone}.{Guid.NewGuid():N}.tmp")];
        var live = dir[$".results.json.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp"];
        var other = dir[".notes.tmp"]; // not one of ours
        foreach (var f in new[] { orphan, live, other }) File.WriteAllText(f, "partial");

        var removed = AtomicFile.RemoveOrphans(dir.Path);

        Assert.Equal([orphan], removed);
        Assert.False(File.Exists(orphan));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(other));
    }

    [Fact]
    public void Opening_a_run_folder_removes_partial_writes_of_an_interrupted_run_and_says_so()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["standard"]);
        var orphan = dir[Path.Combine("standard", $".model.bin.999999999.{Guid.NewGuid():N}.tmp")];
        File.WriteAllText(orphan, "partial");
        var log = new List<string>();

        using (ExperimentRun.Open(Profiles.Get("quick") with { Device = "cpu" }, dir["no-data-needed"], dir.Path, new RunObserver(log.Add))) { }

        Assert.False(File.Exists(orphan));
        Assert.Contains(log, m => m.Contains($"Removed {orphan}") && m.Contains("interrupted run"));
    }
}
