"""Lever measurement for issue 27: does an airbench94-class network at 93-94% make the targeted
L2 attack (eps 0.5, step 0.1) succeed the way Ilyas et al.'s ResNet-50 did?

Trains KellerJordan/cifar10-airbench's airbench94 recipe (whitened 2x2 first layer, three
conv-pool-norm-GELU groups 64/256/256, batch norms with frozen scale, Nesterov SGD in decoupled
form, bias learning rate x64, lookahead, alternating flip, translate 2) in float32 on the CPU,
with label smoothing off unless asked (it is known to weaken gradient attacks). At each checkpoint
epoch it records, as one JSON line: test accuracy, accuracy on the attacked (un-augmented)
training images, and targeted success with 10 and 20 steps (the 10-step iterate of a 20-step run
with a fixed step is the 10-step attack) for the D_rand rule (random target != label) and the D_det
rule (label + 1 mod 10), plus seconds per 1,000 images per PGD step.

Reads the library's decoded CIFAR-10 cache (written by any `dotnet run` of the CLI), because
Debian's python3-torch has no torchvision or PIL here. The library's own AirbenchNet is the
model the experiment uses; this script is the PyTorch reference it is checked against.

Usage: /usr/bin/python3 tools/python/airbench_levers.py CACHE.bin OUT.jsonl [--epochs 10]
       [--checkpoints 2,4,6,8,10] [--attack-images 5000] [--label-smoothing 0] [--widths 64,256,256]
"""
import argparse, json, math, os, platform, sys, time
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

MEAN = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)
STD = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1)


def read_cache(path):
    with open(path, "rb") as f:
        magic = f.read(8)
        if magic[:7] != b"LKCIFAR":
            sys.exit(f"{path}: not a Leakage.Notebooks CIFAR-10 cache file")
        n = int.from_bytes(f.read(4), "little")
        header = json.loads(f.read(n))
        ntr, nte = header["trainCount"], header["testCount"]
        buf = np.frombuffer(f.read(), dtype=np.uint8)
    o = 0
    xtr = buf[o:o + ntr * 3072].reshape(ntr, 3, 32, 32); o += ntr * 3072
    ytr = buf[o:o + ntr].astype(np.int64); o += ntr
    xte = buf[o:o + nte * 3072].reshape(nte, 3, 32, 32); o += nte * 3072
    yte = buf[o:o + nte].astype(np.int64)
    f32 = lambda a: torch.from_numpy(a.astype(np.float32) / 255)
    return f32(xtr), torch.from_numpy(ytr), f32(xte), torch.from_numpy(yte)


class BatchNorm(nn.BatchNorm2d):
    def __init__(self, c, momentum=0.6):
        super().__init__(c, eps=1e-12, momentum=1 - momentum)
        self.weight.requires_grad = False


class Conv(nn.Conv2d):
    def __init__(self, cin, cout, k=3, padding="same", bias=False):
        super().__init__(cin, cout, kernel_size=k, padding=padding, bias=bias)

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        torch.nn.init.dirac_(w[:w.size(1)])


class ConvGroup(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1, self.pool, self.norm1 = Conv(cin, cout), nn.MaxPool2d(2), BatchNorm(cout)
        self.conv2, self.norm2, self.activ = Conv(cout, cout), BatchNorm(cout), nn.GELU()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


class Net(nn.Module):
    """Pixels in [0, 1] in; normalisation inside, so the attack works in pixel space."""

    def __init__(self, widths):
        super().__init__()
        self.whiten = Conv(3, 24, 2, padding=0, bias=True)
        self.whiten.weight.requires_grad = False
        self.body = nn.Sequential(nn.GELU(), ConvGroup(24, widths[0]), ConvGroup(widths[0], widths[1]),
                                  ConvGroup(widths[1], widths[2]), nn.MaxPool2d(3), nn.Flatten())
        self.head = nn.Linear(widths[2], 10, bias=False)

    def forward(self, x):
        return self.head(self.body(self.whiten((x - MEAN) / STD))) / 9


def init_whitening(layer, images, eps=5e-4):
    x = (images - MEAN) / STD
    patches = x.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, 3, 2, 2)
    flat = patches.reshape(len(patches), -1)
    flat = flat.double()  # float32 sums over ~5M patches lose the small eigenvalues (negative -> NaN)
    cov = flat.T @ flat / len(flat)
    ev, vec = torch.linalg.eigh(cov, UPLO="U")
    ev, vec = ev.float(), vec.float()
    ev, vec = ev.flip(0).view(-1, 1, 1, 1), vec.T.reshape(12, 3, 2, 2).flip(0)
    scaled = vec / torch.sqrt(ev + eps)
    layer.weight.data[:] = torch.cat((scaled, -scaled))


