using Plotly.NET;

namespace Leakage.Interactive;

/// <summary>
/// One line of a line chart: y against x, same length, finite values; optionally with an interval
/// around each point (e.g. a 95% confidence interval), drawn as error bars.
/// </summary>
/// <param name="Name">Legend entry.</param>
/// <param name="X">Horizontal positions (e.g. an attack radius or an epoch).</param>
/// <param name="Y">Values (e.g. an accuracy in [0, 1]).</param>
/// <param name="Lower">Lower ends of the intervals (each at most its y), or null for none; given together with <paramref name="Upper"/>.</param>
/// <param name="Upper">Upper ends of the intervals (each at least its y), or null for none.</param>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y,
    IReadOnlyList<double>? Lower = null, IReadOnlyList<double>? Upper = null);

/// <summary>
/// One bar with an interval, e.g. an accuracy with its 95% confidence interval, and optionally the
/// published value to compare with.
/// </summary>
/// <param name="Label">Category on the x axis.</param>
/// <param name="Value">Bar height.</param>
/// <param name="Lower">Lower end of the interval (at most <paramref name="Value"/>).</param>
/// <param name="Upper">Upper end of the interval (at least <paramref name="Value"/>).</param>
/// <param name="Reference">A value to mark next to the bar (e.g. the paper's number), or null.</param>
public sealed record IntervalBar(string Label, double Value, double Lower, double Upper, double? Reference = null);

/// <summary>
/// Plotly.NET charts for the notebooks. The result is a Plotly.NET <see cref="GenericChart"/>: a
/// notebook cell that ends with it renders it, and the HTML report embeds plotly.js once so the
/// charts work offline. Traces are built as plotly.js objects (type, x, y, error_y, ...) because
/// Plotly.NET's F#-first chart functions take dozens of non-optional option arguments from C#.
/// </summary>
public static class Charts
{
    /// <summary>A line chart of one or more series, e.g. accuracy against attack radius.</summary>
    /// <param name="title">Chart title.</param>
    /// <param name="xTitle">X axis title, with units.</param>
    /// <param name="yTitle">Y axis title, with units.</param>
    /// <param name="series">The lines; each needs as many x as y values, all finite.</param>
    /// <param name="logX">Use a logarithmic x axis (all x must then be positive).</param>
    public static GenericChart Lines(string title, string xTitle, string yTitle, IEnumerable<Series> series, bool logX = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        var list = series.ToList();
        if (list.Count == 0) throw new ArgumentException("A line chart needs at least one series.", nameof(series));
        foreach (var s in list)
        {
            if (s.X.Count != s.Y.Count)
                throw new ArgumentException($"Series '{s.Name}' has {s.X.Count} x values but {s.Y.Count} y values.", nameof(series));
            if (s.X.Concat(s.Y).Any(v => !double.IsFinite(v)))
                throw new ArgumentException($"Series '{s.Name}' has a NaN or infinite value.", nameof(series));
            if (logX && s.X.Any(v => v <= 0))
                throw new ArgumentException($"Series '{s.Name}' has an x value <= 0, which a logarithmic axis cannot show.", nameof(series));
            if ((s.Lower is null) != (s.Upper is null))
                throw new ArgumentException($"Series '{s.Name}' has only one end of its intervals; give both Lower and Upper, or neither.", nameof(series));
            if (s.Lower is { } lo && s.Upper is { } hi)
            {
                if (lo.Count != s.Y.Count || hi.Count != s.Y.Count)
                    throw new ArgumentException($"Series '{s.Name}' has {s.Y.Count} y values but {lo.Count} lower and {hi.Count} upper interval ends.", nameof(series));
                for (int i = 0; i < s.Y.Count; i++)
                {
                    if (!double.IsFinite(lo[i]) || !double.IsFinite(hi[i]))
                        throw new ArgumentException($"Series '{s.Name}' has a NaN or infinite interval end.", nameof(series));
                    if (lo[i] > s.Y[i] || s.Y[i] > hi[i])
                        throw new ArgumentException($"Series '{s.Name}', point {i}: the interval [{lo[i]}, {hi[i]}] does not contain the value {s.Y[i]}.", nameof(series));
                }
            }
        }
        var traces = list.Select(s =>
        {
            var properties = new List<(string, object)> { ("name", s.Name), ("x", s.X.ToArray()), ("y", s.Y.ToArray()), ("mode", "lines+markers") };
            if (s.Lower is { } lo && s.Upper is { } hi) properties.Add(("error_y", ErrorBars(s.Y, lo, hi)));
            return Trace("scatter", [.. properties]);
        });
        return WithLayout(traces, title, xTitle, yTitle, logX ? "log" : "linear");
    }

