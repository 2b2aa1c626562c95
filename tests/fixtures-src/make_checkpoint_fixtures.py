#!/usr/bin/env python3
"""Writes the fixtures for Leakage.Checkpoints (importing PyTorch CIFAR-10 checkpoints).

Small checkpoints in each supported layout, with random weights (seeded) and reduced widths so the
files stay small, plus PyTorch's own logits on 100 fixed images, so the C# tests need no Python:

  madry_resnet18.pt   MadryLab robustness layout, legacy torch.save (as the 2019 releases):
                      {'model': {module.model.*, module.attacker.model.*, module.normalizer.*,
                      module.attacker.normalize.*}, 'optimizer': ..., 'schedule': None, 'epoch': 7};
                      ResNet-18 (BasicBlock [2,2,2,2]) at wm = 1/8 (widths 8, 16, 32, 64).
  madry_resnet50.pt   the same layout, zip format; ResNet-50 (Bottleneck [3,4,6,3]) at wm = 1/16.
  wrn_16_1.pt         a plain state_dict of a WideResNet-16-1 (TRADES / RobustBench names, with the
                      unused sub_block1), zip format.
  tv_resnet18.pt      a plain torchvision-style state_dict (downsample.0/1, fc) of a CIFAR ResNet-18
                      (3x3 stem, no max-pool), width 8, saved from nn.DataParallel (module. prefix).
  inputs.pt           [uint8 100 x 3 x 32 x 32]: the images (x = u8.float() / 255).
  logits.pt           [logits of each model above on the inputs, in the order of 'models' in
                      expected.json]; computed in eval mode.
  expected.json       per model: file, layout, arch, width, mean, std.
  bad/                hostile or malformed files (see write_bad).

The model definitions (checkpoint_models.py) follow robustness/cifar_models/resnet.py (MadryLab),
torchvision's resnet.py and the TRADES / RobustBench wide_resnet.py: same module names, so the same
state_dict keys and shapes.

Usage: python3 make_checkpoint_fixtures.py [--out DIR]  (needs torch; Debian: apt-get install python3-torch)
Default DIR: tests/Leakage.Tests/Fixtures/checkpoints.
"""
import argparse
import io
import json
import os
import pickle
import zipfile

import torch
import torch.nn as nn

from checkpoint_models import AttackerModel, BasicBlock, Bottleneck, Normalized, ResNet, TvResNet, WideResNet

SEED = 20190806
LEGACY = dict(_use_new_zipfile_serialization=False)
MADRY_MEAN = [0.4914, 0.4822, 0.4465]
MADRY_STD = [0.2023, 0.1994, 0.2010]


