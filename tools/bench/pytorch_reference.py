#!/usr/bin/env python3
"""PyTorch reference for `leakage bench`: the same network, PGD step and training step in PyTorch.

Replicates, operation for operation, what Leakage.Notebooks runs in TorchSharp:

* The network (--arch, --width), built by tools/python/leakage_models.py, the twins of lib/Leakage/Models:
  `small-cnn` (SmallCnn.cs): clamp to [0, 1] and per-channel normalisation inside the model; four
  3x3 convolutions without bias (widths w, 2w, 4w, 8w); a 2x2 max-pool straight after each of the
  first three convolutions, *before* batch norm and ReLU; batch norm, ReLU; a global max-pool; a
  linear layer to 10 logits. `airbench` (AirbenchNet.cs, airbench94): a 2x2 whitening convolution,
  three conv-pool-norm-GELU groups (w, 4w, 4w), a 3x3 max-pool, a linear head; with what the library
  adds to the module (prepare_airbench): the whitening weights and batch-norm scales frozen (so autograd
  skips their gradients, as in the library), Dirac-initialised convolutions, and for training the
  whitening set from the measurement's training images (init_whitening), as the trainer does before
  its first step.
* Targeted L2 PGD (lib/Leakage/Attacks/L2Pgd.cs): model in eval mode, parameters frozen, per step
  the input gradient of the summed per-sample cross-entropy, normalised per sample (+1e-10), a step
  towards the target, per-sample renorm projection onto the eps-ball, clamp to [0, 1]; best iterate
  per sample kept; one final no-grad forward (twice with keep-best).
* One training step (lib/Leakage/Training/Trainer.cs): the scheduled learning rate set on each
  parameter group, index_select of a shuffled batch, random reflect-padded crop (--crop-padding) and
  horizontal flip by gather/where (--augment cropaltflip: airbench's alternating flip, the flipped half
  taken from a mask drawn once for the run, as the trainer does), forward, cross-entropy (with
  --label-smoothing), loss.item(), backward, SGD step (Nesterov momentum, weight decay on conv/linear
  weights only; with --norm-lr-scale airbench's groups: batch-norm parameters at that multiple of the
  learning rate and the weight decay divided by it, weight decay on every other parameter), the
  lookahead every --lookahead steps (an average of the model's floating-point state, moved and copied
  back), correct count. Each training measurement starts from a fresh model, as the library's does.

PyTorch's default NCHW layout is measured as the network is usually written ("pgd", "training");
with --layout both (the default) it is measured again with the model and inputs in channels-last
memory format ("channelsLast"), the layout Leakage's models use on the CPU.

It measures, with warm-up excluded and the same estimator as the C# side (work per unit divided by
the median unit time; a unit is one PGD batch or one training step):
  matmul GFLOP/s (float32, best of several), PGD image-steps/s, training images/s,
and prints one JSON object on stdout; with --serve it measures rounds on request (see serve()). Run with the interpreter that has torch, e.g.
  python3 tools/bench/pytorch_reference.py --threads 2
  python3 tools/bench/pytorch_reference.py --threads 2 --arch airbench --width 64 --train-batch 1024 \
      --augment cropaltflip --crop-padding 2 --lr 1.5 --momentum 0.85 --weight-decay 1.33e-3 \
      --schedule airbench --norm-lr-scale 64 --lookahead 5
`leakage bench --pytorch` runs it with the settings of its own measurements.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The networks are tools/python/leakage_models.py's, the twins of lib/Leakage/Models that `export`
# writes state_dicts for. The bench writes that module beside this script; run from the
# repository, the script finds it in tools/python.
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import leakage_models  # noqa: E402

# The networks whose training step this script replicates (leakage_models knows others, e.g. resnet18,
# whose recipe here has not been checked against the library's).
ARCHITECTURES = ("small-cnn", "airbench")

# lib/Leakage/Models/AirbenchNet.cs: WhiteningImages, WhitenEps.
WHITENING_IMAGES = 5000
WHITEN_EPS = 5e-4


def prepare_airbench(model):
    """What AirbenchNet.cs and ModelFactory.Create do beyond the module's layers: the whitening weights
    and the batch-norm scales do not train (requires_grad false, so autograd computes no gradient for
    them), each 3x3 convolution starts as the identity on its first channels (Dirac), the whitening bias
    at zero. The whitening bias trains (the library trains it in the first epochs, the ones a benchmark runs)."""
    with torch.no_grad():
        model.whiten.bias.zero_()
        for group in (model.group1, model.group2, model.group3):
            for conv in (group.conv1, group.conv2):
                n = min(conv.weight.shape[0], conv.weight.shape[1])
                nn.init.dirac_(conv.weight[:n])
    model.whiten.weight.requires_grad_(False)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.requires_grad_(False)
    return model


def init_whitening(model, images, generator):
    """AirbenchNet.InitializeFromData: the whitening convolution from the 2x2 patch covariance of up to
    5,000 of `images` (eigenvectors over sqrt(eigenvalue + eps), and their negatives), in float64."""
    with torch.no_grad():
        n = images.shape[0]
        pick = torch.randperm(n, generator=generator)[:min(n, WHITENING_IMAGES)]
        x = model.normalize(images.index_select(0, pick))
        c = x.shape[1]
        patches = x.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, c * 4).double()
        covariance = patches.t().matmul(patches) / patches.shape[0]
        values, vectors = torch.linalg.eigh(covariance)
        values = values.flip(0)
        vectors = vectors.t().flip(0).reshape(-1, c, 2, 2)
        scaled = vectors / (values + WHITEN_EPS).sqrt().view(-1, 1, 1, 1)
        model.whiten.weight.copy_(torch.cat([scaled, -scaled]).to(model.whiten.weight.dtype))


def build_model(args, channels_last=False):
    """A fresh model of --arch and --width (weights seeded by --seed), in channels-last when asked."""
    torch.manual_seed(args.seed)
    model = leakage_models.create(args.arch, args.width)
    if args.arch == "airbench":
        prepare_airbench(model)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def perturb(model, images, labels, eps, step_size, steps, targeted=True, keep_best=True):
    """L2Pgd.Perturb: returns (adversarial, per-sample loss, success)."""
    model.eval()
    params = list(model.parameters())
    required = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        x0 = images.detach()
        sign = -1.0 if targeted else 1.0

        def project(candidate):
            return (x0 + (candidate - x0).renorm(2, 0, eps)).clamp(0, 1)

        def better(best_x, best_loss, current, loss):
            if best_x is None:
                return current.clone(), loss.clone()
            b = loss < best_loss if targeted else loss > best_loss
            return torch.where(b.view(-1, 1, 1, 1), current, best_x), torch.where(b, loss, best_loss)

        x = x0.clone()
        best_x = best_loss = None
        for _ in range(steps):
            inp = x.detach().requires_grad_(True)
            loss = F.cross_entropy(model(inp), labels, reduction="none")
            (grad,) = torch.autograd.grad([loss.sum()], [inp])
            if keep_best:
                best_x, best_loss = better(best_x, best_loss, x, loss.detach())
            g = grad * sign
            g_norm = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            x = project(x + step_size * g / (g_norm + 1e-10))
        with torch.no_grad():
            logits = model(x)
            loss = F.cross_entropy(logits, labels, reduction="none")
            if keep_best:
                x, loss = better(best_x, best_loss, x, loss)
                logits = model(x)
            predicted = logits.argmax(1)
            ok = predicted.eq(labels) if targeted else predicted.ne(labels)
        return x.detach(), loss, ok
    finally:
        for p, r in zip(params, required):
            p.requires_grad_(r)


def augment(images, padding, reflect, generator, flipped=None):
    """Augment.Apply with CropFlip, or CropAlternatingFlip when `flipped` (N booleans) says which images to flip."""
    n, c, h, w = images.shape
    x = images
    if padding > 0:
        padded = F.pad(x, (padding, padding, padding, padding), mode="reflect" if reflect else "constant")
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        rows = (dy.unsqueeze(1) + torch.arange(h)).view(n, 1, h, 1).expand(n, c, h, w + 2 * padding)
        cols = (dx.unsqueeze(1) + torch.arange(w)).view(n, 1, 1, w).expand(n, c, h, w)
        x = padded.gather(2, rows).gather(3, cols)
    flip = (flipped if flipped is not None else torch.rand((n,), generator=generator) < 0.5).view(n, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


def make_optimizer(model, lr, momentum, weight_decay, nesterov, norm_lr_scale=0.0):
    """Trainer.CreateOptimizerGroups: returns the SGD optimiser and each group's multiple of the scheduled
    learning rate. Parameters that do not train are in no group."""
    named = list(model.named_parameters())
    if norm_lr_scale > 0:
        norm_names = {f"{m}.{p}" for m, module in model.named_modules() if isinstance(module, nn.BatchNorm2d)
                      for p in ("weight", "bias")}
        groups = [([p for n, p in named if n in norm_names], weight_decay / norm_lr_scale, norm_lr_scale),
                  ([p for n, p in named if n not in norm_names], weight_decay, 1.0)]
    else:
        groups = [([p for _, p in named if p.dim() >= 2], weight_decay, 1.0),
                  ([p for _, p in named if p.dim() < 2], 0.0, 1.0)]
    groups = [([p for p in params if p.requires_grad], wd, scale) for params, wd, scale in groups]
    groups = [g for g in groups if g[0]]
    optimizer = torch.optim.SGD([{"params": params, "weight_decay": wd, "lr": lr * scale} for params, wd, scale in groups],
                                lr=lr, momentum=momentum, dampening=0, nesterov=nesterov)
    return optimizer, [scale for _, _, scale in groups]


def learning_rate(args, step, total):
    """TrainingOptions.LearningRateAt: the schedule's rate at 0-based iteration `step` of `total`."""
    if args.schedule == "constant":
        return args.lr
    if args.schedule == "airbench":
        rise = int(total * 0.23)
        if step < rise:
            return args.lr * (0.2 + 0.8 * step / rise)
        return args.lr * (1 - 0.93 * (step - rise) / (total - rise))
    warm = int(round(args.warmup_fraction * total))
    if step < warm:
        return args.lr * (step + 1) / warm
    p = (step - warm) / (total - warm)
    if args.schedule == "onecycle":
        return args.lr * (1 - p)
    return args.lr * 0.5 * (1 + math.cos(math.pi * p))


