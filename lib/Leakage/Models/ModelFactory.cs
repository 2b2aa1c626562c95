using Leakage.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Leakage.Models;

/// <summary>Builds CIFAR-10 classifiers by architecture name, with seeded (reproducible) initial weights.</summary>
public static class ModelFactory
{
    /// <summary>The default CPU model, <see cref="Models.SmallCnn"/>.</summary>
    public const string SmallCnnArch = "small-cnn";

    /// <summary>The CIFAR ResNet-18 for GPUs, <see cref="Models.ResNet18"/>.</summary>
    public const string ResNet18Arch = "resnet18";

    /// <summary>Keller Jordan's airbench94 network, <see cref="Models.AirbenchNet"/>: 94% in 10 epochs on a CPU-sized budget.</summary>
    public const string AirbenchArch = "airbench";

    /// <summary>Keller Jordan's small residual network of his Ilyas et al. replication, <see cref="Models.ResNet9"/>: the transfer model that shows D_rand's effect there.</summary>
    public const string ResNet9Arch = "resnet9";

    /// <summary>Every valid architecture name.</summary>
    public static IReadOnlyList<string> Architectures { get; } = Array.AsReadOnly([SmallCnnArch, ResNet18Arch, AirbenchArch, ResNet9Arch]);

    /// <summary>
    /// Creates a model of <paramref name="arch"/> on <paramref name="device"/> (CPU when null), in
    /// training mode. Every weight is drawn from a generator seeded with <paramref name="seed"/>
    /// (<see cref="Initialize"/>), so the same arguments always give the same model, whatever other
    /// threads do with torch's global random state.
    /// </summary>
    /// <param name="arch">One of <see cref="Architectures"/> (case-insensitive).</param>
    /// <param name="seed">Seed for the initial weights.</param>
    /// <param name="width">Base channel width; null uses the architecture's default (<see cref="DefaultWidth"/>).</param>
    /// <param name="device">Where the parameters live.</param>
    /// <exception cref="ArgumentException">Unknown <paramref name="arch"/>; the message lists the valid names.</exception>
    public static nn.Module<Tensor, Tensor> Create(string arch, long seed = 0, int? width = null, Device? device = null)
    {
        TorchNative.Ensure();
        var name = Canonical(arch);
        nn.Module<Tensor, Tensor> model = name switch
        {
            SmallCnnArch => new SmallCnn(width ?? SmallCnn.DefaultWidth),
            ResNet18Arch => new ResNet18(width ?? ResNet18.DefaultWidth),
            AirbenchArch => new AirbenchNet(width ?? AirbenchNet.DefaultWidth),
            ResNet9Arch => new ResNet9(width ?? ResNet9.DefaultWidth),
            _ => throw new InvalidOperationException("unreachable"),
        };
        Initialize(model, seed);
        (model as AirbenchNet)?.InitializeIdentity();
        if (device is not null && device.type != DeviceType.CPU) model.to(device);
        return model;
    }

    /// <summary>The architecture's default base width.</summary>
    public static int DefaultWidth(string arch) => Canonical(arch) switch
    {
        SmallCnnArch => SmallCnn.DefaultWidth,
        AirbenchArch => AirbenchNet.DefaultWidth,
        ResNet9Arch => ResNet9.DefaultWidth,
        _ => ResNet18.DefaultWidth,
    };

    /// <summary>Normalises an architecture name (trim, lower case) and checks it is known.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid ones.</exception>
    public static string Canonical(string arch)
    {
        ArgumentNullException.ThrowIfNull(arch);
        var name = arch.Trim().ToLowerInvariant();
        return Architectures.Contains(name)
            ? name
            : throw new ArgumentException($"Unknown model architecture '{arch}'. Valid choices: {string.Join(", ", Architectures)}.", nameof(arch));
    }

    /// <summary>
    /// Re-draws every weight of <paramref name="model"/> from a generator seeded with
    /// <paramref name="seed"/>, with PyTorch's default distributions: conv and linear weights and
    /// biases uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt 5); batch-norm scale 1,
    /// shift 0, running statistics reset.
    /// </summary>
    public static void Initialize(nn.Module model, long seed)
    {
        TorchNative.Ensure();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        using var noGrad = no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    Uniform(conv.weight!, conv.bias, FanIn(conv.weight!), generator);
                    break;
                case Linear linear:
                    Uniform(linear.weight!, linear.bias, FanIn(linear.weight!), generator);
                    break;
                case BatchNorm2d bn:
                    bn.reset_running_stats();
                    bn.weight?.fill_(Scalars.One);
                    bn.bias?.zero_();
                    break;
            }
        }
    }

    static long FanIn(Tensor weight) => weight.shape.Skip(1).Aggregate(1L, (a, b) => a * b);

    static void Uniform(Tensor weight, Tensor? bias, long fanIn, Generator generator)
    {
        var bound = 1.0 / Math.Sqrt(fanIn);
        // Draw on the CPU generator and copy, so the values do not depend on the device.
        using var w = empty(weight.shape).uniform_(-bound, bound, generator);
        weight.copy_(w);
        if (bias is null) return;
        using var b = empty(bias.shape).uniform_(-bound, bound, generator);
        bias.copy_(b);
    }
}
