using System.Reflection;
using System.Runtime.Loader;

namespace Leakage.Interactive;

/// <summary>
/// Glue between this library and a .NET Interactive kernel that is found at run time, never
/// referenced at compile time (the kernel brings its own Microsoft.DotNet.Interactive, and a second
/// copy would clash).
/// <list type="bullet">
/// <item>Plotly.NET 6 is compiled against FSharp.Core 10.1 while current kernels ship FSharp.Core 10.0.
/// <see cref="InstallFSharpCoreRedirect"/> answers the failed load with the FSharp.Core the kernel
/// already has (the API Plotly.NET uses exists in both).</item>
/// <item><see cref="RegisterHtmlFormatter"/> registers a text/html formatter with the kernel's
/// <c>Microsoft.DotNet.Interactive.Formatting.Formatter</c> through reflection, so values such as
/// <see cref="Html"/> and <c>DataFrame</c> render as HTML when they are a cell's result.</item>
/// </list>
/// </summary>
public static class KernelCompat
{
    const string FormattingAssembly = "Microsoft.DotNet.Interactive.Formatting";
    const string FormatterType = "Microsoft.DotNet.Interactive.Formatting.Formatter";

    static int _redirectInstalled;

    /// <summary>True once <see cref="InstallFSharpCoreRedirect"/> has run in this process.</summary>
    public static bool FSharpCoreRedirectInstalled => Volatile.Read(ref _redirectInstalled) == 1;

    /// <summary>
    /// Installs (once) an <see cref="AssemblyLoadContext.Default"/> Resolving handler that answers a
    /// request for FSharp.Core of any version with the FSharp.Core already loaded in the process.
    /// Resolving only fires after normal probing failed, so it never replaces a load that would have
    /// worked. Call it before the first use of Plotly.NET.
    /// </summary>
    public static void InstallFSharpCoreRedirect()
    {
        if (Interlocked.Exchange(ref _redirectInstalled, 1) == 1) return;
        AssemblyLoadContext.Default.Resolving += (_, name) =>
            name.Name == "FSharp.Core"
                ? AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "FSharp.Core")
                : null;
    }

    /// <summary>True when the process hosts a .NET Interactive kernel (its formatting assembly is loaded).</summary>
    public static bool InKernel => FindFormatter() != null;

    /// <summary>
    /// Registers <paramref name="toHtml"/> as the text/html formatter for <paramref name="type"/> (and
    /// its subclasses) in the hosting kernel. Returns false, doing nothing, outside a kernel.
    /// </summary>
    /// <exception cref="InvalidOperationException">The kernel's formatting API has changed shape.</exception>
    public static bool RegisterHtmlFormatter(Type type, Func<object, string> toHtml)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(toHtml);
        var formatter = FindFormatter();
        if (formatter is null) return false;
        // public static void Register(Type type, Action<object, TextWriter> formatter, string mimeType)
        var register = formatter.GetMethod("Register", BindingFlags.Public | BindingFlags.Static,
                           [typeof(Type), typeof(Action<object, TextWriter>), typeof(string)])
                       ?? throw new InvalidOperationException(
                           $"{FormatterType} in the running kernel has no Register(Type, Action<object, TextWriter>, string); " +
                           "this kernel version is not supported by Leakage.Interactive.");
        Action<object, TextWriter> write = (value, writer) => writer.Write(toHtml(value));
        register.Invoke(null, [type, write, "text/html"]);
        return true;
    }

    /// <summary>Typed convenience for <see cref="RegisterHtmlFormatter(Type, Func{object, string})"/>.</summary>
    public static bool RegisterHtmlFormatter<T>(Func<T, string> toHtml) =>
        RegisterHtmlFormatter(typeof(T), o => toHtml((T)o));

    static Type? FindFormatter() =>
        AppDomain.CurrentDomain.GetAssemblies()
            .FirstOrDefault(a => a.GetName().Name == FormattingAssembly)?
            .GetType(FormatterType, throwOnError: false);
}
