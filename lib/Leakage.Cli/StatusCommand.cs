using System.CommandLine;
using Leakage.Experiment;
using Leakage.Scale;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>
/// <c>status --out DIR</c>: the work units of a run folder shared by several workers (shards of a
/// Slurm array or a Kubernetes Indexed Job): done, claimed (by whom, since when) and missing, and
/// the artifacts already committed.
/// </summary>
public static class StatusCommand
{
    static readonly Option<string> OutOption = new("--out")
    {
        Description = "Run folder to inspect.",
        Required = true,
    };

    public static Command Create()
    {
        var cmd = new Command("status", "List the work units of a run folder: done, claimed (host, pid, since when) and missing, and the committed artifacts.");
        cmd.Options.Add(OutOption);
        cmd.SetAction((parse, ct) => Cli.Guard(() =>
        {
            var dir = parse.GetValue(OutOption)!;
            var units = RunStatus.Read(dir);
            var artifacts = RunStatus.Artifacts(dir);
            var table = new Table().AddColumn("unit").AddColumn("state").AddColumn("by").AddColumn("since / finished");
            foreach (var u in units)
            {
                var (state, by, when) = u.State switch
                {
                    UnitState.Done => ("[green]done[/]", $"{u.Done!.Host} pid {u.Done.Pid}", $"{u.Done.Finished:yyyy-MM-dd HH:mm:ss}Z ({u.Done.Seconds:0.#} s)"),
                    UnitState.Claimed => ("[yellow]claimed[/]", $"{u.Claim!.Host} pid {u.Claim.Pid}", $"{u.Claim.Since:yyyy-MM-dd HH:mm:ss}Z"),
                    UnitState.Abandoned => ("[red]abandoned[/]", $"{u.Claim!.Host} pid {u.Claim.Pid}", $"{u.Claim.Since:yyyy-MM-dd HH:mm:ss}Z; {u.Note}"),
                    _ => ("[grey]missing[/]", "", ""),
                };
                table.AddRow(Markup.Escape(u.Id), state, Markup.Escape(by), Markup.Escape(when));
            }
            AnsiConsole.MarkupLine($"Run folder [green]{Markup.Escape(Path.GetFullPath(dir))}[/]");
            if (units.Count > 0) AnsiConsole.Write(table);
            else AnsiConsole.MarkupLine("No work units planned yet.");
            int done = units.Count(u => u.State == UnitState.Done), claimed = units.Count(u => u.State == UnitState.Claimed);
            int abandoned = units.Count(u => u.State == UnitState.Abandoned), missing = units.Count(u => u.State == UnitState.Missing);
            AnsiConsole.MarkupLine($"units: {done} done, {claimed} claimed, {abandoned} abandoned, {missing} missing");
            if (abandoned > 0) AnsiConsole.MarkupLine("abandoned units are taken over by the next worker that reaches them.");
            AnsiConsole.MarkupLine($"artifacts committed: {(artifacts.Count == 0 ? "none" : Markup.Escape(string.Join(", ", artifacts.Select(a => $"{a.Folder} ({a.Kind})"))))}");
            AnsiConsole.MarkupLine($"{ResultsFile.FileName}: {(File.Exists(Path.Combine(dir, ResultsFile.FileName)) ? "present" : "not yet")}");
            return Task.FromResult(0);
        }));
        return cmd;
    }
}
