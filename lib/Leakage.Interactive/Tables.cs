using System.Globalization;
using System.Reflection;
using System.Text;
using Microsoft.Data.Analysis;

namespace Leakage.Interactive;

/// <summary>
/// Tables for notebooks: <see cref="DataFrame"/>s built from records, and compact HTML tables
/// (numbers right-aligned, a fixed number of significant digits) that render the same in the kernel
/// and in the HTML report.
/// </summary>
public static partial class Tables
{
    /// <summary>
    /// A DataFrame with one column per public readable property of <typeparamref name="T"/>, in
    /// declaration order. Numeric and bool properties (nullable or not) become typed columns;
    /// everything else becomes a string column (invariant culture).
    /// </summary>
    public static DataFrame FromRecords<T>(IEnumerable<T> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var list = rows.ToList();
        var props = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0)
            .OrderBy(p => p.MetadataToken)
            .ToList();
        if (props.Count == 0) throw new ArgumentException($"{typeof(T).Name} has no public properties to turn into columns.", nameof(rows));
        var columns = props.Select(p => Column(p.Name, Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType,
            list.Select(r => r is null ? null : p.GetValue(r)).ToList()));
        return new DataFrame(columns);
    }

    static DataFrameColumn Column(string name, Type type, List<object?> values)
    {
        DataFrameColumn Typed<TV>() where TV : unmanaged =>
            new PrimitiveDataFrameColumn<TV>(name, values.Select(v => v is null ? (TV?)null : (TV)v));
        if (type == typeof(double)) return Typed<double>();
        if (type == typeof(float)) return Typed<float>();
        if (type == typeof(int)) return Typed<int>();
        if (type == typeof(long)) return Typed<long>();
        if (type == typeof(bool)) return Typed<bool>();
        if (type == typeof(decimal)) return Typed<decimal>();
        return new StringDataFrameColumn(name, values.Select(v => v switch
        {
            null => null,
            DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            DateTime t => t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            DateTimeOffset t => t.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => v.ToString(),
        }));
    }

    /// <summary>Renders the DataFrame of <see cref="FromRecords{T}"/> as HTML.</summary>
    public static Html ToHtml<T>(IEnumerable<T> rows, string? caption = null, int significantDigits = 4) =>
        ToHtml(FromRecords(rows), caption, significantDigits);

    /// <summary>
    /// An HTML table of a DataFrame: header row, at most <paramref name="maxRows"/> rows (then a
    /// note with how many were left out), numbers with <paramref name="significantDigits"/>
    /// significant digits, nulls as empty cells.
    /// </summary>
    public static Html ToHtml(DataFrame frame, string? caption = null, int significantDigits = 4, int maxRows = 100)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (significantDigits is < 1 or > 17) throw new ArgumentOutOfRangeException(nameof(significantDigits), "Use 1 to 17 significant digits.");
        if (maxRows < 1) throw new ArgumentOutOfRangeException(nameof(maxRows), "Show at least one row.");
        var sb = new StringBuilder("<table class=\"leakage-table\">");
        if (caption != null) sb.Append("<caption>").Append(Html.Encode(caption)).Append("</caption>");
        sb.Append("<thead><tr>");
        foreach (var c in frame.Columns) sb.Append("<th>").Append(Html.Encode(Header(c.Name))).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        long shown = Math.Min(frame.Rows.Count, maxRows);
        var numeric = frame.Columns.Select(c => NumericTypes.Contains(c.DataType)).ToArray();
        var decimals = frame.Columns.Select(c => ColumnDecimals(c, shown, significantDigits)).ToArray();
        for (long r = 0; r < shown; r++)
        {
            sb.Append("<tr>");
            for (int c = 0; c < frame.Columns.Count; c++)
            {
                sb.Append(numeric[c] ? "<td style=\"text-align:right\">" : "<td>")
                  .Append(Html.Encode(decimals[c] is int d ? FormatFixed(frame.Columns[c][r], d) : FormatCell(frame.Columns[c][r], significantDigits))).Append("</td>");
            }
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (frame.Rows.Count > shown)
            sb.Append("<p class=\"leakage-note\">").Append(frame.Rows.Count - shown).Append(" more rows not shown.</p>");
        return new Html(sb.ToString());
    }

    /// <summary>
    /// A readable column header from a property name: <c>MeanAbsGammaDifference</c> becomes
    /// "mean abs gamma difference", <c>CILow</c> "CI low"; names with spaces or underscores
    /// (<c>D_rand</c>) are kept as they are.
    /// </summary>
    public static string Header(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Contains(' ') || name.Contains('_')) return name;
        var words = HeaderWords().Matches(name).Select(m => m.Value).ToList();
        if (words.Count == 0) return name;
        return string.Join(' ', words.Select(w => w.Length > 1 && w.All(char.IsUpper) ? w : w.ToLowerInvariant()));
    }

    [System.Text.RegularExpressions.GeneratedRegex("[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")]
    private static partial System.Text.RegularExpressions.Regex HeaderWords();

    /// <summary>
    /// The decimals every shown cell of a floating-point column gets, so that its digits line up:
    /// enough for <paramref name="digits"/> significant digits of the column's largest value (at most
    /// 8); null (each cell formatted alone) for other columns and for values too small or too large
    /// for fixed notation.
    /// </summary>
    static int? ColumnDecimals(DataFrameColumn column, long rows, int digits)
    {
        if (column.DataType != typeof(double) && column.DataType != typeof(float) && column.DataType != typeof(decimal)) return null;
        double max = 0;
        for (long r = 0; r < rows; r++)
            if (column[r] is { } v && Convert.ToDouble(v, CultureInfo.InvariantCulture) is var d && double.IsFinite(d))
                max = Math.Max(max, Math.Abs(d));
        if (max == 0) return 0;
        if (max is < 1e-4 or >= 1e15) return null;
        return Math.Clamp(digits - 1 - (int)Math.Floor(Math.Log10(max)), 0, 8);
    }

    static string FormatFixed(object? value, int decimals)
    {
        if (value is null) return "";
        var d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
        if (!double.IsFinite(d)) return FormatCell(d);
        return d.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    static readonly HashSet<Type> NumericTypes =
    [
        typeof(double), typeof(float), typeof(decimal), typeof(int), typeof(long), typeof(short),
        typeof(byte), typeof(sbyte), typeof(uint), typeof(ulong), typeof(ushort),
    ];

    /// <summary>A two-column table of names and values.</summary>
    public static Html KeyValue(IEnumerable<(string Name, string Value)> rows, string? caption = null)
    {
        var sb = new StringBuilder("<table class=\"leakage-table\">");
        if (caption != null) sb.Append("<caption>").Append(Html.Encode(caption)).Append("</caption>");
        sb.Append("<tbody>");
        foreach (var (name, value) in rows)
            sb.Append("<tr><th style=\"text-align:left\">").Append(Html.Encode(name)).Append("</th><td>").Append(Html.Encode(value)).Append("</td></tr>");
        return new Html(sb.Append("</tbody></table>").ToString());
    }

    /// <summary>Formats one cell: numbers with the given significant digits (invariant culture), null as "".</summary>
    public static string FormatCell(object? value, int significantDigits = 4) => value switch
    {
        null => "",
        double d => FormatNumber(d, significantDigits),
        float f => FormatNumber(f, significantDigits),
        decimal m => FormatNumber((double)m, significantDigits),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    static string FormatNumber(double v, int digits)
    {
        if (double.IsNaN(v)) return "NaN";
        if (double.IsInfinity(v)) return v > 0 ? "∞" : "-∞";
        if (v == 0) return "0";
        var magnitude = Math.Abs(v);
        if (magnitude >= 1e-4 && magnitude < 1e15)
        {
            // Fixed notation with the requested significant digits, trailing zeros trimmed.
            int decimals = Math.Max(0, digits - 1 - (int)Math.Floor(Math.Log10(magnitude)));
            var rounded = Math.Round(v, Math.Min(decimals, 15), MidpointRounding.AwayFromZero);
            return rounded.ToString("0." + new string('#', Math.Min(decimals, 15)), CultureInfo.InvariantCulture);
        }
        return v.ToString("G" + digits, CultureInfo.InvariantCulture);
    }
}
