"""What tests/test_fuzz_loaders.py starts with ``python tests/fuzz_worker.py FORMAT CASES SEED FOLDER``.

It writes a valid file of FORMAT in FOLDER, then CASES seeded mutations of it, one at a time, and
reads each with the loader a run uses. Each read must end in success or in a one-line ValueError,
OSError or RuntimeError that names the mutated file or its run directory (what the command line
prints as ``error: ...``); anything
else, or a read that takes more than CASE_SECONDS, is a failure. The parent runs this process
under an address-space limit, so a read that asks for too much memory fails too (a MemoryError
is reported as such, not survived).

FORMAT:
    checkpoint   a run's checkpoint.npz: its bytes (truncated, bits flipped, zip and .npy size fields
                 set to extremes) and, with a valid checksum, its structure (entries' types swapped,
                 entries removed), read by Trainer.resume, which then trains an epoch
    cifar        batches.meta and data_batch_1 of a tiny cifar-10-batches-py: bytes, and the dicts'
                 values swapped for other types before pickling, read by load_cifar10
    idx          a Fashion-MNIST image file: the gzip's bytes, and the IDX inside (dimensions set to
                 extremes, truncated, extended), read by load_fashion_mnist
    images       one image of an image folder (PNG, JPEG, WebP): bytes, and the sizes in its header
                 set to extremes, read by load_image_folder

Prints one JSON object: {"cases", "accepted", "refused", "failures": [...], "slowest_s", "max_rss_mib"}.
"""
import gzip
import json
import os
import pickle
import random
import resource
import shutil
import signal
import struct
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASE_SECONDS = 20  # a read that takes longer has hung
EXTREMES = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]


class Hung(Exception):
    pass


def on_alarm(signum, frame):
    raise Hung()


# -- byte-level mutations, for every format -----------------------------------------------------------


def truncate(data, rng):
    return data[:rng.randrange(len(data))]


