using System.CommandLine;
using Leakage.Data;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>The command line: <c>leakage &lt;command&gt; [options]</c>.</summary>
public static class Cli
{
    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Leakage.Notebooks: reproduce Goh's \"Robust Feature Leakage\" (Distill 2019) on CIFAR-10 with TorchSharp.");
        root.Subcommands.Add(DownloadCommand());
        root.Subcommands.Add(DataInfoCommand());
        root.Subcommands.Add(ExperimentCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(SeedsCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(BenchWorkers.WorkerCommand());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        return await root.Parse(args).InvokeAsync();
    }

    /// <summary>This CLI started again with <paramref name="args"/>: the same host (the apphost, or dotnet with this assembly).</summary>
    internal static System.Diagnostics.ProcessStartInfo Again(IEnumerable<string> args)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which executable runs this command.");
        var info = new System.Diagnostics.ProcessStartInfo(host);
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") info.ArgumentList.Add(typeof(Cli).Assembly.Location);
        foreach (var a in args) info.ArgumentList.Add(a);
        return info;
    }

    internal static readonly Option<string?> DataOption = new("--data")
    {
        Description = "CIFAR-10 folder: one holding cifar-10-batches-bin/ (or the .bin files), or an image folder with train/<class>/ and test/<class>/. Default: $LEAKAGE_DATA, else ./data.",
    };

    internal static readonly Option<bool> DownloadOption = new("--download")
    {
        Description = $"When --data holds no CIFAR-10, first download the official binary release into it (MD5-checked; ${MirrorVariable} names a mirror). Offline, the error says where to put the archive.",
    };

    /// <summary>Environment variable naming a mirror of <see cref="Cifar10.BinaryArchiveUrl"/> (the archive must still pass its MD5 check).</summary>
    public const string MirrorVariable = "LEAKAGE_CIFAR_URL";

    /// <summary>
    /// Makes sure <paramref name="dir"/> holds a CIFAR-10 data set before anything else is touched:
    /// with <paramref name="download"/>, an empty or missing folder gets the official binary release;
    /// otherwise (or when that fails) one clear error says where to put the data.
    /// </summary>
    internal static async Task EnsureDataAsync(string dir, bool download, CancellationToken ct)
    {
        if (download && !HasData(dir)) await DownloadAsync(dir, ct);
        CifarLoader.Detect(dir);
    }

    internal static bool HasData(string dir)
    {
        try { CifarLoader.Detect(dir); return true; }
        catch (DirectoryNotFoundException) { return false; }
    }

    /// <summary>Downloads and unpacks the official binary release into <paramref name="dir"/>, with a progress bar.</summary>
    static async Task<string> DownloadAsync(string dir, CancellationToken ct)
    {
        var url = Environment.GetEnvironmentVariable(MirrorVariable) is { Length: > 0 } mirror ? mirror : Cifar10.BinaryArchiveUrl;
        string target = "";
        await AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Cifar10.BinaryArchiveName, maxValue: 170_052_171);
                target = await CifarDownloader.EnsureAsync(dir,
                    progress: new Progress<(long Done, long? Total)>(p => { if (p.Total is long t) task.MaxValue = t; task.Value = p.Done; }),
                    log: m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]"), url: url, ct: ct);
                task.Value = task.MaxValue;
            });
        AnsiConsole.MarkupLine($"CIFAR-10 is ready in [green]{Markup.Escape(target)}[/]");
        return target;
    }

    /// <summary>
    /// Runs a command body; expected failures (bad input, missing data, bad settings) print one
    /// clear line and return exit code 1 instead of a stack trace.
    /// </summary>
    internal static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            // One line, whatever the message holds: scripts and tests read the first stderr line.
            Console.Error.WriteLine($"error: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled; completed work is kept and the same command resumes it.");
            return 130;
        }
    }

    static bool IsUserError(Exception e) => e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException
        or ArgumentException or IOException or InvalidOperationException or NotSupportedException or UnauthorizedAccessException;

    static Command DownloadCommand()
    {
        var cmd = new Command("download", $"Download and unpack the official CIFAR-10 binary release ({Cifar10.BinaryArchiveUrl}, MD5-checked) into --data.");
        cmd.Options.Add(DataOption);
        cmd.SetAction((parse, ct) => Guard(async () =>
        {
            await DownloadAsync(CifarLoader.ResolveFolder(parse.GetValue(DataOption)), ct);
            return 0;
        }));
        return cmd;
    }

    static Command DataInfoCommand()
    {
        var cmd = new Command("data-info", "Load the data set (detecting its format, filling the decode cache) and print a class-balance table.");
        cmd.Options.Add(DataOption);
        cmd.Options.Add(DownloadOption);
        cmd.SetAction((parse, ct) => Guard(async () =>
        {
            var dir = CifarLoader.ResolveFolder(parse.GetValue(DataOption));
            await EnsureDataAsync(dir, parse.GetValue(DownloadOption), ct);
            using var data = CifarLoader.Load(dir, new CifarLoadOptions { Log = m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]") });
            var table = new Table().AddColumn("class").AddColumn(new TableColumn("train").RightAligned()).AddColumn(new TableColumn("test").RightAligned());
            var tr = data.Train.ClassCounts();
            var te = data.Test.ClassCounts();
            for (int c = 0; c < Cifar10.Classes; c++) table.AddRow($"{c} {Cifar10.ClassNames[c]}", tr[c].ToString("N0"), te[c].ToString("N0"));
            table.AddRow("[bold]total[/]", $"[bold]{data.Train.Count:N0}[/]", $"[bold]{data.Test.Count:N0}[/]");
            AnsiConsole.MarkupLine($"{data.Format} data from [green]{Markup.Escape(data.Source)}[/]");
            AnsiConsole.Write(table);
            return 0;
        }));
        return cmd;
    }
}
