using Leakage.Data;

namespace Leakage.Cli.Tests.Support;

/// <summary>Tiny CIFAR-10 look-alikes on disk, in both formats the CLI reads.</summary>
public static class SyntheticData
{
    /// <summary>
    /// Writes train/&lt;class&gt;/NNNN.png and test/&lt;class&gt;/NNNN.png: each class is a colour
    /// pattern of its own (a plane wave with a class-specific direction and phase per channel) plus
    /// pixel noise, so a small CNN learns it in a few epochs and every reported number is a real,
    /// non-trivial measurement.
    /// </summary>
    public static void WriteImageFolder(string root, int trainPerClass, int testPerClass, int seed = 1)
    {
        var rng = new Random(seed);
        foreach (var (split, perClass) in new[] { ("train", trainPerClass), ("test", testPerClass) })
            for (int c = 0; c < Cifar10.Classes; c++)
                for (int k = 0; k < perClass; k++)
                    ImageFolderFormat.WritePng(Path.Combine(root, split, Cifar10.ClassNames[c], $"{k:D4}.png"), ClassImage(c, rng));
    }

    static byte[] ClassImage(int c, Random rng)
    {
        var px = new byte[Cifar10.ImageSize];
        double angle = Math.PI * c / Cifar10.Classes, freq = 2 * Math.PI * (1 + c % 3) / 32;
        for (int ch = 0; ch < Cifar10.Channels; ch++)
            for (int y = 0; y < Cifar10.Height; y++)
                for (int x = 0; x < Cifar10.Width; x++)
                {
                    double wave = Math.Sin(freq * (x * Math.Cos(angle) + y * Math.Sin(angle)) + ch * 2.1 + c);
                    double v = 128 + 40 * wave + 100 * (rng.NextDouble() * 2 - 1);
                    px[(ch * Cifar10.Height + y) * Cifar10.Width + x] = (byte)Math.Clamp(Math.Round(v), 0, 255);
                }
        return px;
    }

    /// <summary>
    /// Writes the six official batch files at their official size (sparse files of zeros: every
    /// record is a black image of class 0), without the cost of real data.
    /// </summary>
    public static string WriteSparseBinary(string root)
    {
        var dir = Path.Combine(root, Cifar10.BinaryFolderName);
        Directory.CreateDirectory(dir);
        foreach (var f in Cifar10.BinaryTrainFiles.Append(Cifar10.BinaryTestFile))
        {
            using var fs = new FileStream(Path.Combine(dir, f), FileMode.Create, FileAccess.Write);
            fs.SetLength(CifarBinaryFormat.FileSize);
        }
        return dir;
    }

    /// <summary>A minimal valid image folder: <paramref name="perClass"/> images per class and split.</summary>
    public static void WriteMinimalImageFolder(string root, int perClass = 1) => WriteImageFolder(root, perClass, perClass, seed: 7);
}
