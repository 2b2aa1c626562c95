"""PyTorch twins of Leakage.Notebooks' classifiers, for the state_dicts `leakage export` writes.

Same parameter and buffer names, shapes and forward pass as lib/Leakage/Models/SmallCnn.cs,
ResNet18.cs, BasicBlock.cs, AirbenchNet.cs, AirbenchGroup.cs and InputNormalize.cs, so `load_state_dict(strict=True)` takes an exported
`standard_model.pt` as is. Inputs are N x 3 x 32 x 32 pixels in [0, 1]: the model clamps and
normalises them itself (its `normalize.mean` / `normalize.std` buffers come with the weights), so
attacks work in pixel space. The C# models keep activations channels-last on the CPU; that is a
memory layout only and changes neither the weights nor the results.

    import torch, leakage_models
    model = leakage_models.load("export/standard_model.pt", "export/metadata.json")
    logits = model(images)  # images: float N x 3 x 32 x 32 in [0, 1]
"""

import json
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

# MadryLab's CIFAR constants (lib/Leakage/Models/CifarStats.cs); the exported buffers carry them too.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


class InputNormalize(nn.Module):
    """Clamps pixels to [0, 1], then subtracts the per-channel mean and divides by the std."""

    def __init__(self, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).reshape(1, 3, 1, 1))

    def forward(self, x):
        return (x.clamp(0, 1) - self.mean) / self.std


