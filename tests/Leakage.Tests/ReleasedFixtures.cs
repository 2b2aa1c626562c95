using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// The torch.save fixtures under Fixtures/released (written by real PyTorch with
/// tests/fixtures-src/make_released_fixtures.py) and the values they hold (expected.json).
/// </summary>
internal static class ReleasedFixtures
{
    public static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "released");

    public static readonly string[] Formats = ["legacy", "zip"];

    private static readonly Lazy<JsonDocument> ExpectedDocument =
        new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "expected.json"))));

    public static JsonElement Expected => ExpectedDocument.Value.RootElement;

    /// <summary>A fixture path, e.g. <c>Fixture("legacy", "tensors", "single.pt")</c>.</summary>
    public static string Fixture(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>The folder of a data set fixture: "contiguous" (drand_CIFAR) or "strided" (ddet_CIFAR).</summary>
    public static string DatasetFolder(string format, string set, string? root = null) =>
        Path.Combine(root ?? Root, format, "release_datasets", Expected.GetProperty("datasets").GetProperty(set).GetProperty("folder").GetString()!);

    public static float[] ExpectedImages(string set, JsonElement? root = null) =>
        (root ?? Expected).GetProperty("datasets").GetProperty(set).GetProperty("images").EnumerateArray().Select(v => v.GetSingle()).ToArray();

    public static long[] ExpectedLabels(string set, JsonElement? root = null) =>
        (root ?? Expected).GetProperty("datasets").GetProperty(set).GetProperty("labels").EnumerateArray().Select(v => v.GetInt64()).ToArray();

    public static long[][] Shapes(JsonElement array) =>
        array.EnumerateArray().Select(s => s.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();

    public static float[] Floats(Tensor t) => t.numel() == 0 ? [] : t.contiguous().data<float>().ToArray();

    public static long[] Longs(Tensor t) => t.numel() == 0 ? [] : t.contiguous().data<long>().ToArray();

    public static double[] Doubles(Tensor t) => t.numel() == 0 ? [] : t.contiguous().data<double>().ToArray();

    /// <summary>Exact equality, bit for bit (so -0.0 differs from 0.0), with the first mismatch in the message.</summary>
    public static void AssertBitwiseEqual(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}.");
    }

    public static ScalarType DType(string name) => name switch
    {
        "uint8" => ScalarType.Byte,
        "int8" => ScalarType.Int8,
        "int16" => ScalarType.Int16,
        "int32" => ScalarType.Int32,
        "int64" => ScalarType.Int64,
        "float16" => ScalarType.Float16,
        "bfloat16" => ScalarType.BFloat16,
        "float32" => ScalarType.Float32,
        "float64" => ScalarType.Float64,
        "bool" => ScalarType.Bool,
        _ => throw new ArgumentException($"unknown dtype {name} in expected.json"),
    };

    /// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
    public sealed class TempFolder : IDisposable
    {
        public TempFolder() => Directory.CreateDirectory(Path);

        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "leakage-released-" + Guid.NewGuid().ToString("N"));

        /// <summary>Copies a fixture file into <paramref name="relativeFolder"/> of this folder; returns its new path.</summary>
        public string Copy(string source, string relativeFolder, string? name = null)
        {
            var folder = System.IO.Path.Combine(Path, relativeFolder);
            Directory.CreateDirectory(folder);
            var target = System.IO.Path.Combine(folder, name ?? System.IO.Path.GetFileName(source));
            File.Copy(source, target);
            return target;
        }

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); }
            catch (IOException) { }
        }
    }
}
