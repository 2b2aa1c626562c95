using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Leakage.Reporting;

/// <summary>Math in the report as readable Unicode text (the page loads no MathJax offline).</summary>
public static partial class HtmlReport
{
    /// <summary>
    /// Markdig writes math as <c>\( … \)</c> and <c>\[ … \]</c> for MathJax; with no script
    /// available offline, the delimiters go and common TeX commands become their Unicode symbols.
    /// </summary>
    static string ReadableMath(string html) =>
        MathSpan().Replace(html, m =>
            $"<{m.Groups["tag"].Value} class=\"math\">{TexToText(WebUtility.HtmlDecode(m.Groups["body"].Value), encode: true)}</{m.Groups["tag"].Value}>");

    static readonly Dictionary<string, string> TexSymbols = new(StringComparer.Ordinal)
    {
        [@"\varepsilon"] = "ε", [@"\epsilon"] = "ε", [@"\alpha"] = "α", [@"\beta"] = "β", [@"\gamma"] = "γ", [@"\Gamma"] = "Γ",
        [@"\delta"] = "δ", [@"\Delta"] = "Δ", [@"\eta"] = "η", [@"\theta"] = "θ", [@"\lambda"] = "λ", [@"\mu"] = "μ",
        [@"\rho"] = "ρ", [@"\sigma"] = "σ", [@"\Sigma"] = "Σ", [@"\tau"] = "τ", [@"\phi"] = "φ", [@"\pi"] = "π",
        [@"\leq"] = "≤", [@"\geq"] = "≥", [@"\le"] = "≤", [@"\ge"] = "≥", [@"\neq"] = "≠", [@"\ne"] = "≠", [@"\approx"] = "≈",
        [@"\cdot"] = "·", [@"\times"] = "×", [@"\in"] = "∈", [@"\infty"] = "∞", [@"\sum"] = "∑", [@"\inf"] = "inf",
        [@"\min"] = "min", [@"\max"] = "max", [@"\|"] = "‖", [@"\lVert"] = "‖", [@"\rVert"] = "‖", [@"\top"] = "ᵀ",
        [@"\to"] = "→", [@"\mapsto"] = "↦", [@"\pm"] = "±", [@"\ell"] = "ℓ", [@"\sqrt"] = "√", [@"\log"] = "log",
        [@"\,"] = " ", [@"\;"] = " ", [@"\quad"] = "  ", [@"\left"] = "", [@"\right"] = "", [@"\{"] = "{", [@"\}"] = "}",
    };

    static readonly Dictionary<string, string> Blackboard = new(StringComparer.Ordinal) { ["E"] = "𝔼", ["R"] = "ℝ", ["N"] = "ℕ", ["Z"] = "ℤ" };

    static string TexToText(string tex, bool encode = false)
    {
        var s = TexBlackboard().Replace(tex.Trim(), m => Blackboard.TryGetValue(m.Groups[1].Value, out var b) ? b : m.Groups[1].Value);
        s = TexWrapper().Replace(s, "$1"); // \mathrm{x}, \text{x}, \operatorname{x} -> x
        s = TexCommand().Replace(s, m => TexSymbols.TryGetValue(m.Value, out var u) ? u : m.Value);
        s = s.Replace("^ᵀ", "ᵀ", StringComparison.Ordinal); // w^\top
        s = TexScript().Replace(s, m => Script(m.Groups["body"].Value, m.Groups["op"].Value == "^" ? Superscripts : Subscripts) ?? m.Value);
        return encode ? Encode(s) : s;
    }

    const string ScriptSource = "0123456789+-=()aehijklmnoprstuvxT";
    const string Superscripts = "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵉʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛˣᵀ";
    const string Subscripts = "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ\0";

    /// <summary>x^2 → x², x_i → xᵢ where Unicode has every character; null otherwise (left as TeX).</summary>
    static string? Script(string body, string table)
    {
        var sb = new StringBuilder(body.Length);
        foreach (var c in body)
        {
            int i = ScriptSource.IndexOf(c);
            if (i < 0 || i >= table.Length || table[i] == '\0') return null;
            sb.Append(table[i]);
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"<(?<tag>span|div) class=""math"">\s*\\[\(\[](?<body>.*?)\\[\)\]]\s*</\k<tag>>", RegexOptions.Singleline)]
    private static partial Regex MathSpan();

    [GeneratedRegex(@"\\(?:mathrm|text|operatorname|mathbf|mathit)\{([^{}]*)\}")]
    private static partial Regex TexWrapper();

    [GeneratedRegex(@"\\mathbb\{([^{}]*)\}")]
    private static partial Regex TexBlackboard();

    [GeneratedRegex(@"\\(?:[A-Za-z]+|.)")]
    private static partial Regex TexCommand();

    [GeneratedRegex(@"(?<op>[\^_])(?:\{(?<body>[^{}]{1,12})\}|(?<body>[0-9A-Za-z+\-]))")]
    private static partial Regex TexScript();
}