class Lookahead:
    """lib/Leakage/Training/Lookahead.cs: an average of every floating-point parameter and buffer that the
    model moves to every few iterations, and at the last one."""

    def __init__(self, model):
        with torch.no_grad():
            self.pairs = [(t, t.detach().clone()) for t in model.state_dict().values() if t.is_floating_point()]

    def step(self, t, total, every):
        if t % every != 0 and t != total:
            return
        decay = 1.0 if t >= total else 0.95 ** 5 * (t / total) ** 3
        with torch.no_grad():
            for live, average in self.pairs:
                average.lerp_(live, 1 - decay)
                live.copy_(average)


def summarise(unit_seconds, work_per_unit):
    """Throughput by the median unit time (robust to a busy neighbour), and by the mean."""
    return {
        "median": work_per_unit / statistics.median(unit_seconds),
        "mean": work_per_unit * len(unit_seconds) / sum(unit_seconds),
        "unitSeconds": unit_seconds,
    }


def bench_matmul(size, repeats, warmup=2):
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    for _ in range(warmup):
        torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t)
    return {"size": size, "gflops": 2.0 * size ** 3 / min(times) / 1e9, "seconds": times}


def to_layout(x, channels_last):
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def bench_pgd(args, generator, channels_last=False):
    model = build_model(args, channels_last)
    n = args.pgd_batch
    x = to_layout(torch.rand((n, 3, 32, 32), generator=generator), channels_last)
    y = torch.randint(0, 10, (n,), generator=generator)
    keep_best = not args.no_keep_best
    perturb(model, x, y, args.eps, args.step_size, min(2, args.pgd_steps), keep_best=keep_best)  # warm-up
    times = []
    for _ in range(args.pgd_repeats):
        t = time.perf_counter()
        perturb(model, x, y, args.eps, args.step_size, args.pgd_steps, keep_best=keep_best)
        times.append(time.perf_counter() - t)
    result = summarise(times, n * args.pgd_steps)
    return {"batchSize": n, "steps": args.pgd_steps, "repeats": args.pgd_repeats,
            "imageStepsPerSecond": result["median"], "imageStepsPerSecondMean": result["mean"],
            "unitSeconds": result["unitSeconds"]}