def batches(padded, labels, epoch, batch_size, gen):
    """Alternating flip (a fixed random half pre-flipped, all flipped every other epoch) and a random
    translate of up to 2 pixels per image from the reflect-padded images (airbench's batch_crop)."""
    n = len(padded)
    shifts = torch.randint(0, 5, (n, 2), generator=gen)
    x = torch.empty(n, 3, 32, 32)
    for sy in range(5):
        for sx in range(5):
            m = (shifts[:, 0] == sy) & (shifts[:, 1] == sx)
            x[m] = padded[m, :, sy:sy + 32, sx:sx + 32]
    if epoch % 2 == 1:
        x = x.flip(-1)
    perm = torch.randperm(n, generator=gen)
    for i in range(n // batch_size):
        idx = perm[i * batch_size:(i + 1) * batch_size]
        yield x[idx].contiguous(memory_format=torch.channels_last), labels[idx]


def evaluate(model, x, y, bs=1000):
    model.eval()
    with torch.no_grad():
        return sum((model(x[i:i + bs].contiguous(memory_format=torch.channels_last)).argmax(1) == y[i:i + bs]).sum().item()
                   for i in range(0, len(x), bs)) / len(x)


def targeted_success(model, x, targets, eps=0.5, step=0.1, steps=20, report=(10, 20), bs=500):
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    hits = {k: 0 for k in report}
    t0 = time.perf_counter()
    for i in range(0, len(x), bs):
        x0 = x[i:i + bs].contiguous(memory_format=torch.channels_last)
        t = targets[i:i + bs]
        xa = x0.clone()
        for s in range(1, steps + 1):
            xa.requires_grad_(True)
            loss = F.cross_entropy(model(xa), t)
            g, = torch.autograd.grad(loss, xa)
            with torch.no_grad():
                g = g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
                xa = xa - step * g
                d = xa - x0
                d = d * (eps / d.flatten(1).norm(dim=1).clamp_min(eps)).view(-1, 1, 1, 1)
                xa = (x0 + d).clamp(0, 1)
            if s in hits:
                with torch.no_grad():
                    hits[s] += (model(xa).argmax(1) == t).sum().item()
    seconds = time.perf_counter() - t0
    return {k: v / len(x) for k, v in hits.items()}, seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache"); ap.add_argument("out")
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--checkpoints", default="2,4,6,8,10")
    ap.add_argument("--attack-images", type=int, default=5000)
    ap.add_argument("--checkpoint-attack-images", type=int, default=1000)
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--widths", default="64,256,256")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-count", type=int, default=0, help="train on the first N images only (smoke tests)")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(os.cpu_count() or 2)
    xtr, ytr, xte, yte = read_cache(a.cache)
    widths = [int(w) for w in a.widths.split(",")]
    checkpoints = sorted(int(c) for c in a.checkpoints.split(","))
    gen = torch.Generator().manual_seed(a.seed)
    if a.train_count:
        keep = torch.randperm(len(xtr), generator=gen)[:a.train_count]
        xtr, ytr = xtr[keep], ytr[keep]
    # The attacked images: a fixed 5,000 training images and their two target rules.
    pick = torch.randperm(len(xtr), generator=gen)[:a.attack_images]
    xa, ya = xtr[pick], ytr[pick]
    rand_t = (ya + torch.randint(1, 10, ya.shape, generator=gen)) % 10
    det_t = (ya + 1) % 10

    preflip = torch.rand(len(xtr), generator=gen) < 0.5
    padded = F.pad(torch.where(preflip.view(-1, 1, 1, 1), xtr.flip(-1), xtr), (2,) * 4, mode="reflect")
    model = Net(widths).to(memory_format=torch.channels_last)
    init_whitening(model.whiten, xtr[torch.randperm(len(xtr), generator=gen)[:5000]])  # the folder is sorted by class
    bs = min(1024, len(xtr) // 4)
    momentum, lr_k, wd_k, bias_scaler = 0.85, 11.5, 0.0153, 64.0
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr, wd = lr_k / kilostep, wd_k * bs / kilostep
    norm_b = [p for k, p in model.named_parameters() if "norm" in k and p.requires_grad]
    other = [p for k, p in model.named_parameters() if "norm" not in k and p.requires_grad]
    opt = torch.optim.SGD([dict(params=norm_b, lr=lr * bias_scaler, weight_decay=wd / (lr * bias_scaler)),
                           dict(params=other, lr=lr, weight_decay=wd / lr)], momentum=momentum, nesterov=True)
    steps_per_epoch = len(xtr) // bs
    total = math.ceil(steps_per_epoch * a.epochs)
    warm = int(total * 0.23)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (0.2 + 0.8 * s / warm) if s < warm else (1 - (s - warm) / (total - warm) * 0.93))
    alpha = 0.95 ** 5 * (torch.arange(total + 1) / total) ** 3
    ema = {k: v.clone() for k, v in model.state_dict().items()}
    loss_fn = nn.CrossEntropyLoss(label_smoothing=a.label_smoothing, reduction="none")
    info = {}
    for line in open("/proc/cpuinfo"):
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    # Cloud CPUs often report only "AMD EPYC": family and model name the core generation.
    cpu = f'{info.get("model name", platform.processor())} ({info.get("vendor_id", "?")} family {info.get("cpu family", "?")} model {info.get("model", "?")})'

    step, train_seconds = 0, 0.0
    with open(a.out, "a") as out:
        for epoch in range(math.ceil(a.epochs)):
            model.whiten.bias.requires_grad = epoch < 3
            model.train()
            t0 = time.perf_counter()
            for xb, yb in batches(padded, ytr, epoch, bs, gen):
                loss = loss_fn(model(xb), yb).sum()
                opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
                step += 1
                if step % 5 == 0 or step >= total:
                    decay = 1.0 if step >= total else alpha[step].item()
                    with torch.no_grad():
                        for (k, e), v in zip(ema.items(), model.state_dict().values()):
                            if v.dtype == torch.float32:
                                e.lerp_(v, 1 - decay); v.copy_(e)
                if step >= total:
                    break
            train_seconds += time.perf_counter() - t0
            print(f"epoch {epoch + 1}: {train_seconds / 60:.1f} min, loss {loss.item() / bs:.3f}", flush=True)
            if epoch + 1 in checkpoints:
                n = a.attack_images if epoch + 1 == checkpoints[-1] else a.checkpoint_attack_images
                row = dict(tool="airbench_levers.py", net=f"airbench {a.widths}", labelSmoothing=a.label_smoothing,
                           epochs=a.epochs, checkpointEpoch=epoch + 1, trainMinutes=round(train_seconds / 60, 2),
                           testAccuracy=evaluate(model, xte, yte), attackedTrainAccuracy=evaluate(model, xa[:n], ya[:n]),
                           attackImages=n, eps=0.5, step=0.1, torch=torch.__version__, cpu=cpu, threads=torch.get_num_threads())
                for rule, t in (("rand", rand_t), ("det", det_t)):
                    hits, sec = targeted_success(model, xa[:n], t[:n])
                    row[f"success10_{rule}"], row[f"success20_{rule}"] = hits[10], hits[20]
                    row[f"attackSecondsPer1000PerStep_{rule}"] = round(sec / (n / 1000) / 20, 3)
                for p in model.parameters():
                    p.requires_grad_(False)
                for k, p in model.named_parameters():
                    p.requires_grad_(not (k == "whiten.weight" or k.endswith("norm1.weight") or k.endswith("norm2.weight")))
                model.whiten.bias.requires_grad = epoch < 3
                out.write(json.dumps(row) + "\n"); out.flush()
                print(json.dumps(row), flush=True)
    torch.save(twin_state(model), a.out + ".pt")


def twin_state(model):
    """The state_dict in leakage_models.AirbenchNet's names (the library's AirbenchNet), with this
    script's normalisation constants as the normalize buffers, so `standard.checkpoint` reads it."""
    names = {"body.1.": "group1.", "body.2.": "group2.", "body.3.": "group3."}
    out = {"normalize.mean": MEAN.clone(), "normalize.std": STD.clone()}
    for k, v in model.state_dict().items():
        for old, new in names.items():
            if k.startswith(old):
                k = new + k[len(old):]
        out[k] = v.clone()
    return out


if __name__ == "__main__":
    main()
