namespace Leakage.Data;

/// <summary>
/// The official CIFAR-10 binary format: each file holds records of 1 label byte followed by
/// 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue, rows top to bottom), 10,000 records a file.
/// </summary>
public static class CifarBinaryFormat
{
    public const int RecordSize = 1 + Cifar10.ImageSize;
    public const int RecordsPerFile = 10_000;
    public const long FileSize = (long)RecordSize * RecordsPerFile; // 30,730,000 bytes

    /// <summary>
    /// Finds the folder holding the .bin files: <paramref name="dir"/> itself or its
    /// <c>cifar-10-batches-bin</c> subfolder. Null when neither holds <c>test_batch.bin</c>.
    /// </summary>
    public static string? FindBatchFolder(string dir)
    {
        foreach (var d in new[] { Path.Combine(dir, Cifar10.BinaryFolderName), dir })
            if (File.Exists(Path.Combine(d, Cifar10.BinaryTestFile)) || File.Exists(Path.Combine(d, Cifar10.BinaryTrainFiles[0])))
                return d;
        return null;
    }

    /// <summary>
    /// Reads the five training batches and the test batch from <paramref name="batchDir"/>.
    /// <paramref name="recordsPerFile"/> is 10,000 for the official release; tests use small files.
    /// </summary>
    public static (CifarSplit Train, CifarSplit Test) Load(string batchDir, int recordsPerFile = RecordsPerFile)
    {
        var missing = Cifar10.BinaryTrainFiles.Append(Cifar10.BinaryTestFile)
            .Where(f => !File.Exists(Path.Combine(batchDir, f))).ToList();
        if (missing.Count > 0)
            throw new FileNotFoundException(
                $"{batchDir}: CIFAR-10 binary batch file(s) missing: {string.Join(", ", missing)}. " +
                $"The folder must hold {string.Join(", ", Cifar10.BinaryTrainFiles)} and {Cifar10.BinaryTestFile} " +
                $"(from {Cifar10.BinaryArchiveName}).");
        var train = ReadFiles(batchDir, Cifar10.BinaryTrainFiles, "train", recordsPerFile);
        try
        {
            var test = ReadFiles(batchDir, [Cifar10.BinaryTestFile], "test", recordsPerFile);
            return (train, test);
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    static CifarSplit ReadFiles(string dir, IReadOnlyList<string> files, string name, int records)
    {
        var pixels = new byte[(long)files.Count * records * Cifar10.ImageSize];
        var labels = new long[files.Count * records];
        for (int f = 0; f < files.Count; f++)
            ReadFile(Path.Combine(dir, files[f]), pixels.AsSpan(f * records * Cifar10.ImageSize, records * Cifar10.ImageSize),
                labels.AsSpan(f * records, records), records);
        return CifarSplit.FromBytes(name, pixels, labels);
    }

    /// <summary>
    /// Reads one batch file into <paramref name="pixels"/> (CHW per image) and <paramref name="labels"/>.
    /// The file must hold exactly <paramref name="records"/> records (10,000: <see cref="FileSize"/>
    /// bytes) and every label must be in 0..9; otherwise an <see cref="InvalidDataException"/> names
    /// the file and what is wrong.
    /// </summary>
    public static void ReadFile(string path, Span<byte> pixels, Span<long> labels, int records = RecordsPerFile)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found.", path);
        long expected = (long)records * RecordSize;
        if (info.Length != expected)
            throw new InvalidDataException(
                $"{path}: {(info.Length < expected ? "truncated" : "too large")}: {info.Length:N0} bytes, expected {expected:N0} " +
                $"({records:N0} records of {RecordSize:N0} bytes). Download {Cifar10.BinaryArchiveName} again.");
        var buffer = File.ReadAllBytes(path);
        for (int r = 0; r < records; r++)
        {
            var record = buffer.AsSpan(r * RecordSize, RecordSize);
            if (record[0] >= Cifar10.Classes)
                throw new InvalidDataException($"{path}: record {r} has label {record[0]}, outside 0..9.");
            labels[r] = record[0];
            record[1..].CopyTo(pixels.Slice(r * Cifar10.ImageSize, Cifar10.ImageSize));
        }
    }

    /// <summary>
    /// Writes a batch file in the official format (used by tests and by tools that convert data).
    /// </summary>
    public static void WriteFile(string path, ReadOnlySpan<byte> pixels, ReadOnlySpan<long> labels)
    {
        int n = labels.Length;
        if (pixels.Length != n * Cifar10.ImageSize) throw new ArgumentException("pixel count does not match labels");
        var buffer = new byte[n * RecordSize];
        for (int r = 0; r < n; r++)
        {
            if (labels[r] is < 0 or >= Cifar10.Classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {labels[r]} at {r}");
            buffer[r * RecordSize] = (byte)labels[r];
            pixels.Slice(r * Cifar10.ImageSize, Cifar10.ImageSize).CopyTo(buffer.AsSpan(r * RecordSize + 1));
        }
        IO.AtomicFile.WriteAllBytes(path, buffer);
    }
}
