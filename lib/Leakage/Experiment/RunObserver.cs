namespace Leakage.Experiment;

/// <summary>Progress of one step of a run.</summary>
/// <param name="Step">Step key, e.g. "standardModel", "dRand".</param>
/// <param name="Fraction">Done so far, in [0,1].</param>
/// <param name="Detail">One short line: epoch, loss, images/s, attack success...</param>
public sealed record StepProgress(string Step, double Fraction, string Detail);

/// <summary>
/// Receives what a run does: log lines and step progress. The CLI renders it with Spectre.Console
/// progress bars; notebooks with an updating HTML display; tests collect it.
/// </summary>
public interface IRunObserver
{
    void Log(string message);
    void Progress(StepProgress progress);
}

/// <summary>An observer made of two callbacks (either may be null).</summary>
public sealed class RunObserver(Action<string>? log = null, Action<StepProgress>? progress = null) : IRunObserver
{
    public static readonly RunObserver Silent = new();
    public void Log(string message) => log?.Invoke(message);
    public void Progress(StepProgress p) => progress?.Invoke(p);
}
