using System.Text.Json.Nodes;

namespace Leakage.Notebooks.Tests;

/// <summary>Writes small executed notebooks (nbformat 4 JSON) with chosen outputs, without a kernel.</summary>
sealed class SyntheticNotebook
{
    readonly JsonArray _cells = new();

    public SyntheticNotebook Markdown(string source)
    {
        _cells.Add(new JsonObject { ["cell_type"] = "markdown", ["metadata"] = new JsonObject(), ["source"] = source });
        return this;
    }

    public SyntheticNotebook Code(string source, params JsonObject[] outputs)
    {
        _cells.Add(new JsonObject
        {
            ["cell_type"] = "code",
            ["execution_count"] = 1,
            ["metadata"] = new JsonObject { ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" } },
            ["outputs"] = new JsonArray(outputs.Cast<JsonNode>().ToArray()),
            ["source"] = source,
        });
        return this;
    }

    public static JsonObject Display(string mime, string value) => new()
    {
        ["output_type"] = "display_data",
        ["metadata"] = new JsonObject(),
        ["data"] = new JsonObject { [mime] = SplitLines(value) },
    };

    /// <summary>nbformat stores multi-line strings as a list of lines that keep their "\n".</summary>
    static JsonArray SplitLines(string value)
    {
        var lines = new JsonArray();
        int start = 0;
        for (int i = 0; i < value.Length; i++)
            if (value[i] == '\n') { lines.Add(value[start..(i + 1)]); start = i + 1; }
        if (start < value.Length) lines.Add(value[start..]);
        return lines;
    }

    public static JsonObject Html(string html) => Display("text/html", html);

    public static JsonObject Stream(string text, string name = "stdout") => new()
    {
        ["output_type"] = "stream",
        ["name"] = name,
        ["text"] = text,
    };

    public static JsonObject Error(string message) => new()
    {
        ["output_type"] = "error",
        ["ename"] = "Error",
        ["evalue"] = message,
        ["traceback"] = new JsonArray(),
    };

    public string Write(string path)
    {
        var nb = new JsonObject
        {
            ["cells"] = _cells,
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
                ["language_info"] = new JsonObject { ["name"] = "polyglot-notebook" },
            },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
        };
        File.WriteAllText(path, nb.ToJsonString());
        return path;
    }
}