def randomize(model, g):
    """Random weights and batch-norm statistics, so eval-mode BN is exercised (not the identity)."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype != torch.float32:
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            elif name.endswith("bn1.weight") or name.endswith("bn2.weight") or name.endswith("bn3.weight") or ".1.weight" in name:
                t.copy_(0.8 + 0.4 * torch.rand(t.shape, generator=g))
            else:
                fan_in = t[0].numel() if t.dim() > 1 else 1
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.num_batches_tracked.fill_(123)


def calibrate(model, linear, x):
    """Scales the last layer so the logits have std 4 on x: random deep nets give logits in the
    thousands, where a 1e-4 tolerance would ask for more than float32 has."""
    with torch.no_grad():
        scale = 4.0 / model.eval()(x).std().item()
        linear.weight.mul_(scale)
        linear.bias.mul_(scale)


def madry(net, mean, std, g, momentum, x):
    """robustness/train.py saves {'model': DataParallel(AttackerModel).state_dict(), 'optimizer', 'schedule', 'epoch'}."""
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    if momentum:  # one step, so the optimizer holds momentum buffers (int-keyed state) as real checkpoints do
        with torch.enable_grad():
            net.train()
            net(torch.rand((2, 3, 32, 32), generator=g)).sum().backward()
            sgd.step()
    randomize(net, g)
    wrapper = AttackerModel(net, torch.tensor(mean), torch.tensor(std))
    calibrate(wrapper, net.linear, x)
    checkpoint = {"model": nn.DataParallel(wrapper).state_dict(), "optimizer": sgd.state_dict(), "schedule": None, "epoch": 7}
    return wrapper.eval(), checkpoint


def write_huge_storage(path):
    """torch's legacy layout (magic, protocol version, sys info, the object, the storage keys, then
    each storage as int64 count + bytes), written by hand so the count can be a lie."""
    import collections
    import struct

    class Storage:  # stands for a storage in the pickle (a persistent id)
        pass

    class Tensor:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, (STORAGE, 0, (4,), (1,), False, collections.OrderedDict()))

    STORAGE = Storage()
    numel = 2 ** 62

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel, None) if obj is STORAGE else None

    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4))):
            pickle.dump(header, f, protocol=2)
        Pickler(f, protocol=2).dump({"conv1.weight": Tensor()})
        pickle.dump(["0"], f, protocol=2)
        f.write(struct.pack("<q", numel))
        f.write(bytes(16))


def write_bad(out, g):
    """Malformed and hostile files, each refused by the importer with one line."""
    bad = os.path.join(out, "bad")
    os.makedirs(bad, exist_ok=True)
    net = TvResNet([2, 2, 2, 2], width=4)
    randomize(net, g)
    state = net.state_dict()

    extra = dict(state)
    extra["layer5.0.conv1.weight"] = torch.zeros(1)
    torch.save(extra, os.path.join(bad, "unknown_keys.pt"))

    shapes = dict(state)
    shapes["layer2.1.bn1.weight"] = torch.ones(7)  # 8 channels expected
    torch.save(shapes, os.path.join(bad, "wrong_shape.pt"))

    missing = {k: v for k, v in state.items() if k != "layer3.0.conv2.weight"}
    torch.save(missing, os.path.join(bad, "missing_key.pt"))

    # A pickle that would run a shell command when unpickled (os.system), in a valid torch.save zip.
    class Exploit:
        def __reduce__(self):
            return (os.system, ("touch /tmp/leakage-checkpoint-pwned",))

    good = io.BytesIO()
    torch.save(state, good)
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(os.path.join(bad, "runs_code.pt"), "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps({"model": Exploit()}, protocol=2)
            zout.writestr(item, data)

    # A storage larger than the file: a legacy file cut short inside its storages.
    path = os.path.join(bad, "storage_past_end.pt")
    torch.save(state, path, **LEGACY)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) - 4096])

    # A forged legacy file whose storage declares 2^62 float32 elements (the byte count overflows int64).
    write_huge_storage(os.path.join(bad, "huge_storage.pt"))

    with open(os.path.join(bad, "not_torch.pt"), "wb") as f:
        f.write(b"this is a text file, not a checkpoint\n")


def write_bench(path):
    """A full-size stand-in for MadryLab's cifar_nat.pt (ResNet-50, wm 1, with SGD momentum), for
    tools/checkpoint-bench.cs; random weights, not committed (about 190 MB)."""
    g = torch.Generator().manual_seed(SEED)
    x = torch.rand((8, 3, 32, 32), generator=g)
    _, ck = madry(ResNet(Bottleneck, [3, 4, 6, 3]), MADRY_MEAN, MADRY_STD, g, momentum=True, x=x)
    torch.save(ck, path, **LEGACY)  # the 2019 releases are legacy files
    import time
    start = time.perf_counter()
    torch.load(path)
    print(f"{path}: {os.path.getsize(path):,} bytes; torch.load {time.perf_counter() - start:.2f} s")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "Leakage.Tests", "Fixtures", "checkpoints"))
    ap.add_argument("--bench", metavar="FILE", help="write only a full-size ResNet-50 robustness checkpoint to FILE")
    parsed = ap.parse_args()
    if parsed.bench:
        write_bench(parsed.bench)
        return
    out = os.path.abspath(parsed.out)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)

    inputs = (torch.rand((100, 3, 32, 32), generator=g) * 256).floor().clamp(0, 255).to(torch.uint8)
    x = inputs.float() / 255
    torch.save([inputs], os.path.join(out, "inputs.pt"))

    models, logits = [], []
    with torch.no_grad():
        r18, ck = madry(ResNet(BasicBlock, [2, 2, 2, 2], wm=1 / 8), MADRY_MEAN, MADRY_STD, g, momentum=False, x=x)
        torch.save(ck, os.path.join(out, "madry_resnet18.pt"), **LEGACY)
        models.append(dict(file="madry_resnet18.pt", layout="robustness", arch="resnet18", width=8, mean=MADRY_MEAN, std=MADRY_STD))
        logits.append(r18(x))

        mean50, std50 = [0.5, 0.45, 0.4], [0.25, 0.2, 0.3]  # other constants: they must come from the file
        r50, ck = madry(ResNet(Bottleneck, [3, 4, 6, 3], wm=1 / 16), mean50, std50, g, momentum=True, x=x)
        torch.save(ck, os.path.join(out, "madry_resnet50.pt"))
        models.append(dict(file="madry_resnet50.pt", layout="robustness", arch="resnet50", width=4, mean=mean50, std=std50))
        logits.append(r50(x))

        tv = TvResNet([2, 2, 2, 2], width=8)
        randomize(tv, g)
        calibrate(Normalized(tv, MADRY_MEAN, MADRY_STD), tv.fc, x)
        torch.save(nn.DataParallel(tv).state_dict(), os.path.join(out, "tv_resnet18.pt"))
        models.append(dict(file="tv_resnet18.pt", layout="state-dict", arch="resnet18", width=8, mean=MADRY_MEAN, std=MADRY_STD))
        logits.append(Normalized(tv.eval(), MADRY_MEAN, MADRY_STD)(x))

        wrn = WideResNet(depth=16, widen_factor=1)
        randomize(wrn, g)
        calibrate(Normalized(wrn, MADRY_MEAN, MADRY_STD), wrn.fc, x)
        torch.save(wrn.state_dict(), os.path.join(out, "wrn_16_1.pt"))
        models.append(dict(file="wrn_16_1.pt", layout="state-dict", arch="wrn-16-1", width=16, mean=MADRY_MEAN, std=MADRY_STD))
        logits.append(Normalized(wrn.eval(), MADRY_MEAN, MADRY_STD)(x))

    torch.save(logits, os.path.join(out, "logits.pt"))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"torch": torch.__version__, "seed": SEED, "models": models}, f, indent=1)
    write_bad(out, g)
    for root, _, files in os.walk(out):
        for name in sorted(files):
            p = os.path.join(root, name)
            print(f"{os.path.relpath(p, out)}: {os.path.getsize(p):,} bytes")


if __name__ == "__main__":
    main()