class SmallCnn(nn.Module):
    """Four 3x3 conv stages (w, 2w, 4w, 8w); max-pool straight after the first three convolutions,
    before batch norm and ReLU; global max-pool; linear layer to the logits."""

    def __init__(self, width=24, classes=10):
        super().__init__()
        self.normalize = InputNormalize()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.conv4 = nn.Conv2d(4 * width, 8 * width, 3, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(8 * width)
        self.fc = nn.Linear(8 * width, classes)

    def features(self, x):
        h = self.normalize(x)
        h = F.relu(self.bn1(F.max_pool2d(self.conv1(h), 2)))
        h = F.relu(self.bn2(F.max_pool2d(self.conv2(h), 2)))
        h = F.relu(self.bn3(F.max_pool2d(self.conv3(h), 2)))
        h = F.relu(self.bn4(self.conv4(h)))
        return h.amax(dim=(2, 3))

    def forward(self, x):
        return self.fc(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions with batch norm; a 1x1 projection shortcut where the shape changes."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.shortcut(x))


class ResNet18(nn.Module):
    """The CIFAR ResNet-18 (3x3 stem, no stem pooling; stages of two basic blocks; global average pool)."""

    def __init__(self, width=64, classes=10):
        super().__init__()
        self.normalize = InputNormalize()
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._stage(width, width, 1)
        self.layer2 = self._stage(width, 2 * width, 2)
        self.layer3 = self._stage(2 * width, 4 * width, 2)
        self.layer4 = self._stage(4 * width, 8 * width, 2)
        self.linear = nn.Linear(8 * width, classes)

    @staticmethod
    def _stage(in_channels, out_channels, stride):
        return nn.Sequential(BasicBlock(in_channels, out_channels, stride), BasicBlock(out_channels, out_channels, 1))

    def features(self, x):
        h = F.relu(self.bn1(self.conv1(self.normalize(x))))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return h.mean(dim=(2, 3))

    def forward(self, x):
        return self.linear(self.features(x))


class AirbenchGroup(nn.Module):
    """conv 3x3 - max-pool 2 - batch norm - GELU - conv 3x3 - batch norm - GELU (airbench's ConvGroup);
    the batch norms' scales stay 1 (eps 1e-12, running-statistics momentum 0.4)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(out_channels, eps=1e-12, momentum=0.4)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels, eps=1e-12, momentum=0.4)

    def forward(self, x):
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class AirbenchNet(nn.Module):
    """Keller Jordan's airbench94 (lib/Leakage/Models/AirbenchNet.cs): a fixed 2x2 whitening
    convolution (24 channels, with bias), GELU, groups of widths (w, 4w, 4w), 3x3 max-pool, a linear
    head without bias, logits scaled by 1/9."""

    def __init__(self, width=64, classes=10):
        super().__init__()
        self.normalize = InputNormalize()
        self.whiten = nn.Conv2d(3, 24, 2, padding=0, bias=True)
        self.group1 = AirbenchGroup(24, width)
        self.group2 = AirbenchGroup(width, 4 * width)
        self.group3 = AirbenchGroup(4 * width, 4 * width)
        self.head = nn.Linear(4 * width, classes, bias=False)

    def features(self, x):
        """The pooled features scaled by 1/9, which the head maps to the logits."""
        h = F.gelu(self.whiten(self.normalize(x)))
        h = self.group3(self.group2(self.group1(h)))
        return F.max_pool2d(h, 3).flatten(1) / 9

    def forward(self, x):
        return self.head(self.features(x))


def _conv_bn(in_channels, out_channels, kernel, stride, padding):
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=False),
        bn=nn.BatchNorm2d(out_channels), relu=nn.ReLU()))


class ResNet9(nn.Module):
    """Keller Jordan's residual network of his Ilyas et al. replication (lib/Leakage/Models/ResNet9.cs):
    conv 3x3 (w) - conv 5x5 stride 2 (2w) - residual pair (2w) - conv 3x3 (4w) - max-pool 2 - residual
    pair (4w) - unpadded conv 3x3 (2w) - global max-pool - linear head without bias, logits scaled by 0.2;
    batch norm and ReLU after every convolution."""

    def __init__(self, width=64, classes=10):
        super().__init__()
        w1, w2, w3 = width, 2 * width, 4 * width
        self.normalize = InputNormalize()
        self.prep = _conv_bn(3, w1, 3, 1, 1)
        self.down = _conv_bn(w1, w2, 5, 2, 2)
        self.res1 = nn.Sequential(OrderedDict(a=_conv_bn(w2, w2, 3, 1, 1), b=_conv_bn(w2, w2, 3, 1, 1)))
        self.widen = _conv_bn(w2, w3, 3, 1, 1)
        self.res2 = nn.Sequential(OrderedDict(a=_conv_bn(w3, w3, 3, 1, 1), b=_conv_bn(w3, w3, 3, 1, 1)))
        self.narrow = _conv_bn(w3, w2, 3, 1, 0)
        self.head = nn.Linear(w2, classes, bias=False)

    def features(self, x):
        """The pooled features scaled by 0.2, which the head maps to the logits."""
        h = self.down(self.prep(self.normalize(x)))
        h = h + self.res1(h)
        h = F.max_pool2d(self.widen(h), 2)
        h = h + self.res2(h)
        return self.narrow(h).amax(dim=(2, 3)) * 0.2

    def forward(self, x):
        return self.head(self.features(x))


ARCHITECTURES = {"small-cnn": SmallCnn, "resnet18": ResNet18, "airbench": AirbenchNet, "resnet9": ResNet9}


def create(arch, width):
    """An untrained model of `arch` ("small-cnn", "resnet18", "airbench" or "resnet9") with base width `width`."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](width=width)


def load(state_dict_path, metadata_path):
    """The exported standard model in eval mode: architecture and width from the export's metadata.json."""
    with open(metadata_path, encoding="utf-8") as f:
        settings = json.load(f)["settings"]["standardModel"]
    model = create(settings["arch"], settings["width"])
    model.load_state_dict(torch.load(state_dict_path, map_location="cpu"), strict=True)
    return model.eval()


def linear_classifier(state_dict_path):
    """The exported robust linear classifier C as torch.nn.Linear; apply it to x.flatten(1), x in [0, 1]."""
    state = torch.load(state_dict_path, map_location="cpu")
    c = nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
    c.load_state_dict(state, strict=True)
    return c.eval()


if __name__ == "__main__":
    # python3 leakage_models.py ARCH WIDTH STATE_DICT IMAGES OUT: logits of a state_dict on a
    # torch.save'd list of image tensors, saved as a one-element list (used by the parity tests).
    import sys
    arch, width, state_path, images_path, out_path = sys.argv[1:6]
    torch.set_num_threads(1)
    net = create(arch, int(width))
    net.load_state_dict(torch.load(state_path, map_location="cpu"), strict=True)
    with torch.no_grad():
        out = net.eval()(torch.cat(torch.load(images_path, map_location="cpu")))
    torch.save([out.contiguous()], out_path)