def training_steps(args, generator, channels_last=False):
    """The profile's training steps on a fresh model, as Trainer.Train runs them: per step seven time
    stamps around data, augmentation, forward (model, loss, read back), backward, optimizer (SGD step,
    lookahead, zero_grad) and metrics. Returns the timed steps' stamps (after --train-warmup steps)."""
    batch = args.train_batch
    steps = args.train_warmup + args.train_steps
    images = torch.rand((batch * steps, 3, 32, 32), generator=generator)
    labels = torch.randint(0, 10, (batch * steps,), generator=generator)
    model = build_model(args, channels_last)
    if args.arch == "airbench":
        init_whitening(model, images, generator)
    model.train()
    optimizer, scales = make_optimizer(model, args.lr, args.momentum, args.weight_decay, not args.no_nesterov, args.norm_lr_scale)
    lookahead = Lookahead(model) if args.lookahead > 0 else None
    order = torch.randperm(images.shape[0], generator=generator)
    # The alternating flip's half of the first epoch (the trainer draws it once per run, for every image).
    flipped_all = torch.rand((images.shape[0],), generator=generator) < 0.5 if args.augment == "cropaltflip" else None
    padding = args.crop_padding if args.augment in ("cropflip", "cropaltflip") else 0
    timed = []
    for step in range(steps):
        stamps = [time.perf_counter()]
        lr = learning_rate(args, step, steps)
        for group, scale in zip(optimizer.param_groups, scales):
            group["lr"] = lr * scale
        index = order.narrow(0, step * batch, batch)
        x = images.index_select(0, index)
        y = labels.index_select(0, index)
        stamps.append(time.perf_counter())
        if args.augment != "none":
            flipped = flipped_all.index_select(0, index) if flipped_all is not None else None
            x = augment(x, padding, args.pad_mode == "reflect", generator, flipped)
        x = to_layout(x, channels_last)
        stamps.append(time.perf_counter())
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
        loss_value = loss.item()
        if loss_value != loss_value:
            raise RuntimeError("training diverged")
        stamps.append(time.perf_counter())
        loss.backward()
        stamps.append(time.perf_counter())
        optimizer.step()
        if lookahead is not None:
            lookahead.step(step + 1, steps, args.lookahead)
        optimizer.zero_grad()
        stamps.append(time.perf_counter())
        logits.argmax(1).eq(y).sum().item()
        stamps.append(time.perf_counter())
        if step >= args.train_warmup:
            timed.append(stamps)
    return timed


