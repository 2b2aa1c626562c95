using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Leakage.Benchmarks;

/// <summary>
/// One running PyTorch reference (<c>pytorch_reference.py --serve</c>): it measures a round, or the
/// phase split, each time it is asked, so the bench can alternate TorchSharp and PyTorch rounds
/// without paying Python's and torch's start-up between them. Start it with <see cref="PyTorchReference.Start"/>.
/// </summary>
public sealed class PyTorchSession : IDisposable
{
    readonly Process _process;
    readonly string _script;
    readonly string _python;
    readonly TimeSpan _timeout;
    readonly StringBuilder _stderr = new();

    /// <summary>The script's process id (for its CPU time).</summary>
    public int ProcessId => _process.Id;

    /// <summary>The header the script printed on start: versions, threads, OpenMP policy, its own matmul rate.</summary>
    public JsonElement Header { get; }

    internal PyTorchSession(string python, IReadOnlyList<string> arguments, string ompWaitPolicy, TimeSpan timeout)
    {
        _python = python;
        _timeout = timeout;
        _script = PyTorchReference.WriteScript();
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(_script);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        // Like for like: the policy this process's libtorch runs with, whatever the parent shell exported.
        if (!string.IsNullOrEmpty(ompWaitPolicy)) psi.Environment["OMP_WAIT_POLICY"] = ompWaitPolicy;
        try
        {
            _process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {python}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            PyTorchReference.DeleteScript(_script);
            throw new InvalidOperationException($"The PyTorch reference ({python}) cannot run: {e.Message}", e);
        }
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        Header = ReadLine("start");
    }

    /// <summary>Sends <paramref name="command"/> ("round" or "phases") and returns the script's answer.</summary>
    /// <exception cref="InvalidOperationException">The script died, answered with an error or ran past the timeout.</exception>
    public JsonElement Request(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        var answer = ReadLine(command);
        if (answer.TryGetProperty("error", out var error))
            throw new InvalidOperationException($"The PyTorch reference ({_python}) answered '{command}' with: {error.GetString()}");
        return answer;
    }

    // Skips lines that are not JSON objects: a native library may print to stdout too (DNNL_VERBOSE=1 does).
    JsonElement ReadLine(string what)
    {
        var deadline = Stopwatch.StartNew();
        string? line;
        do
        {
            var read = _process.StandardOutput.ReadLineAsync();
            var left = _timeout - deadline.Elapsed;
            if (left <= TimeSpan.Zero || !read.Wait(left))
            {
                Kill();
                throw new InvalidOperationException($"The PyTorch reference ({_python}) gave no answer to '{what}' within {_timeout.TotalSeconds:0} s.");
            }
            line = read.Result;
        } while (line is not null && !line.StartsWith('{'));
        if (line is null)
        {
            _process.WaitForExit(5_000);
            string last;
            lock (_stderr) last = _stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
            throw new InvalidOperationException($"The PyTorch reference ({_python} tools/bench/pytorch_reference.py --serve) failed at '{what}': {last}");
        }
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.Clone();
    }

    void Kill()
    {
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
    }

    /// <summary>Asks the script to quit (kills it if it does not) and deletes its temporary copy.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                try { _process.StandardInput.WriteLine("quit"); _process.StandardInput.Close(); } catch (IOException) { }
                if (!_process.WaitForExit(10_000)) Kill();
            }
        }
        finally
        {
            _process.Dispose();
            PyTorchReference.DeleteScript(_script);
        }
    }
}
