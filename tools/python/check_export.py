#!/usr/bin/env python3
"""Checks a `leakage export` folder with PyTorch alone and prints what it holds.

    python3 tools/python/check_export.py EXPORT [--images IMAGES --logits OUT]

Loads every file listed in EXPORT/metadata.json with torch.load (checking its SHA-256 first), builds
the standard model from tools/python/leakage_models.py with strict state_dict loading, checks the
data sets' dtypes, shapes, pixel range and labels, and reports how often the standard model (the
attack success of results.json) and C predict the target labels. With --images (a torch.save'd
list of float N x 3 x 32 x 32 tensors) it writes the standard model's logits to --logits as a
one-element list, for comparing with TorchSharp. Exits non-zero with one line on any problem.
"""

import argparse
import hashlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import leakage_models  # noqa: E402


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export")
    parser.add_argument("--images")
    parser.add_argument("--logits")
    args = parser.parse_args()
    torch.set_num_threads(1)

    meta_path = os.path.join(args.export, "metadata.json")
    if not os.path.exists(meta_path):
        fail(f"{meta_path}: not found (is {args.export} a `leakage export --to` folder?)")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("kind") != "pytorch-export":
        fail(f"{meta_path}: kind {meta.get('kind')!r}, expected 'pytorch-export'")

    loaded = {}
    for name, info in meta["files"].items():
        path = os.path.join(args.export, name)
        if sha256(path) != info["sha256"].lower():
            fail(f"{path}: fails its checksum")
        loaded[name] = torch.load(path, map_location="cpu")
        print(f"torch.load {name}: ok")

    model = leakage_models.load(os.path.join(args.export, "standard_model.pt"), meta_path)
    c = leakage_models.linear_classifier(os.path.join(args.export, "robust_linear.pt"))

    # D_rand and D_det always; D_other when the run built it (its leakage controls).
    sets = ["drand_CIFAR", "ddet_CIFAR"] + [k for k in ("dother_CIFAR",) if f"release_datasets/{k}/CIFAR_ims" in loaded]
    for kind in sets:
        ims = torch.cat(loaded[f"release_datasets/{kind}/CIFAR_ims"])
        lab = torch.cat(loaded[f"release_datasets/{kind}/CIFAR_lab"])
        if ims.dtype != torch.float32 or ims.dim() != 4 or tuple(ims.shape[1:]) != (3, 32, 32):
            fail(f"{kind}/CIFAR_ims: {ims.dtype} {tuple(ims.shape)}, expected float32 N x 3 x 32 x 32")
        if lab.dtype != torch.int64 or lab.shape != (ims.shape[0],):
            fail(f"{kind}/CIFAR_lab: {lab.dtype} {tuple(lab.shape)}, expected int64 of length {ims.shape[0]}")
        if ims.min() < 0 or ims.max() > 1:
            fail(f"{kind}/CIFAR_ims: pixels in [{ims.min():.4f}, {ims.max():.4f}], expected [0, 1]")
        if lab.min() < 0 or lab.max() > 9:
            fail(f"{kind}/CIFAR_lab: labels in [{lab.min()}, {lab.max()}], expected 0..9")
        with torch.no_grad():
            pred = torch.cat([model(ims[i:i + 500]).argmax(1) for i in range(0, ims.shape[0], 500)])
            pred_c = c(ims.flatten(1)).argmax(1)
        agree = (pred == lab).double().mean().item()
        agree_c = (pred_c == lab).double().mean().item()
        # For the standard model this is the attack success that results.json records (adversarial.*.attackSuccess).
        print(f"{kind}: {ims.shape[0]} images; the standard model predicts the target label on {100 * agree:.3f}%, "
              f"C on {100 * agree_c:.3f}%")

    test = "release_datasets/test_CIFAR"
    if f"{test}/CIFAR_ims" in loaded:
        ims = torch.cat(loaded[f"{test}/CIFAR_ims"])
        lab = torch.cat(loaded[f"{test}/CIFAR_lab"])
        with torch.no_grad():
            pred = torch.cat([model(ims[i:i + 500]).argmax(1) for i in range(0, ims.shape[0], 500)])
            pred_c = c(ims.flatten(1)).argmax(1)
        # The standard model's accuracy here is the one results.json records (standardModel.testAccuracy).
        print(f"test_CIFAR: {ims.shape[0]} clean test images; accuracy of the standard model {100 * (pred == lab).double().mean().item():.3f}%, "
              f"of C {100 * (pred_c == lab).double().mean().item():.3f}%")

    if args.images:
        if not args.logits:
            fail("--images needs --logits (where to write the logits)")
        images = torch.cat(torch.load(args.images, map_location="cpu"))
        with torch.no_grad():
            logits = model(images)
        torch.save([logits.contiguous()], args.logits)
        print(f"logits of {images.shape[0]} images written to {args.logits}")


if __name__ == "__main__":
    main()
