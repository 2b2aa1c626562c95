using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Leakage.Experiment;

namespace Leakage.Tests;

/// <summary>results.json read through the one record that writes it, for every recorded run.</summary>
public class ResultsRecordTests
{
    static string Docs => Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs");

    /// <summary>Every results.json recorded under docs/.</summary>
    public static TheoryData<string> Recorded()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs"), ResultsFile.FileName, SearchOption.AllDirectories).Order())
            data.Add(Path.GetRelativePath(Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs"), f));
        return data;
    }

    static JsonObject Raw(string relative) => JsonNode.Parse(File.ReadAllText(Path.Combine(Docs, relative)))!.AsObject();

    /// <summary>Every leaf of <paramref name="node"/> that is not null, by dotted path ([i] for items).</summary>
    static IEnumerable<(string Path, JsonValue Value)> Leaves(JsonNode? node, string path = "")
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o) foreach (var l in Leaves(v, path.Length == 0 ? k : $"{path}.{k}")) yield return l;
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++) foreach (var l in Leaves(a[i], $"{path}[{i}]")) yield return l;
                break;
            case JsonValue v:
                yield return (path, v);
                break;
        }
    }

    [Fact]
    public void There_are_recorded_runs_to_check() => Assert.True(Recorded().Count >= 8);

    [Theory]
    [MemberData(nameof(Recorded))]
    public void A_recorded_run_loads_through_the_record_and_keeps_every_value(string relative)
    {
        var record = ResultsFile.Load(Path.Combine(Docs, relative));
        var written = Leaves(JsonSerializer.SerializeToNode(record, ResultsJsonContext.Default.RunResultsRecord))
            .ToDictionary(l => l.Path, l => l.Value.ToJsonString());
        var upgraded = ResultsUpgrade.Upgrade(Raw(relative));
        foreach (var (path, value) in Leaves(upgraded))
        {
            Assert.True(written.TryGetValue(path, out var back), $"{relative}: {path} is not held by the record");
            if (value.GetValueKind() == JsonValueKind.Number)
                Assert.Equal(double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture), double.Parse(back!, CultureInfo.InvariantCulture));
            else
                Assert.Equal(value.ToJsonString(), back);
        }
    }

    /// <summary>Every string of <paramref name="results"/> that is a machine path (rooted, a drive, or under ~), as "path holds the absolute path text".</summary>
    public static IEnumerable<string> MachinePaths(JsonNode? results) =>
        Leaves(results).Where(l => l.Value.GetValueKind() == JsonValueKind.String)
            .Select(l => (l.Path, Text: l.Value.GetValue<string>()))
            .Where(l => Path.IsPathRooted(l.Text) || (l.Text.Length > 2 && l.Text[1] == ':' && l.Text[2] is '\\' or '/') || l.Text.StartsWith('~'))
            .Select(l => $"{l.Path} holds the absolute path {l.Text}");

    [Theory]
    [MemberData(nameof(Recorded))]
    public void No_recorded_run_holds_a_machine_path(string relative)
    {
        foreach (var found in MachinePaths(Raw(relative))) Assert.Fail($"{relative}: {found}");
    }

    [Theory]
    [MemberData(nameof(Recorded))]
    public void Each_headline_reads_the_number_its_key_names(string relative)
    {
        var raw = ResultsUpgrade.Upgrade(Raw(relative));
        var record = ResultsFile.Load(Path.Combine(Docs, relative));
        foreach (var h in StepCatalog.Headlines)
        {
            var node = h.Key.Split('.').Aggregate((JsonNode?)raw, (n, part) => n?[part]);
            Assert.Equal(node?.GetValue<double>(), h.Read(record));
            var count = h.CountKey.Split('.').Aggregate((JsonNode?)raw, (n, part) => n?[part]);
            if (node is not null) Assert.Equal(count?.GetValue<long>(), h.Count(record));
        }
    }

    [Fact]
    public void Every_results_path_of_the_catalog_is_a_member_of_the_record()
    {
        static bool Resolves(string path)
        {
            var info = ResultsJsonContext.Default.GetTypeInfo(typeof(RunResultsRecord));
            foreach (var part in path.Split('.'))
            {
                var property = info?.Kind == JsonTypeInfoKind.Object ? info.Properties.FirstOrDefault(p => p.Name == part) : null;
                if (property is null) return info?.Kind == JsonTypeInfoKind.Dictionary;
                var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                info = type.IsPrimitive || type == typeof(string) ? null : ResultsJsonContext.Default.GetTypeInfo(type);
            }
            return true;
        }
        Assert.All(StepCatalog.All, s => Assert.True(Resolves(s.ResultsKey), s.ResultsKey));
        Assert.All(StepCatalog.All, s => Assert.True(Resolves(s.SecondsKey), s.SecondsKey));
        Assert.All(StepCatalog.Headlines, h => Assert.True(Resolves(h.Key) && Resolves(h.CountKey), h.Key));
        Assert.All(new[] { LeakageControls.ResultsKey, ControlsStep.ResultsKey, Fidelity.ResultsKey, ExperimentRun.ProvenanceKey, BeyondResults.Section },
            k => Assert.True(Resolves(k), k));
        Assert.Equal("adversarial.dother", StepCatalog.DOther.ResultsKey);
        Assert.Equal("transferDetails.ddet", RunResultsRecord.PathOf(nameof(RunResultsRecord.TransferDetails), Adversarial.AdversarialSet.Of(Adversarial.AdversarialKind.Deterministic).ResultsKey));
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_named_by_its_path_and_the_type_the_record_expects()
    {
        var raw = Raw(Path.Combine("results", "cpu-2026-12-01", ResultsFile.FileName));
        raw["leakage"]!["intervals"]!["drand"] = "narrow";
        var e = Assert.Throws<InvalidDataException>(() => ResultsUpgrade.Read(raw, "runs/x/results.json"));
        Assert.StartsWith("runs/x/results.json: leakage.intervals.drand is not an array", e.Message);
        raw = Raw(Path.Combine("results", "cpu-2026-12-01", ResultsFile.FileName));
        raw["robustModel"]!["spec1"] = 1;
        Assert.Contains("robustModel.spec1 is not true or false", Assert.Throws<InvalidDataException>(() => ResultsUpgrade.Read(raw)).Message);
    }

    [Fact]
    public void A_whole_section_is_checked_to_the_last_member()
    {
        var record = ResultsFile.Load(Path.Combine(Docs, "results", "cpu-2026-12-01", ResultsFile.FileName));
        Assert.Same(record.Leakage, ResultsUpgrade.Whole(record.Leakage!, "leakage", "f"));
        var broken = record.Leakage! with { Controls = record.Leakage.Controls with { Chance = null! } };
        Assert.Equal("f: leakage.controls.chance is missing.", Assert.Throws<InvalidDataException>(() => ResultsUpgrade.Whole(broken, "leakage", "f")).Message);
    }

    [Fact]
    public void Released_sets_recorded_as_an_object_with_their_folder_are_read_as_a_list_without_it()
    {
        var entry = ResultsJson.Node(new EntryResult("released DRand, robust features", 0.2, 0.19, 0.21, 50000, 10000, 10, true, 30));
        var old = new JsonObject
        {
            ["beyond"] = new JsonObject { ["released"] = new JsonObject { ["root"] = "/data/release", ["DRand"] = entry, ["my_set"] = entry.DeepClone() } },
        };
        var released = ResultsUpgrade.Read(old).Beyond!.Released!;
        Assert.Equal(["DRand", "my_set"], released.Select(r => r.Set));
        Assert.Equal(0.2, released[0].Probe.Accuracy);
        Assert.Equal("/data/release", (string?)old["beyond"]!["released"]!["root"]); // the file's content is left as it was
    }

    [Fact]
    public void Nonlinear_probes_recorded_by_name_alone_are_read_by_their_kind()
    {
        var old = new JsonObject
        {
            ["beyond"] = new JsonObject
            {
                ["nonlinear"] = new JsonObject
                {
                    ["probes"] = new JsonArray(NonlinearProbeKind.All.Select((k, i) =>
                        ResultsJson.Node(new EntryResult(k.Name, 0.01 * (i + 1), 0, 0.5, 100, 50, 10, true, 7))).ToArray()),
                },
            },
        };
        var probes = ResultsUpgrade.Read(old).Beyond!.Nonlinear!.Probes;
        Assert.Equal(NonlinearProbeKind.All, probes.Select(p => p.Kind));
        Assert.Equal("clean images, D_det labels, robust CNN penultimate features", probes.Single(p => p.Kind == new NonlinearProbeKind(FeatureView.RobustPenultimate, ProbeSet.DDetNull)).Name);
        Assert.Equal("robustLogits", (string?)ResultsJson.Node(probes[0])["view"]);
        Assert.Equal("drandNull", (string?)ResultsJson.Node(probes[3])["set"]);
        Assert.Equal("D_rand, robust CNN logits", (string?)old["beyond"]!["nonlinear"]!["probes"]![0]!["name"]); // the file's content is left as it was

        old["beyond"]!["nonlinear"]!["probes"]![0]!["name"] = "D_rand, some other features";
        Assert.Contains("'D_rand, some other features' is not the name of a nonlinear probe", Assert.Throws<InvalidDataException>(() => ResultsUpgrade.Read(old)).Message);
    }

    [Fact]
    public void Each_nonlinear_probe_kind_makes_its_own_name_and_has_a_null_when_it_probes_an_attacked_set()
    {
        Assert.Equal(12, NonlinearProbeKind.All.Count);
        Assert.Equal(NonlinearProbeKind.All.Count, NonlinearProbeKind.All.Select(k => k.Name).Distinct().Count());
        Assert.Equal("D_rand, standard model logits (non-robust)", new NonlinearProbeKind(FeatureView.StandardLogits, ProbeSet.DRand).Name);
        Assert.Equal(new NonlinearProbeKind(FeatureView.RobustLogits, ProbeSet.DDetNull), new NonlinearProbeKind(FeatureView.RobustLogits, ProbeSet.DDet).Null);
        Assert.Null(new NonlinearProbeKind(FeatureView.StandardLogits, ProbeSet.DRand).Null);
        Assert.Null(new NonlinearProbeKind(FeatureView.RobustLogits, ProbeSet.CleanD).Null);
    }
}
