using Leakage.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Training;

/// <summary>
/// airbench's lookahead: an exponential average of every floating-point parameter and buffer (the
/// batch-norm statistics too) that the model is reset to every few iterations, with a decay that
/// grows as 0.95^5 (t/T)^3 towards the end of training, so late noisy steps are averaged away.
/// </summary>
sealed class Lookahead : IDisposable
{
    readonly List<(Tensor Live, Tensor Average)> pairs;

    Lookahead(List<(Tensor Live, Tensor Average)> pairs) => this.pairs = pairs;

    /// <summary>The model's floating-point state with an average starting at its current values.</summary>
    public static Lookahead Of(nn.Module model)
    {
        using var _ = no_grad();
        return new Lookahead(model.state_dict().Values.Where(t => t.is_floating_point())
            .Select(t => (t, t.detach().clone())).ToList());
    }

    /// <summary>Restarts the average at the model's current values (after a data-dependent initialisation).</summary>
    public void Reset()
    {
        using var _ = no_grad();
        foreach (var (live, avg) in pairs) avg.copy_(live);
    }

    /// <summary>After 1-based iteration <paramref name="t"/> of <paramref name="total"/>: every <paramref name="every"/> iterations, and at the last, move the average and reset the model to it.</summary>
    public void Step(long t, long total, int every)
    {
        if (t % every != 0 && t != total) return;
        double decay = t >= total ? 1.0 : Math.Pow(0.95, 5) * Math.Pow((double)t / total, 3);
        using var _ = no_grad();
        foreach (var (live, avg) in pairs)
        {
            avg.lerp_(live, 1 - decay);
            live.copy_(avg);
        }
    }

    public void Save(string file) => AtomicFile.Write(file, s =>
    {
        using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(pairs.Count);
        foreach (var (_, avg) in pairs)
        {
            using var cpu = avg.detach().cpu();
            cpu.contiguous().Save(w);
        }
    });

    public void Load(string file)
    {
        using var fs = File.OpenRead(file);
        using var r = new BinaryReader(fs);
        int count = r.ReadInt32();
        if (count != pairs.Count) throw new InvalidDataException($"lookahead state has {count} tensors, the model {pairs.Count}");
        using var _ = no_grad();
        foreach (var (_, avg) in pairs)
        {
            using var loaded = TensorExtensionMethods.Load(r);
            avg.copy_(loaded);
        }
    }

    public void Dispose()
    {
        foreach (var (_, avg) in pairs) avg.Dispose();
    }
}
