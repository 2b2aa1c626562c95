using Leakage.Compute;

namespace Leakage.Experiment;

/// <summary>
/// <c>results.json</c> as one record: every section a run writes, typed, each null until the step
/// that writes it has run. The steps write their sections through <see cref="ResultsFile.Set"/> at
/// the path <see cref="PathOf"/> names; every reader (CLI summary, notebooks, report, fidelity,
/// compare, seeds) reads the file through this record and the same source-generated context
/// (<see cref="ResultsJsonContext"/>), after <see cref="ResultsUpgrade"/> has brought an older file
/// to this shape. <c>docs/results.schema.json</c> is generated from it (<see cref="ResultsSchema"/>).
/// </summary>
public sealed record RunResultsRecord
{
    /// <summary>The profile the run started from (<see cref="Profiles"/>).</summary>
    public string? Profile { get; init; }
    /// <summary>Every setting of the run.</summary>
    public ExperimentSettings? Settings { get; init; }
    /// <summary>The images the run used.</summary>
    public DataResult? Data { get; init; }
    /// <summary>The machine of the latest invocation of <see cref="ExperimentRun.RunAll"/>.</summary>
    public Provenance? Provenance { get; init; }
    /// <summary>Compute time of each step in seconds, by <see cref="StepInfo.Key"/> (plus <c>data</c>, <c>thisInvocation</c> and <c>total</c>).</summary>
    public IReadOnlyDictionary<string, double>? Seconds { get; init; }
    /// <summary>Step 1: the standard model.</summary>
    public StandardModelResult? StandardModel { get; init; }
    /// <summary>Step 2: the attacked data sets.</summary>
    public AdversarialSection? Adversarial { get; init; }
    /// <summary>How close the run comes to the published experiment (<see cref="Experiment.Fidelity"/>).</summary>
    public FidelityResult? Fidelity { get; init; }
    /// <summary>Clean test accuracy of the model trained on each set.</summary>
    public TransferSection? Transfer { get; init; }
    /// <summary>How each transfer model was trained.</summary>
    public TransferDetailsSection? TransferDetails { get; init; }
    /// <summary>Step 3: C and its certificates.</summary>
    public CertificateResult? RobustModel { get; init; }
    /// <summary>Step 4: Goh's probes, their controls and comparisons.</summary>
    public LeakageResult? Leakage { get; init; }
    /// <summary>The matched nulls of the leakage probes.</summary>
    public LeakageControlsResult? LeakageControls { get; init; }
    /// <summary>The leakage controls (<c>controls.enabled</c>).</summary>
    public ControlsResult? Controls { get; init; }
    /// <summary>The extensions (<c>beyond.*</c>).</summary>
    public BeyondSection? Beyond { get; init; }

    /// <summary>
    /// The dotted results.json path of a chain of record members (given with <c>nameof</c>), each named
    /// as the context names properties: the one way a writer or a catalog entry spells a path. A set's
    /// <see cref="Leakage.Adversarial.AdversarialSet.ResultsKey"/> is already that name (<c>adversarial.drand</c>).
    /// </summary>
    public static string PathOf(params string[] members)
    {
        var policy = ResultsJsonContext.Default.Options.PropertyNamingPolicy!;
        return string.Join('.', members.Select(policy.ConvertName));
    }

    /// <summary>The seconds of <paramref name="key"/> (a <see cref="StepInfo.Key"/>), or null when not recorded.</summary>
    public double? SecondsOf(string key) => Seconds is { } s && s.TryGetValue(key, out var v) ? v : null;
}

/// <summary><c>adversarial</c>: one entry per attacked set, named by its <see cref="Leakage.Adversarial.AdversarialSet.ResultsKey"/>.</summary>
public sealed record AdversarialSection
{
    public AdversarialResult? Drand { get; init; }
    public AdversarialResult? Ddet { get; init; }
    /// <summary>The leakage controls' D_other (<c>controls.enabled</c>).</summary>
    public AdversarialResult? Dother { get; init; }
}

/// <summary><c>transfer</c>: clean test accuracy of the model trained on D_rand and on D_det.</summary>
public sealed record TransferSection
{
    [Fraction] public double? Drand { get; init; }
    [Fraction] public double? Ddet { get; init; }
}

/// <summary><c>transferDetails</c>: how the transfer model of each set was trained.</summary>
public sealed record TransferDetailsSection
{
    public TransferDetails? Drand { get; init; }
    public TransferDetails? Ddet { get; init; }
}

/// <summary><c>beyond</c>: the extensions' results, each null until it has run.</summary>
public sealed record BeyondSection
{
    /// <summary>The adversarially trained CNN and the probe on its features.</summary>
    public NonlinearResult? Nonlinear { get; init; }
    /// <summary>C trained and certified at each radius, with the probe.</summary>
    public IReadOnlyList<SweepPointResult>? RadiusSweep { get; init; }
    /// <summary>The probe on each of Ilyas et al.'s released data sets found.</summary>
    public IReadOnlyList<ReleasedSetResult>? Released { get; init; }
    /// <summary>The probe over seeds of C.</summary>
    public ProbeSeedsResult? ProbeSeeds { get; init; }
}

/// <summary>One released data set of <c>beyond.released</c>: its name (the kind, or the folder for an unknown set) and the probe on it.</summary>
public sealed record ReleasedSetResult(string Set, EntryResult Probe);
