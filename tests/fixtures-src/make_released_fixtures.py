#!/usr/bin/env python3
"""Writes the fixtures for Leakage.Released (reader of Ilyas et al.'s released CIFAR data sets).

The authors' release_datasets/<name>/{CIFAR_ims, CIFAR_lab} files are torch.save'd Python lists of
tensors: float32 image chunks N_k x 3 x 32 x 32 in [0, 1] and int64 label chunks N_k. They date from
2019 (legacy, non-zip serialisation); re-saved copies use the zip format (default since torch 1.6).
This script writes tiny look-alikes in BOTH formats with real PyTorch, plus the exact values they hold
as JSON, so the C# tests need no Python.

Usage: python3 make_released_fixtures.py [--out DIR]   (needs torch; Debian: apt-get install python3-torch)
Default DIR: tests/Leakage.Tests/Fixtures/released next to this script's tests/ folder.

Everything is seeded: the values are identical on every run. The legacy files' bytes are not (torch
names legacy storages after memory addresses), which is why the tests compare values, not bytes.

Two fixtures are *constructed* from torch.save output rather than written by it as-is, because a
little-endian machine cannot produce them: the big-endian variants of a legacy and a zip file (see
write_big_endian_legacy and write_big_endian_zip).
"""
import argparse
import datetime
import io
import json
import os
import pickle
import sys
import zipfile

import numpy as np
import torch

SEED = 20190806  # the Distill discussion's publication date
LEGACY = dict(_use_new_zipfile_serialization=False)


def f32(values):
    """Shortest decimal strings that round-trip to the same float32 values."""
    return [np.format_float_positional(np.float32(v), unique=True, trim="-") for v in values]


def dump_values(t):
    """JSON-ready flat values of a tensor, in row-major order of its logical shape."""
    t = t.contiguous().reshape(-1)
    if t.dtype == torch.float32:
        return [RawJson(s) for s in f32(t.tolist())]
    if t.dtype in (torch.float16, torch.bfloat16, torch.float64):
        return [float(v) for v in t.double().tolist()]  # float64 repr is exact for these
    if t.dtype == torch.bool:
        return [int(v) for v in t.tolist()]
    return [int(v) for v in t.tolist()]


class RawJson(str):
    """A number already formatted as JSON text."""


def to_json(obj):
    if isinstance(obj, RawJson):
        return str(obj)
    if isinstance(obj, dict):
        return "{\n" + ",\n".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in obj.items()) + "\n}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in obj) + "]"
    return json.dumps(obj)


def save_both(obj, out, rel):
    """torch.save obj as out/legacy/rel and out/zip/rel."""
    for fmt, kwargs in (("legacy", LEGACY), ("zip", {})):
        path = os.path.join(out, fmt, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.save(obj, path, **kwargs)


def save_legacy(obj, out, rel):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path, **LEGACY)
    return path


def dataset_entry(folder, ims_chunks, lab_chunks):
    images = torch.cat(ims_chunks)
    labels = torch.cat(lab_chunks)
    return {
        "folder": folder,
        "image_chunks": [list(c.shape) for c in ims_chunks],
        "label_chunks": [list(c.shape) for c in lab_chunks],
        "image_strides": [list(c.stride()) for c in ims_chunks],
        "label_strides": [list(c.stride()) for c in lab_chunks],
        "images_shape": list(images.shape),
        "images": dump_values(images),
        "labels": dump_values(labels),
    }


def contiguous_set(g):
    """Seven images in three separately allocated chunks of distinct sizes (4, 2, 1), like batches of
    an attack written out one by one. Includes the exact corners 0.0 and 1.0."""
    images = torch.rand(7, 3, 32, 32, generator=g)
    images[0, 0, 0, 0] = 0.0
    images[6, 2, 31, 31] = 1.0
    labels = torch.randint(0, 10, (7,), generator=g)
    labels[0], labels[6] = 0, 9
    sizes = [4, 2, 1]
    ims = [c.clone() for c in torch.split(images, sizes)]
    lab = [c.clone() for c in torch.split(labels, sizes)]
    return ims, lab


