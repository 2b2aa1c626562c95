using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Native;

/// <summary>
/// TorchSharp <see cref="Scalar"/>s that live as long as the call that reads them.
/// <para>
/// TorchSharp 0.107's Scalar owns its native value through a bare handle and frees it in a finalizer. A
/// temporary one (a number converted implicitly, or a tensor operator with a number operand such as
/// <c>x + 1e-10</c>) is unreachable once its handle has been read, so a garbage collection on another
/// thread can free it while libtorch is still reading it: "Expected false to be true", "Unknown scalar
/// type", or a wrong value (dotnet/TorchSharp#1434 disposes them; not released). Measured: 64 failures in
/// 200,000 calls of <c>x.lt(0.5)</c> beside a thread that collects, none with a kept Scalar.
/// </para>
/// Constants are static fields; a value known at run time goes through <see cref="With{T}(double, Func{Scalar, T})"/>.
/// The LK0001 analyzer (lib/Leakage.Analyzers) rejects the temporaries at compile time.
/// </summary>
public static class Scalars
{
    static Scalars()
    {
        TorchNative.Ensure(); // creating a Scalar loads libtorch: patch it first
        Zero = 0L.ToScalar();
        One = 1L.ToScalar();
        Half = 0.5.ToScalar();
        NegativeInfinity = double.NegativeInfinity.ToScalar();
    }

    /// <summary>The integer scalars 0 and 1 (what the literals <c>0</c> and <c>1</c> convert to).</summary>
    public static Scalar Zero { get; }

    /// <inheritdoc cref="Zero"/>
    public static Scalar One { get; }

    /// <summary>The floating-point scalar 0.5.</summary>
    public static Scalar Half { get; }

    /// <summary>Minus infinity (to mask logits out of a maximum).</summary>
    public static Scalar NegativeInfinity { get; }

    /// <summary>A floating-point Scalar for a static field (alive for the process; libtorch is loaded first).</summary>
    public static Scalar Constant(double value) => value.ToScalar();

    /// <summary>An integer Scalar for a static field (alive for the process; libtorch is loaded first).</summary>
    public static Scalar Constant(long value) => value.ToScalar();

    /// <summary>Calls <paramref name="use"/> with <paramref name="value"/> as a floating-point Scalar kept alive until it returns.</summary>
    public static T With<T>(double value, Func<Scalar, T> use)
    {
        using var scalar = value.ToScalar();
        return use(scalar);
    }

    /// <summary>Calls <paramref name="use"/> with <paramref name="value"/> as an integer Scalar kept alive until it returns.</summary>
    public static T With<T>(long value, Func<Scalar, T> use)
    {
        using var scalar = value.ToScalar();
        return use(scalar);
    }

    /// <summary><c>arange(count)</c> as int64 indices.</summary>
    public static Tensor Arange(long count) => With(count, n => arange(n, dtype: ScalarType.Int64));
}
