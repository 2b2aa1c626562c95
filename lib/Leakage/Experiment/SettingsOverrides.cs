using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Robust;

namespace Leakage.Experiment;

/// <summary>
/// Parses (<see cref="Parse"/>) and applies <c>section.name=value</c> overrides (from <c>--set</c>, or
/// $LEAKAGE_SETTINGS in notebooks) to settings, and validates every value: an unknown key lists the valid keys of its
/// section, a bad value names the key and what it accepts.
/// </summary>
public static class SettingsOverrides
{
    /// <summary>All settable keys, e.g. <c>attack.steps</c>.</summary>
    public static IReadOnlyList<string> Keys(ExperimentSettings s) => Flatten(Artifacts.ToNode(s), "").Select(kv => kv.Key).ToList();

    /// <summary>Applies overrides in order; a later one wins.</summary>
    public static ExperimentSettings Apply(ExperimentSettings settings, IEnumerable<string> overrides)
    {
        var node = Artifacts.ToNode(settings).AsObject();
        foreach (var raw in overrides)
        {
            var eq = raw.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"Setting '{raw}' must look like section.name=value, e.g. attack.steps=20.");
            var key = raw[..eq].Trim();
            var value = raw[(eq + 1)..].Trim();
            Set(node, key, value);
        }
        ExperimentSettings result;
        try { result = node.Deserialize<ExperimentSettings>(Artifacts.Json)!; }
        catch (JsonException e)
        {
            var key = (e.Path ?? "").TrimStart('$', '.');
            throw new ArgumentException($"Setting '{key}' has a value of the wrong type (a whole number is expected for counts and sizes): {e.Message}");
        }
        Validate(result);
        return result;
    }

    /// <summary>
    /// Parses a list of overrides, the one syntax of <c>--set</c> (one entry per flag) and
    /// <c>$LEAKAGE_SETTINGS</c> (several): <c>key=value</c> entries with dotted keys, separated by
    /// <c>;</c>, <c>,</c> or new lines outside brackets and quotes (so a list is written <c>[0.1,0.25]</c>);
    /// or a JSON object, nested (<c>{"attack": {"steps": 3}}</c>) or with dotted keys. A JSON string value
    /// gives its text, any other JSON value its JSON text.
    /// </summary>
    /// <param name="text">The overrides.</param>
    /// <param name="source">Where they come from, named in errors (e.g. <c>LEAKAGE_SETTINGS</c>).</param>
    /// <returns>The entries as <c>key=value</c>, in order.</returns>
    /// <exception cref="ArgumentException">Malformed text, an empty key part, a key given twice, or one that nests under a value; the message names <paramref name="source"/> and the entry.</exception>
    public static IReadOnlyList<string> Parse(string? text, string source = "settings")
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        text = text.Trim();
        var entries = new List<(string Key, string Value)>();
        if (text.StartsWith('{'))
        {
            JsonObject obj;
            try { obj = JsonNode.Parse(text) as JsonObject ?? throw new ArgumentException($"{source} must be a JSON object."); }
            catch (JsonException e) { throw new ArgumentException($"{source} is not valid JSON: {e.Message}", e); }
            void Walk(JsonObject o, string prefix)
            {
                foreach (var (k, v) in o)
                {
                    var key = prefix.Length == 0 ? k : $"{prefix}.{k}";
                    if (v is JsonObject child) Walk(child, key);
                    else entries.Add((key, v is JsonValue jv && jv.TryGetValue<string>(out var str) ? str : v?.ToJsonString() ?? "null"));
                }
            }
            Walk(obj, "");
        }
        else
        {
            foreach (var raw in SplitEntries(text, source))
            {
                int eq = raw.IndexOf('=');
                if (eq <= 0) throw new ArgumentException($"{source}: '{raw}' is not of the form key=value, e.g. attack.steps=20.");
                entries.Add((raw[..eq].Trim(), raw[(eq + 1)..].Trim()));
            }
        }
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, _) in entries)
        {
            if (key.Split('.').Any(p => p.Length == 0)) throw new ArgumentException($"{source}: '{key}' is not a valid key (empty part in a dotted name).");
            if (!seen.Add(key)) throw new ArgumentException($"{source}: '{key}' is given twice.");
            var parent = seen.FirstOrDefault(k => key.StartsWith(k + ".", StringComparison.OrdinalIgnoreCase) || k.StartsWith(key + ".", StringComparison.OrdinalIgnoreCase));
            if (parent != null) throw new ArgumentException($"{source}: '{key}' and '{parent}' cannot both be set: one nests under the other, which has a value.");
        }
        return entries.Select(e => $"{e.Key}={e.Value}").ToList();
    }

    /// <summary>Splits on ',', ';' and new lines that are outside brackets and quotes (so lists survive).</summary>
    static IEnumerable<string> SplitEntries(string text, string source)
    {
        int depth = 0, start = 0;
        bool quoted = false;
        for (int i = 0; i <= text.Length; i++)
        {
            char c = i < text.Length ? text[i] : ',';
            if (quoted) { if (c == '"' && text[i - 1] != '\\') quoted = false; continue; }
            switch (c)
            {
                case '"': quoted = true; break;
                case '[' or '{': depth++; break;
                case ']' or '}': depth--; break;
                case ',' or ';' or '\n' when depth == 0:
                    var entry = text[start..i].Trim();
                    if (entry.Length > 0) yield return entry;
                    start = i + 1;
                    break;
            }
        }
        if (quoted) throw new ArgumentException($"{source}: a quoted value is not closed.");
    }

    static void Set(JsonObject root, string key, string value)
    {
        var parts = key.Split('.');
        JsonObject parent = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            var name = FindKey(parent, parts[i], string.Join('.', parts[..i]));
            parent = parent[name] as JsonObject ?? throw new ArgumentException($"Setting '{key}': '{name}' is a value, not a section.");
        }
        var leaf = FindKey(parent, parts[^1], string.Join('.', parts[..^1]));
        var current = parent[leaf];
        if (current is JsonObject) throw new ArgumentException($"Setting '{key}' is a section; set one of its values: {string.Join(", ", parent[leaf]!.AsObject().Select(kv => $"{key}.{kv.Key}"))}.");
        var path = string.Join('.', parts[..^1].Append(leaf));
        parent[leaf] = Choices.Valid.Keys.FirstOrDefault(k => string.Equals(k, path, StringComparison.OrdinalIgnoreCase)) is { } choice
            ? JsonValue.Create(Choices.Check(choice, Unquote(value)))
            : Convert(key, value, current);
    }

    static string FindKey(JsonObject obj, string name, string prefix)
    {
        var match = obj.Select(kv => kv.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
        if (match != null) return match;
        var valid = obj.Select(kv => prefix.Length == 0 ? kv.Key : $"{prefix}.{kv.Key}");
        throw new ArgumentException($"Unknown setting '{(prefix.Length == 0 ? name : $"{prefix}.{name}")}'. Valid settings here: {string.Join(", ", valid)}.");
    }

    /// <summary>A value written as a JSON string ("...") gives its text.</summary>
    static string Unquote(string value)
    {
        if (value.Length < 2 || value[0] != '"' || value[^1] != '"') return value;
        try { return JsonNode.Parse(value)!.GetValue<string>(); }
        catch (JsonException) { return value; }
    }

    static JsonNode? Convert(string key, string value, JsonNode? current)
    {
        string Expect(string what) => $"Setting '{key}' = '{value}' is not {what}.";
        switch (current)
        {
            case JsonArray:
                var items = value.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var arr = new JsonArray();
                foreach (var it in items)
                    arr.Add(double.TryParse(it, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new ArgumentException(Expect("a comma-separated list of numbers")));
                return arr;
            case JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                return bool.TryParse(value, out var b) ? b : throw new ArgumentException(Expect("true or false"));
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return l;
                return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var num) && double.IsFinite(num)
                    ? num : throw new ArgumentException(Expect("a number"));
            default:
                return value.Equals("null", StringComparison.OrdinalIgnoreCase) ? null : JsonValue.Create(Unquote(value));
        }
    }

    /// <summary>Checks ranges and choices; throws <see cref="ArgumentException"/> naming the setting.</summary>
    public static void Validate(ExperimentSettings s)
    {
        var flat = Flatten(Artifacts.ToNode(s), "").ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);
        foreach (var key in Choices.Valid.Keys)
            if (flat[key] is not null || !Choices.Optional.Contains(key)) Choices.Check(key, (string?)flat[key]);
        if (!Profiles.Names.Contains(s.Profile)) throw new ArgumentException($"Setting 'profile' = '{s.Profile}' is not valid. Valid choices: {string.Join(", ", Profiles.Names)}.");
        void Positive(string key, double v) { if (!(v > 0)) throw new ArgumentException($"Setting '{key}' = {v.ToString(CultureInfo.InvariantCulture)} must be positive."); }
        void Below(string key, double v, double limit) { if (!(v < limit)) throw new ArgumentException($"Setting '{key}' = {v.ToString(CultureInfo.InvariantCulture)} must be below {limit.ToString(CultureInfo.InvariantCulture)}."); }
        void NonNegative(string key, double v) { if (!(v >= 0)) throw new ArgumentException($"Setting '{key}' = {v.ToString(CultureInfo.InvariantCulture)} must be zero or positive."); }
        NonNegative("data.trainCount", s.Data.TrainCount); NonNegative("data.testCount", s.Data.TestCount);
        NonNegative("threads", s.Threads);
        if (s.Seed is < 0 or > int.MaxValue) throw new ArgumentException($"Setting 'seed' = {s.Seed} must be between 0 and {int.MaxValue} (C and the probe take 32-bit seeds).");
        Positive("standard.width", s.Standard.Width); Positive("standard.epochs", s.Standard.Epochs); Positive("standard.batchSize", s.Standard.BatchSize);
        Positive("standard.lr", s.Standard.Lr); NonNegative("standard.momentum", s.Standard.Momentum); NonNegative("standard.weightDecay", s.Standard.WeightDecay);
        Positive("attack.eps", s.Attack.Eps); Positive("attack.step", s.Attack.Step); Positive("attack.steps", s.Attack.Steps);
        Positive("attack.batchSize", s.Attack.BatchSize); Positive("attack.chunkSize", s.Attack.ChunkSize);
        NonNegative("standard.normLrScale", s.Standard.NormLrScale); NonNegative("standard.lookahead", s.Standard.Lookahead);
        NonNegative("standard.cropPadding", s.Standard.CropPadding); Below("standard.cropPadding", s.Standard.CropPadding, 17);
        NonNegative("standard.labelSmoothing", s.Standard.LabelSmoothing); Below("standard.labelSmoothing", s.Standard.LabelSmoothing, 1);
        NonNegative("transfer.width", s.Transfer.Width);
        Positive("transfer.epochs", s.Transfer.Epochs); Positive("transfer.batchSize", s.Transfer.BatchSize);
        Positive("transfer.lrRand", s.Transfer.LrRand); Positive("transfer.lrDet", s.Transfer.LrDet);
        NonNegative("robust.trainRadius", s.Robust.TrainRadius); Positive("robust.certRadius", s.Robust.CertRadius);
        Positive("robust.epochs", s.Robust.Epochs); Positive("robust.batchSize", s.Robust.BatchSize); Positive("robust.lr", s.Robust.Lr);
        NonNegative("robust.weightDecay", s.Robust.WeightDecay);
        NonNegative("probe.l2", s.Probe.L2); Positive("probe.maxIterations", s.Probe.MaxIterations); Positive("probe.bootstrap", s.Probe.Bootstrap);
        Positive("probe.nullDraws", s.Probe.NullDraws); NonNegative("probe.trainingResamples", s.Probe.TrainingResamples);
        // Constraints of the training code, checked here so that a bad value fails before any work, named as a run setting.
        void AtLeast(string key, double v, double min, string why) { if (!(v >= min)) throw new ArgumentException($"Setting '{key}' = {v.ToString(CultureInfo.InvariantCulture)} must be at least {min.ToString(CultureInfo.InvariantCulture)} ({why})."); }
        Below("standard.momentum", s.Standard.Momentum, 1);
        AtLeast("standard.batchSize", s.Standard.BatchSize, 2, "batch norm needs two images per batch");
        AtLeast("transfer.batchSize", s.Transfer.BatchSize, 2, "batch norm needs two images per batch");
        int warmup = new RobustLinearOptions().WarmupEpochs;
        if (warmup > 0) AtLeast("robust.epochs", s.Robust.Epochs, warmup + 1, $"the training radius ramps up over the first {warmup} epochs");
        foreach (var r in s.Beyond.SweepRadii) Positive("beyond.sweepRadii", r);
        if (s.Standard.Checkpoint is { } ck && string.IsNullOrWhiteSpace(ck)) throw new ArgumentException("Setting 'standard.checkpoint' is empty; give a file, or null to train the standard model.");
        foreach (var (key, values) in new[] { ("standard.checkpointMean", s.Standard.CheckpointMean), ("standard.checkpointStd", s.Standard.CheckpointStd) })
        {
            if (values.Length is not (0 or 3)) throw new ArgumentException($"Setting '{key}' has {values.Length} values; give 3 (R, G, B) or none for the MadryLab CIFAR constants.");
            foreach (var v in values) if (key.EndsWith("Std")) Positive(key, v); else if (!double.IsFinite(v)) throw new ArgumentException($"Setting '{key}' holds {v}, not a finite number.");
        }
        NonNegative("beyond.seeds", s.Beyond.Seeds);
        NonNegative("controls.trainCount", s.Controls.TrainCount);
        if (s.Controls.TrainCount is > 0 and < MinControlImages)
            throw new ArgumentException($"Setting 'controls.trainCount' = {s.Controls.TrainCount} must be 0 (all training images) or at least {MinControlImages} " +
                "(ten per class: the subset is stratified by class, and each successful-only view still needs images of every class to train on).");
    }

    /// <summary>The fewest training images <c>controls.trainCount</c> accepts other than 0 (all): ten per class.</summary>
    public const int MinControlImages = 100;

    static IEnumerable<KeyValuePair<string, JsonNode?>> Flatten(JsonNode node, string prefix)
    {
        foreach (var (k, v) in node.AsObject())
        {
            var key = prefix.Length == 0 ? k : $"{prefix}.{k}";
            if (v is JsonObject) foreach (var kv in Flatten(v, key)) yield return kv;
            else yield return new(key, v);
        }
    }
}
