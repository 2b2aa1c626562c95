using System.Runtime.InteropServices;
using Leakage.Compute;
using Leakage.Native;
using Microsoft.Data.Analysis;
using Plotly.NET;
using TorchSharp;

namespace Leakage.Interactive;

/// <summary>
/// The first call of every notebook: makes the kernel able to load this library's dependencies,
/// starts torch, reads the run settings and registers HTML formatters for the helpers' results.
/// </summary>
public static class NotebookSetup
{
    /// <summary>
    /// Prepares the kernel and returns the run configuration. Idempotent: running the setup cell
    /// again re-reads the settings.
    /// <list type="number">
    /// <item>FSharp.Core redirect for Plotly.NET (<see cref="KernelCompat.InstallFSharpCoreRedirect"/>).</item>
    /// <item>The SkiaSharp native library lookup (image folders are decoded with SkiaSharp).</item>
    /// <item>Settings from LEAKAGE_* variables (<see cref="NotebookSettings.FromEnvironment"/>).</item>
    /// <item>TorchSharp native libraries (<see cref="TorchNative.Ensure"/>), thread count, device.</item>
    /// <item>Creates the output folder.</item>
    /// <item>In a kernel, text/html formatters for <see cref="Html"/>, <see cref="DataFrame"/>,
    /// Plotly.NET charts, <see cref="NotebookConfig"/> and the views of a run's results
    /// (<see cref="LeakageView"/>, <see cref="RunResults"/>, the views of notebook 07).</item>
    /// </list>
    /// </summary>
    /// <param name="notebookDirectory">The notebook's folder; default the working directory (the kernel starts there).</param>
    /// <exception cref="InvalidOperationException">Torch cannot start; the message says how to fix it.</exception>
    /// <exception cref="ArgumentException">A LEAKAGE_* variable is invalid; the message names it.</exception>
    public static NotebookConfig Init(string? notebookDirectory = null)
    {
        KernelCompat.InstallFSharpCoreRedirect();
        // Image-folder data is decoded with SkiaSharp by the Leakage library itself (not only by
        // the image helpers), so its native library must be findable before the first data load.
        SkiaNative.Ensure();
        var settings = NotebookSettings.FromEnvironment(Environment.GetEnvironmentVariable, notebookDirectory ?? Environment.CurrentDirectory);
        Charts.EmbedPlotly = Charts.ParsePlotlyMode(Environment.GetEnvironmentVariable(Charts.PlotlyVariable));

        try { TorchNative.Ensure(); }
        catch (Exception e) when (e is InvalidOperationException or DllNotFoundException or BadImageFormatException)
        {
            throw new InvalidOperationException(
                $"TorchSharp could not start from {Path.GetDirectoryName(typeof(NotebookSetup).Assembly.Location)}. " +
                $"Build the library first: run 'dotnet build -c Release' in {settings.RepositoryRoot}. ({e.Message})", e);
        }
        Devices.SetThreads(settings.Threads);
        var device = Devices.Select(settings.Device);
        Directory.CreateDirectory(settings.OutDirectory);
        DisplayPaths.Current = new DisplayPaths(settings.RepositoryRoot, settings.OutDirectory, settings.DataDirectory);

        var config = new NotebookConfig(settings, device, TorchNative.Status, Versions());
        RegisterFormatters();
        return config;
    }

    /// <summary>
    /// Registers the text/html formatters in the hosting kernel (no-op elsewhere). Returns whether a
    /// kernel was found.
    /// </summary>
    public static bool RegisterFormatters()
    {
        if (!KernelCompat.InKernel) return false;
        KernelCompat.RegisterHtmlFormatter<Html>(h => h.Markup);
        KernelCompat.RegisterHtmlFormatter<NotebookConfig>(c => c.ToHtml().Markup);
        KernelCompat.RegisterHtmlFormatter<DataFrame>(df => Tables.ToHtml(df).Markup);
        KernelCompat.RegisterHtmlFormatter<GenericChart>(Charts.ToNotebookHtml);
        // The typed views of a run's results: a cell that ends with one shows its table.
        KernelCompat.RegisterHtmlFormatter<LeakageView>(v => v.ToHtml().Markup);
        KernelCompat.RegisterHtmlFormatter<RunResults>(v => v.ToHtml().Markup);
        KernelCompat.RegisterHtmlFormatter<ControlsView>(v => v.ToHtml().Markup);
        KernelCompat.RegisterHtmlFormatter<NonlinearView>(v => v.ToHtml().Markup);
        KernelCompat.RegisterHtmlFormatter<FeatureSetComparison>(v => v.ToHtml().Markup);
        KernelCompat.RegisterHtmlFormatter<SweepView>(v => v.ToHtml().Markup);
        KernelCompat.RegisterHtmlFormatter<SeedsView>(v => v.ToHtml().Markup);
        return true;
    }

