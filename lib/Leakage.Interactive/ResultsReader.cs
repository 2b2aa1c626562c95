using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.Probes;

namespace Leakage.Interactive;

/// <summary>
/// Typed reads of results.json values for the views: each read names the file and the key when a
/// value is missing or has the wrong type, in one line.
/// </summary>
/// <param name="Source">The file read, for messages.</param>
sealed record ResultsReader(string Source)
{
    InvalidDataException Bad(string key, string what) => new($"{Source}: {key} {what}.");

    static JsonNode? At(JsonObject o, string key) => o[key[(key.LastIndexOf('.') + 1)..]];

    public JsonObject Object(JsonObject o, string key) =>
        At(o, key) as JsonObject ?? throw Bad(key, "is missing or not an object");

    public JsonArray Array(JsonObject o, string key) =>
        At(o, key) as JsonArray ?? throw Bad(key, "is missing or not an array");

    public double Number(JsonObject o, string key) => OptionalNumber(o, key) ?? throw Bad(key, "is missing");

    public double? OptionalNumber(JsonObject o, string key) => At(o, key) switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
        _ => throw Bad(key, "is not a number"),
    };

    public int Int(JsonObject o, string key) => OptionalInt(o, key) ?? throw Bad(key, "is missing");

    public int? OptionalInt(JsonObject o, string key) => OptionalNumber(o, key) is { } d
        ? d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue ? (int)d : throw Bad(key, $"is {d}, not a whole number")
        : null;

    public bool? OptionalBool(JsonObject o, string key) => At(o, key) switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw Bad(key, "is not true or false"),
    };

    public string String(JsonObject o, string key) => OptionalString(o, key) ?? throw Bad(key, "is missing");

    public string? OptionalString(JsonObject o, string key) => At(o, key) switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        var other => other.ToJsonString(),
    };

    public (double Lo, double Hi) Pair(JsonObject o, string key)
    {
        var a = Array(o, key);
        if (a.Count != 2 || a[0] is not JsonValue lo || a[1] is not JsonValue hi
            || lo.GetValueKind() != JsonValueKind.Number || hi.GetValueKind() != JsonValueKind.Number)
            throw Bad(key, "is not a pair of numbers [lo, hi]");
        return (lo.GetValue<double>(), hi.GetValue<double>());
    }

    public IReadOnlyList<double> Numbers(JsonObject o, string key) =>
        Array(o, key).Select((n, i) => n is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : throw Bad($"{key}[{i}]", "is not a number")).ToList();

    /// <summary>A probe entry as the experiment records it (name, accuracy, lo, hi, nTrain, nTest, features, converged, iterations).</summary>
    public ProbeEntry Entry(JsonObject o, string key) => EntryOf(Object(o, key), key);

    public ProbeEntry EntryOf(JsonObject e, string key) =>
        new(String(e, $"{key}.name"), Number(e, $"{key}.accuracy"), Number(e, $"{key}.lo"), Number(e, $"{key}.hi"),
            Int(e, $"{key}.nTrain"), Int(e, $"{key}.nTest"), Int(e, $"{key}.features"))
        { Converged = OptionalBool(e, "converged"), Iterations = OptionalInt(e, "iterations") };

    /// <summary>
    /// A probe against its matched null as the leakage step records it. A file with <c>mcnemarP</c> carries
    /// the excess's own uncertainty (<c>excessSe</c>, <c>excessDf</c>) behind <c>excessInterval</c>,
    /// <c>pValue</c> and <c>verdict</c>. A first-pass file (no <c>mcnemarP</c>) is read as it was written:
    /// its <c>pValue</c> is McNemar's, its <c>excessInterval</c> the normal interval of a training bootstrap,
    /// and the comparison is marked <see cref="LeakageComparison.FirstPass"/>, so that its verdict and
    /// p-value come from that recorded interval (<see cref="ExcessUncertainty.FromFirstPass"/>).
    /// </summary>
    public LeakageComparison Comparison(JsonObject o, string key, ProbeEntry probe, ProbeEntry nullEntry)
    {
        var c = Object(o, key);
        var discordant = Object(c, $"{key}.discordant");
        var (pLo, pHi) = Pair(c, $"{key}.pairedInterval");
        var (eLo, eHi) = Pair(c, $"{key}.excessInterval");
        double level = 0.95;
        double? mcnemar = OptionalNumber(c, $"{key}.mcnemarP");
        bool firstPass = mcnemar is null;
        var paired = new PairedComparison(probe.Accuracy - nullEntry.Accuracy, new ConfidenceInterval(pLo, pHi, level),
            Int(discordant, $"{key}.discordant.probeOnly"), Int(discordant, $"{key}.discordant.nullOnly"), mcnemar ?? Number(c, $"{key}.pValue"));
        int? resamples = OptionalInt(c, $"{key}.trainingResamples");
        NullDraws? draws = c["nullDraws"] is JsonObject d ? new NullDraws(Numbers(d, $"{key}.nullDraws.values")) : null;
        ConfidenceInterval? training = null;
        if (resamples is not null && firstPass) training = new ConfidenceInterval(eLo, eHi, level);
        else if (resamples is not null && c["bootstrapInterval"] is not null)
        {
            var (bLo, bHi) = Pair(c, $"{key}.bootstrapInterval");
            training = new ConfidenceInterval(bLo, bHi, level);
        }
        var comparison = new LeakageComparison(probe, nullEntry, paired, training,
            OptionalInt(c, $"{key}.strata") ?? 0, resamples ?? 0, OptionalInt(c, $"{key}.refitsNotConverged") ?? 0, draws)
        {
            FirstPass = firstPass,
            BootstrapSe = OptionalNumber(c, $"{key}.bootstrapSe"),
            DrawExcesses = c["drawExcess"] is JsonObject e ? Numbers(e, $"{key}.drawExcess.values") : null,
            Shift = c["featureShift"] is JsonObject s
                ? new FeatureShift(Number(s, $"{key}.featureShift.mean"), Number(s, $"{key}.featureShift.lower"), Number(s, $"{key}.featureShift.upper"),
                    Int(s, $"{key}.featureShift.images"))
                : null,
        };
        if (firstPass) return comparison;
        double excess = probe.Accuracy - nullEntry.Accuracy, se = Number(c, $"{key}.excessSe");
        return comparison with
        {
            // No excessDf: infinite degrees of freedom (a normal quantile), which JSON cannot write as a number.
            Uncertainty = new ExcessUncertainty(excess, se, OptionalNumber(c, $"{key}.excessDf") ?? double.PositiveInfinity, level, se > 0 ? (eHi - eLo) / (2 * se) : 0,
                Number(c, $"{key}.intervalMonteCarloError"), String(c, $"{key}.uncertaintySource"), String(c, $"{key}.intervalCovers")),
        };
    }
}