def flip_bits(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def extreme_word(data, rng):
    """A 2- or 4-byte field, anywhere, set to an extreme value (little- or big-endian)."""
    data = bytearray(data)
    width = rng.choice([2, 4])
    at = rng.randrange(max(1, len(data) - width))
    value = rng.choice(EXTREMES) & ((1 << 8 * width) - 1)
    data[at:at + width] = value.to_bytes(width, rng.choice(["little", "big"]))
    return bytes(data)


def byte_mutation(data, rng):
    return rng.choice([truncate, flip_bits, extreme_word])(data, rng)


def at_a_field(data, rng, offsets, width, order):
    """One of the known size fields at ``offsets`` set to an extreme value."""
    data = bytearray(data)
    at = rng.choice(offsets)
    value = rng.choice(EXTREMES) & ((1 << 8 * width) - 1)
    data[at:at + width] = value.to_bytes(width, order)
    return bytes(data)


# -- type swaps -------------------------------------------------------------------------------------------


STRANGE = [None, True, -1, 0, 2 ** 70, 1.5, float("nan"), float("inf"), "", "text", b"bytes", [], [1, 2, 3], {},
           {"step": 1}, (1,), np.zeros(3), np.zeros((2, 2), np.int64), np.array("s")]


def swap_in(value, rng, strange=STRANGE, depth=0):
    """``value`` with one entry somewhere inside replaced by one of ``strange``, or removed."""
    if isinstance(value, dict) and value and depth < 4:
        key = rng.choice(list(value))
        value = dict(value)
        if rng.random() < 0.15:
            del value[key]
        elif rng.random() < 0.5 or not isinstance(value[key], (dict, list)):
            value[key] = rng.choice(strange)
        else:
            value[key] = swap_in(value[key], rng, strange, depth + 1)
        return value
    if isinstance(value, list) and value and depth < 4:
        value = list(value)
        i = rng.randrange(len(value))
        value[i] = rng.choice(strange) if rng.random() < 0.6 else swap_in(value[i], rng, strange, depth + 1)
        return value
    return rng.choice(strange)


# -- the formats ---------------------------------------------------------------------------------------------


def checkpoint_format(folder):
    from minialex import checkpoint
    from minialex.run_files import CHECKPOINT
    from minialex.trainer import Trainer
    from test_trainer import config, toy_data

    data = toy_data()
    valid = folder / "valid"
    Trainer(config(epochs=1), valid, data=data, progress=False, log=lambda m: None).fit()
    state = checkpoint.load(valid / CHECKPOINT)
    raw = (valid / CHECKPOINT).read_bytes()
    zip_fields = [i + 18 for i in _find_all(raw, b"PK\x03\x04")] + [i + 22 for i in _find_all(raw, b"PK\x03\x04")] \
        + [i + 20 for i in _find_all(raw, b"PK\x01\x02")] + [i + 24 for i in _find_all(raw, b"PK\x01\x02")]

    def make(case, rng):
        run = folder / f"case{case}"
        shutil.copytree(valid, run)
        kind = rng.random()
        if kind < 0.4:  # the structure, under a valid checksum
            checkpoint.save(run / CHECKPOINT, swap_in(state, rng, [v for v in STRANGE if not isinstance(v, bytes)]))
        elif kind < 0.6:
            (run / CHECKPOINT).write_bytes(at_a_field(raw, rng, zip_fields, 4, "little"))
        else:
            (run / CHECKPOINT).write_bytes(byte_mutation(raw, rng))
        # Resumed and trained for an epoch: what resume lets through must also train (or stop in one line).
        return run / CHECKPOINT, lambda: Trainer.resume(run, data=data, epochs=2, progress=False,
                                                        log=lambda m: None).fit()
    return make


def cifar_format(folder):
    from minialex.data import load_cifar10

    rng0 = np.random.default_rng(0)
    batch = {b"batch_label": b"batch", b"data": rng0.integers(0, 256, (4, 3072), dtype=np.uint8),
             b"labels": [0, 1, 2, 3], b"filenames": [b"a.png"] * 4}
    meta = {b"label_names": [b"c%d" % i for i in range(10)], b"num_vis": 3072}
    valid = folder / "valid"
    valid.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (valid / name).write_bytes(pickle.dumps(batch, protocol=4))
    (valid / "batches.meta").write_bytes(pickle.dumps(meta, protocol=4))

    def make(case, rng):
        root = folder / f"case{case}"
        shutil.copytree(valid, root)
        name, content = rng.choice([("data_batch_1", batch), ("batches.meta", meta)])
        if rng.random() < 0.4:
            (root / name).write_bytes(pickle.dumps(swap_in(content, rng), protocol=4))
        else:
            (root / name).write_bytes(byte_mutation((root / name).read_bytes(), rng))
        return root / name, lambda: load_cifar10(root)
    return make


def idx_format(folder):
    from minialex.data import load_fashion_mnist

    n = 6
    inner = {}
    valid = folder / "valid"
    valid.mkdir()
    for prefix in ("train", "t10k"):
        inner[f"{prefix}-images-idx3-ubyte.gz"] = struct.pack(">4I", 0x0803, n, 28, 28) + bytes(range(256)) * 18 \
            + bytes(n * 784 - 256 * 18)
        inner[f"{prefix}-labels-idx1-ubyte.gz"] = struct.pack(">2I", 0x0801, n) + bytes(range(n))
    for name, content in inner.items():
        (valid / name).write_bytes(gzip.compress(content, mtime=0))

    def make(case, rng):
        root = folder / f"case{case}"
        shutil.copytree(valid, root)
        name = rng.choice(sorted(inner))
        kind = rng.random()
        if kind < 0.35:  # the sizes in the IDX header
            content = at_a_field(inner[name], rng, list(range(4, 16 if "images" in name else 8, 4)), 4, "big")
        elif kind < 0.55:  # the IDX truncated or extended, then compressed again
            content = inner[name][:rng.randrange(len(inner[name]))] if rng.random() < 0.5 \
                else inner[name] + bytes(rng.choice([1, 1000, 50 << 20]))
        else:
            (root / name).write_bytes(byte_mutation((valid / name).read_bytes(), rng))
            return root / name, lambda: load_fashion_mnist(root)
        (root / name).write_bytes(gzip.compress(content, compresslevel=1, mtime=0))
        return root / name, lambda: load_fashion_mnist(root)
    return make


def images_format(folder):
    from minialex.data import load_image_folder

    valid = folder / "valid"
    pixels = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    for cls in ("a", "b"):
        (valid / cls).mkdir(parents=True)
        for fmt in ("png", "jpg", "webp"):
            Image.fromarray(pixels).save(valid / cls / f"x.{fmt}")
    png_fields = [16, 20]  # IHDR width and height
    jpg = (valid / "a" / "x.jpg").read_bytes()
    sof = jpg.find(b"\xff\xc0")
    jpg_fields = [sof + 5, sof + 7] if sof >= 0 else []  # SOF0 height and width

    def make(case, rng):
        root = folder / f"case{case}"
        shutil.copytree(valid, root)
        path = root / rng.choice("ab") / f"x.{rng.choice(['png', 'jpg', 'webp'])}"
        data = path.read_bytes()
        if rng.random() < 0.4 and path.suffix != ".webp":
            fields, width = (png_fields, 4) if path.suffix == ".png" else (jpg_fields, 2)
            data = at_a_field(data, rng, fields, width, "big")
        else:
            data = byte_mutation(data, rng)
        path.write_bytes(data)
        return path, lambda: load_image_folder(root, size=16, cache_dir=folder / f"cache{case}", log=None,
                                               progress=False)
    return make


def _find_all(data, needle):
    at, found = 0, []
    while (at := data.find(needle, at)) >= 0:
        found.append(at)
        at += 1
    return found


FORMATS = {"checkpoint": checkpoint_format, "cifar": cifar_format, "idx": idx_format, "images": images_format}


def main(fmt, cases, seed, folder):
    folder = Path(folder)
    make = FORMATS[fmt](folder)
    signal.signal(signal.SIGALRM, on_alarm)
    result = {"cases": cases, "accepted": 0, "refused": 0, "failures": [], "slowest_s": 0.0}
    for case in range(cases):
        rng = random.Random(f"{seed}-{fmt}-{case}")
        path, read = make(case, rng)
        tick = time.perf_counter()
        signal.alarm(CASE_SECONDS)
        try:
            read()
            result["accepted"] += 1
        except Hung:
            result["failures"].append(f"case {case}: no answer in {CASE_SECONDS} s")
        except (ValueError, OSError, RuntimeError) as err:  # what the command line prints in one line
            message = str(err)
            if "\n" in message.strip() or (path.name not in message and str(path.parent) not in message):
                result["failures"].append(f"case {case}: {type(err).__name__} that does not name {path.name} "
                                          f"in one line: {message[:500]!r}")
            else:
                result["refused"] += 1
        except BaseException as err:  # anything else is a failure of the loader, MemoryError included
            result["failures"].append(f"case {case}: {type(err).__name__}: {str(err)[:300]}\n"
                                      + "".join(traceback.format_tb(err.__traceback__)[-3:]))
        finally:
            signal.alarm(0)
        result["slowest_s"] = max(result["slowest_s"], time.perf_counter() - tick)
        shutil.rmtree(path.parent if fmt != "images" else path.parent.parent, ignore_errors=True)
        shutil.rmtree(folder / f"cache{case}", ignore_errors=True)
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
