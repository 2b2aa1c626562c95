using Leakage.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Compute;

/// <summary>Arithmetic the attacks run in (setting <c>compute.precision</c>).</summary>
public enum Precision { Auto, Fp32, Bf16 }

/// <summary>
/// Resolves <c>compute.precision</c> and builds the bfloat16 copy of a classifier that PGD attacks.
/// <para>
/// Only the attacks change precision. Measured on a 2-core AMD EPYC (Zen 4, AVX512_BF16; libtorch
/// 2.10, oneDNN 3.7.1; docs/performance.md): a PGD step with bf16 weights and activations is 1.7x
/// faster than float32, but a training step is 14x slower, because oneDNN's bf16 weight-gradient
/// convolution is about 40x slower than the float32 one there; and bf16 SGD without float32 master
/// weights would lose small updates. So training stays float32 at every setting, and <c>auto</c>
/// picks bf16 for the attack only on a CPU with AVX512_BF16 or AMX-BF16 (TorchSharp 0.107 has no
/// autocast, hence the explicit copy).
/// </para>
/// </summary>
public static class Precisions
{
    /// <summary>Valid spellings, for error messages and help text.</summary>
    public static readonly string[] Choices = ["auto", "fp32", "bf16"];

    public static Precision Parse(string value) => value.Trim().ToLowerInvariant() switch
    {
        "auto" => Precision.Auto,
        "fp32" or "float32" => Precision.Fp32,
        "bf16" or "bfloat16" => Precision.Bf16,
        _ => throw new ArgumentException($"Unknown precision '{value}'. Valid choices: {string.Join(", ", Choices)}."),
    };

    /// <summary>True when this CPU computes bfloat16 dot products natively (AVX512_BF16 or AMX-BF16 in /proc/cpuinfo).</summary>
    public static bool CpuHasBf16 => CpuInfo.Current.HasBf16;

    /// <summary>The dtype PGD runs in for <paramref name="precision"/> on <paramref name="device"/> (a CPU with bf16 support when <paramref name="cpuHasBf16"/>).</summary>
    public static ScalarType ForAttack(Precision precision, DeviceType device, bool cpuHasBf16) => precision switch
    {
        Precision.Fp32 => ScalarType.Float32,
        Precision.Bf16 => ScalarType.BFloat16,
        _ => device == DeviceType.CPU && cpuHasBf16 ? ScalarType.BFloat16 : ScalarType.Float32,
    };

    /// <summary>
    /// The model PGD should attack at <paramref name="precision"/>: for float32, null (attack
    /// <paramref name="model"/> itself) or, with <paramref name="foldBatchNorm"/> and a model that can,
    /// a copy with its batch norms folded (<see cref="IBatchNormFoldable"/>); else a bfloat16 copy that
    /// takes and returns float32, so the attack's iterate, gradient normalisation and projection stay
    /// float32 (not folded). Dispose it after use.
    /// </summary>
    public static nn.Module<Tensor, Tensor>? AttackModel(nn.Module<Tensor, Tensor> model, string precision, Device device, bool foldBatchNorm = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (ForAttack(Parse(precision), device.type, CpuHasBf16) == ScalarType.Float32)
            return foldBatchNorm && model is IBatchNormFoldable foldable ? foldable.FoldedCopy() : null;
        if (model is not ICifarClassifier c)
            throw new NotSupportedException($"A bfloat16 attack copy needs one of the library's classifiers; got {model.GetType().Name}.");
        nn.Module<Tensor, Tensor> copy = model switch
        {
            CifarResNet r => new CifarResNet(r.Shape),
            WideResNet w => new WideResNet(w.Blocks, w.Widen),
            _ => ModelFactory.Create(c.Arch, 0, c.Width),
        };
        copy.to(device);
        BatchNormFold.CopyState(model, copy);
        copy.to(ScalarType.BFloat16);
        copy.eval();
        return new Bfloat16Classifier(copy);
    }

    /// <summary>
    /// <paramref name="bf16Model"/>, a network already in bfloat16, behind a float32 interface (float32 input and logits;
    /// gradients flow to the float32 input), as <see cref="AttackModel"/> returns it. Disposing the view disposes the model.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Bfloat16View(nn.Module<Tensor, Tensor> bf16Model) => new Bfloat16Classifier(bf16Model);

    /// <summary>Runs a bf16 copy on float32 input and returns float32 logits; gradients flow to the float32 input.</summary>
    sealed class Bfloat16Classifier : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> inner;

        public Bfloat16Classifier(nn.Module<Tensor, Tensor> inner) : base("bf16")
        {
            this.inner = inner;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return inner.forward(x.to(ScalarType.BFloat16)).to(ScalarType.Float32).MoveToOuterDisposeScope();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
