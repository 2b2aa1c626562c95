using System.Text;
using Leakage.Experiment;

namespace Leakage.Interactive;

/// <summary>
/// The <see cref="IRunObserver"/> of a notebook: an <see cref="ExperimentRun"/> reports its log lines
/// and step progress here, and <see cref="Track{T}"/> shows them, while one step runs, as a panel
/// in a cell's display (one progress bar per step, via <see cref="NotebookProgress{T}"/>, and the
/// latest log lines):
/// <code>
/// var progress = new RunProgress();
/// var run = ExperimentRun.Open(settings, data, out, progress);
/// ...
/// var panel = display(HTML(""));
/// var standard = progress.Track(h =&gt; panel.Update(h), () =&gt; run.StandardModel());
/// </code>
/// Renders are throttled like <see cref="NotebookProgress{T}"/> (a few a second interactively, rarely
/// when headless); the final state is always rendered when the step returns or throws. The panel
/// carries <see cref="ProgressBar.IdAttribute"/>, so the HTML report keeps only its last update.
/// </summary>
public sealed class RunProgress : IRunObserver
{
    /// <summary>Readable names of the step keys an <see cref="ExperimentRun"/> reports (from <see cref="StepCatalog"/>).</summary>
    public static IReadOnlyDictionary<string, string> StepTitles { get; } = StepCatalog.All.ToDictionary(s => s.Key, s => s.Title, StringComparer.Ordinal);

    /// <summary>Log lines shown under the bars.</summary>
    public const int VisibleLogLines = 8;

    readonly object _gate = new();
    readonly List<string> _messages = [];
    readonly TimeSpan? _minInterval;
    readonly TimeProvider _time;
    Panel? _panel;

    /// <param name="minInterval">Least time between renders; default that of <see cref="NotebookProgress{T}"/> (interactive or headless).</param>
    /// <param name="time">Clock, for tests.</param>
    public RunProgress(TimeSpan? minInterval = null, TimeProvider? time = null)
    {
        if (minInterval < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(minInterval), "The interval cannot be negative.");
        _minInterval = minInterval;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Every log line received so far, in order.</summary>
    public IReadOnlyList<string> Messages { get { lock (_gate) return _messages.ToArray(); } }

    /// <inheritdoc/>
    public void Log(string message)
    {
        message = DisplayPaths.InText(message);
        Panel? panel;
        lock (_gate)
        {
            _messages.Add(message);
            panel = _panel;
        }
        panel?.Log(message);
    }

    /// <inheritdoc/>
    public void Progress(StepProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        Panel? panel;
        lock (_gate) panel = _panel;
        panel?.Progress(progress);
    }

    /// <summary>
    /// Runs <paramref name="step"/> while rendering its progress and log lines into
    /// <paramref name="render"/> (e.g. <c>h =&gt; panel.Update(h)</c>), renders the final state, and
    /// returns the step's result. Steps cannot be tracked inside one another.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another step is being tracked.</exception>
    public T Track<T>(Action<Html> render, Func<T> step)
    {
        ArgumentNullException.ThrowIfNull(render);
        ArgumentNullException.ThrowIfNull(step);
        var panel = new Panel(render, _minInterval, _time);
        lock (_gate)
        {
            if (_panel != null) throw new InvalidOperationException("RunProgress is already tracking a step; track one step at a time.");
            _panel = panel;
        }
        try
        {
            var result = step();
            panel.Finish(failed: false);
            return result;
        }
        catch
        {
            panel.Finish(failed: true);
            throw;
        }
        finally
        {
            lock (_gate) _panel = null;
        }
    }

    /// <summary>The latest <paramref name="last"/> log lines as HTML (e.g. after opening the run).</summary>
    public Html RecentMessages(int last = VisibleLogLines)
    {
        if (last < 1) throw new ArgumentOutOfRangeException(nameof(last), "Show at least one line.");
        string[] lines;
        lock (_gate) lines = _messages.TakeLast(last).ToArray();
        return new Html(LogHtml(lines));
    }

    internal static string Title(string step) => StepCatalog.Title(step);

    static string LogHtml(IReadOnlyCollection<string> lines)
    {
        if (lines.Count == 0) return "";
        var sb = new StringBuilder("<pre class=\"leakage-log\" style=\"font-size:85%;color:#57606a;margin:4px 0;white-space:pre-wrap\">");
        foreach (var line in lines) sb.Append(Html.Encode(line)).Append('\n');
        return sb.Append("</pre>").ToString();
    }

    /// <summary>One tracked step: bars by step key, recent log lines, throttled renders.</summary>
    sealed class Panel
    {
        readonly object _gate = new();
        readonly Action<Html> _render;
        readonly TimeProvider _time;
        readonly NotebookProgress<StepProgress> _bar;
        readonly string _id = Guid.NewGuid().ToString("N")[..12];
        readonly List<string> _order = [];
        readonly Dictionary<string, Html> _bars = new(StringComparer.Ordinal);
        readonly List<string> _log = [];
        string? _current;
        long _lastRender = long.MinValue;
        bool _dirty;

        public Panel(Action<Html> render, TimeSpan? minInterval, TimeProvider time)
        {
            _render = render;
            _time = time;
            _bar = new NotebookProgress<StepProgress>(OnBar, p => new ProgressView(p.Fraction, Title(p.Step), p.Detail), minInterval, time);
        }

        public void Progress(StepProgress p)
        {
            lock (_gate)
            {
                if (!_bars.ContainsKey(p.Step) && !_order.Contains(p.Step)) _order.Add(p.Step);
                _current = p.Step;
                _bar.Report(p); // renders through OnBar when due
            }
        }

        public void Log(string message)
        {
            lock (_gate)
            {
                _log.Add(message);
                if (_lastRender == long.MinValue || _time.GetElapsedTime(_lastRender) >= _bar.MinInterval) RenderLocked();
                else _dirty = true;
            }
        }

        public void Finish(bool failed)
        {
            lock (_gate)
            {
                _bar.Flush();
                if (failed) _log.Add("failed (see the error below)");
                if (_dirty || _lastRender == long.MinValue || failed) RenderLocked();
            }
        }

        void OnBar(Html bar)
        {
            // Called by NotebookProgress under our lock, for the latest report (that of _current).
            if (_current != null) _bars[_current] = bar;
            RenderLocked();
        }

        void RenderLocked()
        {
            _dirty = false;
            _lastRender = _time.GetTimestamp();
            var sb = new StringBuilder("<div class=\"leakage-run\" ").Append(ProgressBar.IdAttribute).Append("=\"").Append(_id).Append("\">");
            foreach (var step in _order)
                if (_bars.TryGetValue(step, out var bar)) sb.Append(bar.Markup);
            sb.Append(LogHtml(_log.TakeLast(VisibleLogLines).ToArray()));
            _render(new Html(sb.Append("</div>").ToString()));
        }
    }
}
