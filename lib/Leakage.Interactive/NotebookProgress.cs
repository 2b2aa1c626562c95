using System.Globalization;
using System.Text;

namespace Leakage.Interactive;

/// <summary>What a progress bar shows.</summary>
/// <param name="Fraction">Done so far, in [0, 1] (clamped).</param>
/// <param name="Label">Short text left of the bar, e.g. "epoch 3/10".</param>
/// <param name="Detail">Optional text right of the bar, e.g. "loss 0.512, 1830 img/s".</param>
public sealed record ProgressView(double Fraction, string Label, string? Detail = null);

/// <summary>
/// An <see cref="IProgress{T}"/> that renders an HTML progress bar through a callback, for long
/// steps run from a notebook:
/// <code>
/// var d = display(HTML(""));
/// var progress = new NotebookProgress&lt;TrainingProgress&gt;(h =&gt; d.Update(h),
///     p =&gt; new ProgressView((double)p.Step / p.Steps, $"epoch {p.Epoch}", $"loss {p.Loss:F3}"));
/// </code>
/// Updates are throttled: the first report, any report that completes (fraction 1) and otherwise at
/// most one per <see cref="MinInterval"/> are rendered; <see cref="Flush"/> renders the latest
/// report held back. Thread-safe: reports may come from a worker thread.
/// </summary>
/// <typeparam name="T">The progress record of the library call.</typeparam>
public sealed class NotebookProgress<T> : IProgress<T>
{
    readonly Action<Html> _render;
    readonly Func<T, ProgressView> _describe;
    readonly TimeProvider _time;
    readonly object _gate = new();
    readonly string _id = Guid.NewGuid().ToString("N")[..12];
    long _lastRender = long.MinValue;
    ProgressView? _pending;

    /// <summary>Interval used interactively: a few updates a second.</summary>
    public static readonly TimeSpan InteractiveInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Interval used when a runner executes the notebook: dotnet-repl keeps every update as an
    /// output of the saved notebook, so updates are rare there (the report keeps only the last).
    /// </summary>
    public static readonly TimeSpan HeadlessInterval = TimeSpan.FromSeconds(15);

    /// <param name="render">Receives the bar's HTML, e.g. <c>h =&gt; d.Update(h)</c>.</param>
    /// <param name="describe">Maps a report to what the bar shows.</param>
    /// <param name="minInterval">Least time between renders; default <see cref="InteractiveInterval"/>,
    /// or <see cref="HeadlessInterval"/> when LEAKAGE_HEADLESS is set.</param>
    /// <param name="time">Clock, for tests; default the system clock.</param>
    public NotebookProgress(Action<Html> render, Func<T, ProgressView> describe, TimeSpan? minInterval = null, TimeProvider? time = null)
    {
        _render = render ?? throw new ArgumentNullException(nameof(render));
        _describe = describe ?? throw new ArgumentNullException(nameof(describe));
        _time = time ?? TimeProvider.System;
        MinInterval = minInterval ?? (Environment.GetEnvironmentVariable(NotebookSettings.HeadlessVariable) is "1" or "true" or "yes"
            ? HeadlessInterval : InteractiveInterval);
        if (MinInterval < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(minInterval), "The interval cannot be negative.");
    }

    /// <summary>Least time between two renders.</summary>
    public TimeSpan MinInterval { get; }

    /// <summary>How many times the bar was rendered.</summary>
    public int Renders { get; private set; }

    /// <inheritdoc />
    public void Report(T value)
    {
        var view = _describe(value);
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            bool due = _lastRender == long.MinValue || view.Fraction >= 1 || _time.GetElapsedTime(_lastRender, now) >= MinInterval;
            if (!due) { _pending = view; return; }
            RenderLocked(view, now);
        }
    }

    /// <summary>Renders the latest report that throttling held back, if any (call when the work ends).</summary>
    public void Flush()
    {
        lock (_gate)
        {
            if (_pending is { } view) RenderLocked(view, _time.GetTimestamp());
        }
    }

    void RenderLocked(ProgressView view, long now)
    {
        _pending = null;
        _lastRender = now;
        Renders++;
        _render(ProgressBar.Render(view, _id));
    }
}

/// <summary>The HTML of a progress bar.</summary>
public static class ProgressBar
{
    /// <summary>Attribute that marks progress output; the HTML report keeps only the last output per id.</summary>
    public const string IdAttribute = "data-leakage-progress";

    /// <summary>A bar with label, percentage and detail; <paramref name="id"/> ties the updates of one bar together.</summary>
    public static Html Render(ProgressView view, string id)
    {
        ArgumentNullException.ThrowIfNull(view);
        var f = double.IsFinite(view.Fraction) ? Math.Clamp(view.Fraction, 0, 1) : 0;
        var pct = (f * 100).ToString("0.0", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append("<div class=\"leakage-progress\" ").Append(IdAttribute).Append("=\"").Append(Html.Encode(id))
          .Append("\" style=\"display:flex;align-items:center;gap:8px;font-family:monospace;font-size:90%\">")
          .Append("<span>").Append(Html.Encode(view.Label)).Append("</span>")
          .Append("<progress max=\"1\" value=\"").Append(f.ToString("0.####", CultureInfo.InvariantCulture)).Append("\" style=\"width:240px\"></progress>")
          .Append("<span>").Append(pct).Append("%</span>");
        if (!string.IsNullOrEmpty(view.Detail)) sb.Append("<span>").Append(Html.Encode(view.Detail)).Append("</span>");
        return new Html(sb.Append("</div>").ToString());
    }
}
