using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Models;

/// <summary>
/// SHA-256 fingerprints of tensors and model states, for artifact settings ("which model and which
/// data made this?"). A fingerprint covers dtype, shape and the exact bytes, so any change to a
/// weight or a pixel changes it; it is independent of the device the tensors live on.
/// </summary>
public static class Fingerprint
{
    /// <summary>
    /// Fingerprint of a module's state: every parameter and persistent buffer, by name in ordinal
    /// order (so two models with equal weights and running statistics have equal fingerprints).
    /// </summary>
    public static string Of(nn.Module module)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, tensor) in module.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name));
            Append(hash, tensor);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Fingerprint of a sequence of tensors (order matters).</summary>
    public static string Of(params Tensor[] tensors)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tensors) Append(hash, t);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    static void Append(IncrementalHash hash, Tensor t)
    {
        hash.AppendData(Encoding.UTF8.GetBytes($"|{t.dtype}|{string.Join('x', t.shape)}|"));
        if (t.numel() == 0) return;
        using var scope = NewDisposeScope();
        var cpu = t.device_type == DeviceType.CPU && t.is_contiguous() ? t : t.detach().cpu().contiguous();
        hash.AppendData(cpu.bytes);
    }
}