def bench_training(args, generator, channels_last=False):
    batch = args.train_batch
    times = [stamps[-1] - stamps[0] for stamps in training_steps(args, generator, channels_last)]
    result = summarise(times, batch)
    return {"batchSize": batch, "steps": args.train_steps, "warmupSteps": args.train_warmup, "augmentation": args.augment,
            "imagesPerSecond": result["median"], "imagesPerSecondMean": result["mean"],
            "unitSeconds": result["unitSeconds"]}


def _median(values):
    return statistics.median(values) if values else 0.0


def phases_training(args, generator, channels_last=False):
    """One training step split into phases, as lib/Leakage.Bench/PhaseSplit.cs splits the trainer's step.

    Seconds per step (median over the timed steps) for: data (index_select of the batch), augmentation,
    forward (model and loss, read back), backward, optimizer (SGD step, lookahead, zero_grad), metrics (correct count).
    """
    names = ["data", "augmentation", "forward", "backward", "optimizer", "metrics"]
    timed = training_steps(args, generator, channels_last)
    return {k: _median([stamps[i + 1] - stamps[i] for stamps in timed]) for i, k in enumerate(names)}


def phases_pgd(args, generator, channels_last=False):
    """One PGD step split into forward (model and per-sample loss), backward (input gradient) and
    update (keep-best bookkeeping, normalised step, projection, clamp); seconds per step, median over
    the steps of one attacked batch (after an untimed 2-step batch)."""
    model = build_model(args, channels_last)
    n = args.pgd_batch
    x0 = to_layout(torch.rand((n, 3, 32, 32), generator=generator), channels_last)
    labels = torch.randint(0, 10, (n,), generator=generator)
    eps, step_size = args.eps, args.step_size
    model.eval()
    params = list(model.parameters())
    required = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    times = {"forward": [], "backward": [], "update": []}
    try:
        for warm, steps in ((True, min(2, args.pgd_steps)), (False, args.pgd_steps)):
            x = x0.clone()
            best_x = best_loss = None
            for _ in range(steps):
                t0 = time.perf_counter()
                inp = x.detach().requires_grad_(True)
                loss = F.cross_entropy(model(inp), labels, reduction="none")
                t1 = time.perf_counter()
                (grad,) = torch.autograd.grad([loss.sum()], [inp])
                t2 = time.perf_counter()
                loss = loss.detach()
                if best_x is None:
                    best_x, best_loss = x.clone(), loss.clone()
                else:
                    b = loss < best_loss
                    best_x, best_loss = torch.where(b.view(-1, 1, 1, 1), x, best_x), torch.where(b, loss, best_loss)
                g = -grad
                g_norm = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
                x = (x0 + (x + step_size * g / (g_norm + 1e-10) - x0).renorm(2, 0, eps)).clamp(0, 1)
                t3 = time.perf_counter()
                if not warm:
                    times["forward"].append(t1 - t0)
                    times["backward"].append(t2 - t1)
                    times["update"].append(t3 - t2)
    finally:
        for p, r in zip(params, required):
            p.requires_grad_(r)
    return {k: _median(v) for k, v in times.items()}