    /// <summary>
    /// A bar chart with asymmetric error bars (e.g. accuracies with confidence intervals) and, where
    /// given, the reference values drawn as diamond markers.
    /// </summary>
    /// <param name="title">Chart title.</param>
    /// <param name="yTitle">Y axis title, with units.</param>
    /// <param name="bars">The bars; each needs Lower &lt;= Value &lt;= Upper, all finite.</param>
    /// <param name="valueName">Legend entry of the bars.</param>
    /// <param name="referenceName">Legend entry of the reference markers.</param>
    public static GenericChart BarsWithIntervals(string title, string yTitle, IEnumerable<IntervalBar> bars,
        string valueName = "measured", string referenceName = "published")
    {
        ArgumentNullException.ThrowIfNull(bars);
        var list = bars.ToList();
        if (list.Count == 0) throw new ArgumentException("A bar chart needs at least one bar.", nameof(bars));
        foreach (var b in list)
        {
            if (!double.IsFinite(b.Value) || !double.IsFinite(b.Lower) || !double.IsFinite(b.Upper)
                || b.Reference is { } r && !double.IsFinite(r))
                throw new ArgumentException($"Bar '{b.Label}' has a NaN or infinite value.", nameof(bars));
            if (b.Lower > b.Value || b.Value > b.Upper)
                throw new ArgumentException($"Bar '{b.Label}': the interval [{b.Lower}, {b.Upper}] does not contain the value {b.Value}.", nameof(bars));
        }
        var traces = new List<Trace>
        {
            Trace("bar", ("name", valueName), ("x", list.Select(b => b.Label).ToArray()), ("y", list.Select(b => b.Value).ToArray()),
                ("error_y", ErrorBars(list.Select(b => b.Value).ToList(), list.Select(b => b.Lower).ToList(), list.Select(b => b.Upper).ToList()))),
        };
        var refs = list.Where(b => b.Reference is not null).ToList();
        if (refs.Count > 0)
            traces.Add(Trace("scatter", ("name", referenceName), ("mode", "markers"),
                ("x", refs.Select(b => b.Label).ToArray()), ("y", refs.Select(b => b.Reference!.Value).ToArray()),
                ("marker", new Dictionary<string, object> { ["symbol"] = "diamond", ["size"] = 11 })));
        return WithLayout(traces, title, "", yTitle, "category");
    }

