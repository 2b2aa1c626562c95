using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.IO;

/// <summary>Saves and loads single tensors (TorchSharp's binary tensor format), atomically.</summary>
public static class TensorFile
{
    public static void Save(string path, Tensor t)
    {
        using var cpu = t.device_type == DeviceType.CPU ? t.alias() : t.cpu();
        AtomicFile.Write(path, s =>
        {
            using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
            cpu.contiguous().Save(w);
        });
    }

    /// <summary>Loads a tensor; a damaged file raises <see cref="InvalidDataException"/> naming it.</summary>
    public static Tensor Load(string path, Device? device = null)
    {
        TorchNative.Ensure();
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            using var r = new BinaryReader(fs);
            var t = TensorExtensionMethods.Load(r);
            if (fs.Position != fs.Length) { t.Dispose(); throw new InvalidDataException($"{path}: {fs.Length - fs.Position} trailing bytes after the tensor."); }
            if (device is null || device.type == DeviceType.CPU) return t;
            var moved = t.to(device);
            t.Dispose();
            return moved;
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or NotImplementedException or OverflowException)
        {
            throw new InvalidDataException($"{path}: not a complete tensor file ({e.Message}).", e);
        }
    }
}