    static IReadOnlyList<(string Name, string Version)> Versions() =>
    [
        (".NET", RuntimeInformation.FrameworkDescription),
        ("OS", RuntimeInformation.OSDescription),
        ("Leakage", Informational(typeof(TorchNative).Assembly)),
        ("TorchSharp", Package(typeof(torch).Assembly)),
        ("libtorch", torch.__version__),
        ("torch backend (build)", BuildInfo.TorchBackend),
        ("Plotly.NET", Package(typeof(GenericChart).Assembly)),
        ("Microsoft.Data.Analysis", Package(typeof(DataFrame).Assembly)),
        ("logical processors", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    /// <summary>The package version an assembly was built as (its informational version without the commit), not its assembly version.</summary>
    static string Package(System.Reflection.Assembly a) => Informational(a).Split('+')[0];

    static string Informational(System.Reflection.Assembly a) =>
        a.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion
        ?? a.GetName().Version?.ToString() ?? "?";
}

/// <summary>
/// The run configuration a notebook works with: the settings, the resolved torch device and
/// what the runtime is. Renders as a table in a notebook.
/// </summary>
/// <param name="Settings">Profile, folders, device choice, threads and overrides.</param>
/// <param name="Device">The torch device every step of the notebook uses.</param>
/// <param name="TorchNativeStatus">What <see cref="TorchNative.Ensure"/> did.</param>
/// <param name="Versions">Runtime and package versions, for the record.</param>
public sealed record NotebookConfig(
    NotebookSettings Settings,
    torch.Device Device,
    string TorchNativeStatus,
    IReadOnlyList<(string Name, string Version)> Versions)
{
    /// <summary>Shortcut for <see cref="NotebookSettings.Profile"/>.</summary>
    public string Profile => Settings.Profile;
    /// <summary>Shortcut for <see cref="NotebookSettings.DataDirectory"/>.</summary>
    public string DataDirectory => Settings.DataDirectory;
    /// <summary>Shortcut for <see cref="NotebookSettings.OutDirectory"/>.</summary>
    public string OutDirectory => Settings.OutDirectory;
    /// <summary>libtorch's current CPU thread count.</summary>
    public int TorchThreads => torch.get_num_threads();

    /// <summary>How this run's paths are shown (relative to the repository, or by the variable that chose them).</summary>
    public DisplayPaths Paths => new(Settings.RepositoryRoot, OutDirectory, DataDirectory);

    /// <summary><paramref name="path"/> as outputs show it (<see cref="DisplayPaths"/>).</summary>
    public string Show(string path) => Paths.Show(path);

    /// <summary>Rows of (name, value) describing the run.</summary>
    public IReadOnlyList<(string Name, string Value)> Rows()
    {
        var rows = new List<(string, string)>
        {
            ("profile", Profile),
            ("device", $"{Device.type.ToString().ToLowerInvariant()} (asked: {Settings.Device})"),
            ("torch threads", TorchThreads.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("data", $"{Show(DataDirectory)}{(Settings.DataFound ? "" : " (not present yet)")}"),
            ("out", Show(OutDirectory)),
            ("overrides", Settings.OverridesText),
            ("headless", Settings.Headless ? "yes" : "no"),
            ("TorchSharp native", Paths.ShowIn(TorchNativeStatus)),
        };
        rows.AddRange(Versions.Select(v => (v.Name, v.Version)));
        return rows;
    }

    /// <summary>The rows as an HTML table.</summary>
    public Html ToHtml() => Tables.KeyValue(Rows(), "Run configuration");

    /// <summary>The rows as aligned text lines.</summary>
    public override string ToString()
    {
        var rows = Rows();
        int w = rows.Max(r => r.Name.Length);
        return string.Join(Environment.NewLine, rows.Select(r => $"{r.Name.PadRight(w)}  {r.Value}"));
    }
}