    /// <summary>
    /// A histogram of one or more samples over shared bins (e.g. perturbation norms of D_rand and
    /// D_det), drawn as grouped bars of counts. Binning happens here, so the chart holds
    /// <paramref name="bins"/> numbers per series however large the sample.
    /// </summary>
    /// <param name="title">Chart title.</param>
    /// <param name="xTitle">X axis title, with units.</param>
    /// <param name="samples">Named samples; each non-empty, all values finite.</param>
    /// <param name="bins">Number of equal-width bins between the smallest and largest value, 1 to 500.</param>
    public static GenericChart Histogram(string title, string xTitle, IEnumerable<(string Name, IReadOnlyList<double> Values)> samples, int bins = 40)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var list = samples.ToList();
        if (list.Count == 0) throw new ArgumentException("A histogram needs at least one sample.", nameof(samples));
        if (bins is < 1 or > 500) throw new ArgumentOutOfRangeException(nameof(bins), bins, "Use 1 to 500 bins.");
        foreach (var (name, values) in list)
        {
            if (values is null || values.Count == 0) throw new ArgumentException($"Sample '{name}' is empty.", nameof(samples));
            if (values.Any(v => !double.IsFinite(v))) throw new ArgumentException($"Sample '{name}' has a NaN or infinite value.", nameof(samples));
        }
        var (counts, centres) = Bin(list.Select(s => s.Values).ToList(), bins);
        var traces = list.Select((s, i) => Trace("bar", ("name", s.Name), ("x", centres), ("y", counts[i]), ("opacity", 0.75)));
        var chart = WithLayout(traces, title, xTitle, "count", "linear");
        var layout = new Layout();
        layout.SetProperty("barmode", "group");
        layout.SetProperty("bargap", 0.05);
        return GenericChart.addLayout(layout, chart);
    }

    /// <summary>
    /// Counts of each sample in <paramref name="bins"/> equal-width bins spanning all values (the last
    /// bin includes the maximum), and the bin centres.
    /// </summary>
    public static (int[][] Counts, double[] Centres) Bin(IReadOnlyList<IReadOnlyList<double>> samples, int bins)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "Use at least one bin.");
        double lo = samples.SelectMany(s => s).Min(), hi = samples.SelectMany(s => s).Max();
        double width = hi > lo ? (hi - lo) / bins : 1;
        var counts = samples.Select(s =>
        {
            var c = new int[bins];
            foreach (var v in s) c[Math.Clamp((int)((v - lo) / width), 0, bins - 1)]++;
            return c;
        }).ToArray();
        var centres = Enumerable.Range(0, bins).Select(i => lo + (i + 0.5) * width).ToArray();
        return (counts, centres);
    }

    /// <summary>
    /// The chart as notebook HTML, the same as Plotly.NET.Interactive's formatter emits: a div and a
    /// script that loads plotly.js (the version bundled in Plotly.NET) through require.js from the
    /// plotly CDN. The HTML report replaces the loader with one inline copy of plotly.js, so the
    /// report itself needs no network.
    /// </summary>
    public static string ToNotebookHtml(GenericChart chart) => ToNotebookHtml(chart, EmbedPlotly);

    /// <summary>The chart as notebook HTML; with <paramref name="embedPlotly"/> it carries plotly.js itself (see <see cref="EmbedPlotly"/>).</summary>
    public static string ToNotebookHtml(GenericChart chart, bool embedPlotly)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var display = new DisplayOptions();
        display.SetProperty("PlotlyJSReference", embedPlotly
            ? PlotlyJSReference.NoReference
            : PlotlyJSReference.NewRequire($"https://cdn.plot.ly/plotly-{Globals.PLOTLYJS_VERSION}.min"));
        var html = GenericChart.toChartHTML(GenericChart.addDisplayOptions(display, chart));
        return embedPlotly ? PlotlyEmbedding.NotebookScriptElement() + html : html;
    }

    /// <summary>The variable that sets <see cref="EmbedPlotly"/> when a notebook starts: <c>inline</c> or <c>cdn</c> (the default).</summary>
    public const string PlotlyVariable = "LEAKAGE_PLOTLY";

    /// <summary>
    /// When true, every chart output carries the plotly.js bundle that ships inside Plotly.NET
    /// (about 3.5 MB per chart) instead of loading it from the plotly CDN, so charts render offline,
    /// e.g. in VS Code without network. Set by <c>LEAKAGE_PLOTLY=inline</c> (read by
    /// <see cref="NotebookSetup.Init"/>) or directly in a cell. The HTML report embeds plotly.js once
    /// either way.
    /// </summary>
    public static bool EmbedPlotly { get; set; }

    /// <summary>Reads <see cref="PlotlyVariable"/>: "inline" embeds, "cdn" or unset loads from the CDN.</summary>
    /// <exception cref="ArgumentException">Any other value; the message names the variable and the choices.</exception>
    public static bool ParsePlotlyMode(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "cdn" => false,
        "inline" => true,
        _ => throw new ArgumentException($"{PlotlyVariable}='{value}': use 'inline' (charts carry plotly.js, render offline) or 'cdn' (the default)."),
    };

    /// <summary>plotly.js asymmetric error bars: distances from each value up to its upper and down to its lower end.</summary>
    static Dictionary<string, object> ErrorBars(IReadOnlyList<double> values, IReadOnlyList<double> lower, IReadOnlyList<double> upper) => new()
    {
        ["type"] = "data",
        ["symmetric"] = false,
        ["array"] = values.Select((v, i) => upper[i] - v).ToArray(),
        ["arrayminus"] = values.Select((v, i) => v - lower[i]).ToArray(),
        ["visible"] = true,
    };

    static Trace Trace(string type, params (string Key, object Value)[] properties)
    {
        var trace = new Trace2D(type);
        foreach (var (key, value) in properties) trace.SetProperty(key, value);
        return trace;
    }

    static GenericChart WithLayout(IEnumerable<Trace> traces, string title, string xTitle, string yTitle, string xType)
    {
        var chart = GenericChart.combine(traces.Select(t => GenericChart.ofTraceObject(true, t)).ToList());
        var layout = new Layout();
        layout.SetProperty("title", new Dictionary<string, object> { ["text"] = title });
        layout.SetProperty("xaxis", new Dictionary<string, object> { ["title"] = new Dictionary<string, object> { ["text"] = xTitle }, ["type"] = xType });
        layout.SetProperty("yaxis", new Dictionary<string, object> { ["title"] = new Dictionary<string, object> { ["text"] = yTitle } });
        layout.SetProperty("width", 720);
        layout.SetProperty("height", 420);
        return GenericChart.addLayout(layout, chart);
    }
}