def strided_set(g):
    """Three images and labels held as views that share one storage each: a transposed (non-contiguous)
    chunk and a chunk at a storage offset that skips data no tensor uses."""
    base = torch.rand(4, 3, 32, 32, generator=g)
    ims = [base[0:2].transpose(2, 3), base[3:4]]           # strides (3072,1024,1,32); offset 3*3072
    lbase = torch.randint(0, 10, (6,), generator=g)
    lab = [lbase[0:4:2], lbase[5:6]]                       # stride 2; offset 5
    assert not ims[0].is_contiguous() and ims[1].storage_offset() == 3 * 3072
    return ims, lab


def generic_tensors(g):
    """Small tensors of every dtype the reader maps, for the format-level tests."""
    return [
        torch.randint(0, 256, (2, 3), generator=g, dtype=torch.uint8),
        torch.rand(3, 2, generator=g, dtype=torch.float64),
        torch.randint(-2**31, 2**31 - 1, (4,), generator=g, dtype=torch.int32),
        torch.randint(-2**15, 2**15 - 1, (2, 2), generator=g, dtype=torch.int16),
        torch.randint(-128, 127, (3,), generator=g, dtype=torch.int8),
        torch.tensor([True, False, True]),
        torch.randn(2, 2, generator=g).to(torch.float16),
        torch.randn(3, generator=g).to(torch.bfloat16),
        torch.tensor([-(2**62), 2**62 + 12345, -1], dtype=torch.int64),
        torch.tensor(2.5),                                   # 0-dim
        torch.empty(0, 3),                                   # no elements
        torch.arange(12, dtype=torch.float32).reshape(3, 4).t(),  # transposed view
    ]