def blas_info():
    """BLAS_INFO from torch's build configuration (e.g. mkl, open, generic)."""
    for part in torch.__config__.show().replace("\n", ",").split(","):
        part = part.strip()
        if part.startswith("BLAS_INFO="):
            return part.split("=", 1)[1]
    return ""


def blas_library():
    """The libblas this process loaded, as its folder and file name (Debian: "blas/libblas.so.3" is the
    reference netlib BLAS, about 5 GFLOP/s, which python3-torch gets unless OpenBLAS is installed;
    "openblas-pthread/libblas.so.3" is OpenBLAS). Empty where /proc/self/maps is not readable."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1]}
    except OSError:
        return ""
    names = sorted(os.path.join(os.path.basename(os.path.dirname(p)), os.path.basename(p)) for p in paths if p.startswith("/"))
    return ", ".join(names)


def verify(path):
    """Replication check: loads TorchSharp weights and inputs from a JSON file, prints logits and PGD output.

    File: {"arch" (default small-cnn), "width", "state": {name: {"shape", "data"}}, "images": {"shape", "data"},
    "targets": [...], "eps", "stepSize", "steps", "keepBest"}, with TorchSharp's parameter names, which the
    Python twin shares. Used by the C# test that checks this script computes what the library computes.
    """
    with open(path) as f:
        spec = json.load(f)

    def tensor(entry):
        return torch.tensor(entry["data"], dtype=torch.float32).view(entry["shape"])

    model = leakage_models.create(spec.get("arch", "small-cnn"), spec["width"])
    state = {name: tensor(entry) for name, entry in spec["state"].items()}
    state = {k: (v.long().view(()) if k.endswith("num_batches_tracked") else v) for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    model.eval()
    images = tensor(spec["images"])
    targets = torch.tensor(spec["targets"], dtype=torch.int64)
    with torch.no_grad():
        logits = model(images)
    adversarial, loss, ok = perturb(model, images, targets, spec["eps"], spec["stepSize"], spec["steps"],
                                    keep_best=spec.get("keepBest", True))
    json.dump({"logits": logits.flatten().tolist(), "adversarial": adversarial.flatten().tolist(),
               "loss": loss.tolist(), "success": ok.tolist()}, sys.stdout)
    sys.stdout.write("\n")


def header(args):
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "ompWaitPolicy": os.environ.get("OMP_WAIT_POLICY", ""),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "mkl": torch.backends.mkl.is_available(),
        "blas": blas_info(),
        "blasLibrary": blas_library(),
        "arch": args.arch,
        "width": args.width,
        "matmul": bench_matmul(args.matmul_size, args.matmul_repeats),
    }


def serve(args, generator):
    """Rounds on request, for the alternating protocol of `leakage bench --pytorch`.

    Prints the header (versions, threads, matmul) as one JSON line, then answers each line of stdin:
    "round" measures PGD and training in both layouts (keys as in the one-shot output), "pgd" and
    "training" one of them in both layouts, "phases" the
    per-phase split of one training step and one PGD step in both layouts, "quit" exits. One JSON line
    per answer. The process (its allocator and thread pool) persists between rounds, as the C# side
    does, so neither pays a start-up cost the other does not; each measurement builds a fresh model, as
    the library's measurements do.
    """
    def emit(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    emit(header(args))
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            return
        started = time.perf_counter()
        if command == "round":
            out = {"pgd": bench_pgd(args, generator), "training": bench_training(args, generator),
                   "channelsLast": {"pgd": bench_pgd(args, generator, channels_last=True),
                                    "training": bench_training(args, generator, channels_last=True)}}
        elif command == "pgd":
            out = {"pgd": bench_pgd(args, generator),
                   "channelsLast": {"pgd": bench_pgd(args, generator, channels_last=True)}}
        elif command == "training":
            out = {"training": bench_training(args, generator),
                   "channelsLast": {"training": bench_training(args, generator, channels_last=True)}}
        elif command == "phases":
            out = {"nchw": {"training": phases_training(args, generator),
                            "pgd": phases_pgd(args, generator)},
                   "channelsLast": {"training": phases_training(args, generator, channels_last=True),
                                    "pgd": phases_pgd(args, generator, channels_last=True)}}
        else:
            out = {"error": "unknown command " + repr(command)}
        out["seconds"] = time.perf_counter() - started
        emit(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--verify", metavar="FILE", help="replication check (see verify()); measures nothing")
    p.add_argument("--arch", choices=ARCHITECTURES, default="small-cnn", help="the network (leakage_models.create)")
    p.add_argument("--width", type=int, default=32, help="the network's base width (small-cnn: cpu profile 24; airbench: 64)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    p.add_argument("--matmul-size", type=int, default=2048)
    p.add_argument("--matmul-repeats", type=int, default=5)
    p.add_argument("--pgd-batch", type=int, default=500)
    p.add_argument("--pgd-steps", type=int, default=10)
    p.add_argument("--pgd-repeats", type=int, default=3)
    p.add_argument("--eps", type=float, default=0.5)
    p.add_argument("--step-size", type=float, default=0.1)
    p.add_argument("--no-keep-best", action="store_true", help="return the last iterate, not the best one")
    p.add_argument("--train-batch", type=int, default=256)
    p.add_argument("--train-warmup", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=12)
    p.add_argument("--augment", choices=["none", "flip", "cropflip", "cropaltflip"], default="cropflip",
                   help="cropaltflip: crop and airbench's alternating flip (Augmentation.CropAlternatingFlip)")
    p.add_argument("--crop-padding", type=int, default=4)
    p.add_argument("--pad-mode", choices=["reflect", "zero"], default="reflect")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--no-nesterov", action="store_true")
    p.add_argument("--schedule", choices=["constant", "onecycle", "cosine", "airbench"], default="onecycle",
                   help="learning-rate schedule over the measured steps (LrSchedule)")
    p.add_argument("--warmup-fraction", type=float, default=0.2, help="warm-up of the onecycle and cosine schedules")
    p.add_argument("--norm-lr-scale", type=float, default=0.0,
                   help="batch-norm parameters' multiple of the learning rate (airbench: 64; 0: none)")
    p.add_argument("--lookahead", type=int, default=0, help="lookahead every this many steps (airbench: 5; 0: none)")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--serve", action="store_true",
                   help="print the header, then measure a round per 'round' line on stdin (see serve())")
    p.add_argument("--layout", choices=["nchw", "channels-last", "both"], default="both",
                   help="activation layout: PyTorch's default NCHW (the 'pgd' and 'training' results), "
                        "channels-last (model and inputs in torch.channels_last: 'channelsLast'), or both")
    args = p.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.verify:
        verify(args.verify)
        return
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    if args.serve:
        serve(args, generator)
        return
    started = time.perf_counter()
    out = header(args)
    if args.layout in ("nchw", "both"):
        out["pgd"] = bench_pgd(args, generator)
        out["training"] = bench_training(args, generator)
    if args.layout in ("channels-last", "both"):
        out["channelsLast"] = {
            "pgd": bench_pgd(args, generator, channels_last=True),
            "training": bench_training(args, generator, channels_last=True),
        }
    out["seconds"] = time.perf_counter() - started
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
