using Leakage.Data;

namespace Leakage.Tests.Support;

/// <summary>Tiny CIFAR-shaped data sets written in the supported on-disk formats.</summary>
public static class SyntheticCifar
{
    /// <summary>Deterministic pixels (CHW bytes) and labels cycling through the classes.</summary>
    public static (byte[] Pixels, long[] Labels) Make(int n, int seed)
    {
        var rng = new Random(seed);
        var px = new byte[n * Cifar10.ImageSize];
        rng.NextBytes(px);
        var labels = Enumerable.Range(0, n).Select(i => (long)((i + seed) % Cifar10.Classes)).ToArray();
        return (px, labels);
    }

    /// <summary>Writes the six official batch files with <paramref name="perFile"/> records each.</summary>
    public static void WriteBinary(string batchDir, int perFile, out (byte[] Pixels, long[] Labels) train, out (byte[] Pixels, long[] Labels) test)
    {
        Directory.CreateDirectory(batchDir);
        var all = new List<(byte[], long[])>();
        for (int f = 0; f < Cifar10.BinaryTrainFiles.Count; f++)
        {
            var (px, y) = Make(perFile, f + 1);
            CifarBinaryFormat.WriteFile(Path.Combine(batchDir, Cifar10.BinaryTrainFiles[f]), px, y);
            all.Add((px, y));
        }
        train = (all.SelectMany(a => a.Item1).ToArray(), all.SelectMany(a => a.Item2).ToArray());
        test = Make(perFile, 99);
        CifarBinaryFormat.WriteFile(Path.Combine(batchDir, Cifar10.BinaryTestFile), test.Pixels, test.Labels);
    }

    /// <summary>
    /// Writes train/&lt;class&gt;/NNNN.png and test/&lt;class&gt;/NNNN.png with <paramref name="perClass"/>
    /// images per class; returns the pixels and labels in the loader's order (class, then file name).
    /// </summary>
    public static ((byte[] Pixels, long[] Labels) Train, (byte[] Pixels, long[] Labels) Test) WriteImageFolder(string root, int perClass)
    {
        (byte[], long[]) Split(string split, int seed)
        {
            var (px, _) = Make(perClass * Cifar10.Classes, seed);
            var labels = new long[perClass * Cifar10.Classes];
            for (int c = 0; c < Cifar10.Classes; c++)
            for (int k = 0; k < perClass; k++)
            {
                int i = c * perClass + k;
                labels[i] = c;
                ImageFolderFormat.WritePng(Path.Combine(root, split, Cifar10.ClassNames[c], $"{k:D4}.png"),
                    px.AsSpan(i * Cifar10.ImageSize, Cifar10.ImageSize));
            }
            return (px, labels);
        }
        return (Split("train", 1), Split("test", 2));
    }
}