def tensor_entry(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": dump_values(t)}


# ---- constructed big-endian variants ---------------------------------------------------------------

class _Skip(pickle.Unpickler):
    """Walks a pickle without building torch objects, recording the storages it references."""

    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def persistent_load(self, pid):
        _, storage_type, key, _location, numel = pid[:5]
        self.storages[key] = (torch._utils._element_size(storage_type.dtype), numel)
        return None

    def find_class(self, module, name):
        if module.startswith("torch"):
            return super().find_class(module, name) if name.endswith("Storage") else (lambda *a: None)
        return super().find_class(module, name)


def write_big_endian_legacy(src, dst):
    """A legacy file as a big-endian machine writes it: sys_info says little_endian=False, everything
    else is unchanged, because torch's legacy writer (writeFileRaw) always stores the element counts
    and the storage bytes little-endian. torch.load on any machine reads it as such."""
    with open(src, "rb") as f:
        magic = pickle.load(f)
        proto = pickle.load(f)
        sys_info = pickle.load(f)
        rest = f.read()
    assert sys_info["little_endian"] is True
    with open(dst, "wb") as f:
        pickle.dump(magic, f, protocol=2)
        pickle.dump(proto, f, protocol=2)
        pickle.dump(dict(sys_info, little_endian=False), f, protocol=2)
        f.write(rest)


def write_big_endian_zip(src, dst):
    """A zip file as torch >= 2.1 writes it on a big-endian machine: a byteorder record saying "big"
    and storage bytes in big-endian order."""
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        prefix = next(n for n in names if n.endswith("/data.pkl"))[: -len("data.pkl")]
        storages = {}
        _Skip(io.BytesIO(zin.read(prefix + "data.pkl")), storages).load()
        with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as zout:
            for name in names:
                data = zin.read(name)
                key = name[len(prefix + "data/"):] if name.startswith(prefix + "data/") else None
                if key in storages:
                    size, _ = storages[key]
                    if size > 1:
                        data = np.frombuffer(data, dtype=f"<u{size}").astype(f">u{size}").tobytes()
                zout.writestr(name, data)
            zout.writestr(prefix + "byteorder", b"big")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(os.path.dirname(here), "Leakage.Tests", "Fixtures", "released")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)

    g = torch.Generator().manual_seed(SEED)
    expected = {
        "generator": "tests/fixtures-src/make_released_fixtures.py",
        "torch_version": torch.__version__,
        "seed": SEED,
    }

    # Released-data look-alikes, each in both formats, laid out as in datasets.tar.
    ims, lab = contiguous_set(g)
    save_both(ims, out, "release_datasets/drand_CIFAR/CIFAR_ims")
    save_both(lab, out, "release_datasets/drand_CIFAR/CIFAR_lab")
    contiguous = dataset_entry("drand_CIFAR", ims, lab)

    sims, slab = strided_set(g)
    save_both(sims, out, "release_datasets/ddet_CIFAR/CIFAR_ims")
    save_both(slab, out, "release_datasets/ddet_CIFAR/CIFAR_lab")
    strided = dataset_entry("ddet_CIFAR", sims, slab)

    # Bad inputs (legacy format, as the 2019 files). Each is paired in the tests with a good file.
    bad = torch.cat(lab)
    bad[5] = 10
    save_legacy([bad[:4].clone(), bad[4:].clone()], out, "invalid/labels_out_of_range/CIFAR_lab")
    save_legacy([torch.cat(lab).to(torch.int32)], out, "invalid/labels_int32/CIFAR_lab")
    hot = torch.rand(2, 3, 32, 32, generator=g)
    hot[1, 1, 2, 3] = 1.5
    save_legacy([hot], out, "invalid/images_out_of_range/CIFAR_ims")
    save_legacy([torch.tensor([3, 4])], out, "invalid/images_out_of_range/CIFAR_lab")
    save_legacy([torch.rand(1, 32, 32, 3, generator=g)], out, "invalid/images_hwc/CIFAR_ims")
    save_legacy([torch.tensor([1])], out, "invalid/images_hwc/CIFAR_lab")
    # Values a hair outside [0, 1] (float noise) are accepted and clamped.
    edge = torch.rand(1, 3, 32, 32, generator=g)
    edge[0, 0, 0, 0] = -1e-7
    edge[0, 2, 31, 31] = 1 + 1e-7
    save_legacy([edge], out, "edge/within_epsilon/CIFAR_ims")
    save_legacy([torch.tensor([7])], out, "edge/within_epsilon/CIFAR_lab")

    # Format-level fixtures: one list of assorted tensors in each format, a single bare tensor, and
    # the constructed big-endian variants.
    tensors = generic_tensors(g)
    save_both(tensors, out, "tensors/assorted.pt")
    save_both(tensors[1], out, "tensors/single.pt")
    write_big_endian_legacy(os.path.join(out, "legacy/tensors/assorted.pt"),
                            os.path.join(out, "legacy/tensors/assorted_big_endian.pt"))
    write_big_endian_zip(os.path.join(out, "zip/tensors/assorted.pt"),
                         os.path.join(out, "zip/tensors/assorted_big_endian.pt"))

    # Python objects the reader must refuse rather than build: a date (GLOBAL + REDUCE of
    # datetime.date) and a whole nn.Module (legacy 'module' persistent id with its source code).
    torch.save([torch.zeros(1), datetime.date(2019, 8, 6)], os.path.join(out, "invalid", "pickled_date.pt"))
    save_legacy(torch.nn.Linear(2, 1), out, "invalid/pickled_module.pt")

    expected["datasets"] = {"contiguous": contiguous, "strided": strided}
    expected["tensors"] = [tensor_entry(t) for t in tensors]
    with open(os.path.join(out, "expected.json"), "w") as f:
        f.write(to_json(expected) + "\n")

    # Self-check with torch itself: every file loads to the values recorded above.
    for fmt in ("legacy", "zip"):
        for name, entry in (("drand_CIFAR", contiguous), ("ddet_CIFAR", strided)):
            root = os.path.join(out, fmt, "release_datasets", name)
            got = torch.cat(torch.load(os.path.join(root, "CIFAR_ims")))
            assert [str(s) for s in dump_values(got)] == [str(s) for s in entry["images"]], (fmt, name)
            assert dump_values(torch.cat(torch.load(os.path.join(root, "CIFAR_lab")))) == entry["labels"]
        for path in ("tensors/assorted.pt", "tensors/assorted_big_endian.pt"):
            if fmt == "zip" and path.endswith("big_endian.pt") and torch.__version__ < "2.1":
                continue  # torch < 2.1 ignores the byteorder record
            got = torch.load(os.path.join(out, fmt, path))
            assert all(torch.equal(a, b) for a, b in zip(got, tensors)), (fmt, path)
    print(f"wrote fixtures to {out} with torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
