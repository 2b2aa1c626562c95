using System.Globalization;

namespace Leakage.Compute;

/// <summary>
/// The fields of /proc/cpuinfo (first processor) that results.json's provenance, the attack's precision
/// and the benchmark's peak are decided by: the one reader of that file.
/// </summary>
/// <param name="Model">"model name".</param>
/// <param name="Vendor">"vendor_id" (GenuineIntel, AuthenticAMD).</param>
/// <param name="Family">"cpu family"; 0 when unknown.</param>
/// <param name="Mhz">"cpu MHz": the current clock on bare metal, the nominal one under most hypervisors.</param>
/// <param name="Flags">"flags".</param>
/// <param name="ThreadsPerCore">"siblings" / "cpu cores".</param>
public sealed record CpuInfo(string? Model, string? Vendor, int Family, double Mhz, IReadOnlySet<string> Flags, int ThreadsPerCore)
{
    /// <summary>"model": the model number within the family (AMD family 17h: below 30h Zen 1 and Zen+, from 30h Zen 2).</summary>
    public int ModelNumber { get; init; }

    /// <summary>This machine's CPU, read once per process (the file does not change while a process runs).</summary>
    public static CpuInfo Current => current.Value;
    static readonly Lazy<CpuInfo> current = new(() => Read());

    /// <summary>True when the CPU computes bfloat16 dot products natively (AVX512_BF16 or AMX-BF16).</summary>
    public bool HasBf16 => Flags.Contains("avx512_bf16") || Flags.Contains("amx_bf16");

    /// <summary>
    /// Vendor, family and model with the core generation where known, e.g. "AuthenticAMD family 23 model 1 (Zen 1)";
    /// null when the file does not say. Cloud CPUs often report only "AMD EPYC" as their <see cref="Model"/>, and
    /// that name covers Zen 1 to Zen 5, whose convolution rates differ 2-3x.
    /// </summary>
    public string? Core => Vendor is null || Family == 0 ? null
        : $"{Vendor} family {Family} model {ModelNumber}" + (CoreName(Vendor, Family, ModelNumber) is { } name ? $" ({name})" : "");

    // The server cores our machines have shown; others are reported by number only.
    static string? CoreName(string vendor, int family, int model) => (vendor, family) switch
    {
        ("AuthenticAMD", 23) => model < 0x30 ? "Zen 1" : "Zen 2",
        ("AuthenticAMD", 25) => model is >= 0x10 and < 0x20 or >= 0x60 and < 0x80 or >= 0xA0 ? "Zen 4" : "Zen 3",
        ("AuthenticAMD", 26) => "Zen 5",
        ("GenuineIntel", 6) => model switch
        {
            85 => "Skylake-SP / Cascade Lake",
            106 or 108 => "Ice Lake-SP",
            143 => "Sapphire Rapids",
            207 => "Emerald Rapids",
            173 or 174 => "Granite Rapids",
            _ => null,
        },
        _ => null,
    };

    /// <summary>Reads <paramref name="path"/> (/proc/cpuinfo format); empty where it does not exist (not Linux).</summary>
    public static CpuInfo Read(string path = "/proc/cpuinfo")
    {
        if (!File.Exists(path)) return new CpuInfo(null, null, 0, 0, new HashSet<string>(), 1);
        var fields = new Dictionary<string, string>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) break; // the first processor's block is enough
            int colon = line.IndexOf(':');
            if (colon > 0) fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
        }
        int Int(string key) => fields.TryGetValue(key, out var v) && int.TryParse(v, CultureInfo.InvariantCulture, out var i) ? i : 0;
        double mhz = fields.TryGetValue("cpu MHz", out var m) && double.TryParse(m, CultureInfo.InvariantCulture, out var d) ? d : 0;
        int siblings = Int("siblings"), cores = Int("cpu cores");
        return new CpuInfo(fields.GetValueOrDefault("model name"), fields.GetValueOrDefault("vendor_id"), Int("cpu family"), mhz,
            (fields.GetValueOrDefault("flags") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(),
            siblings > 0 && cores > 0 ? Math.Max(1, siblings / cores) : 1) { ModelNumber = Int("model") };
    }
}
