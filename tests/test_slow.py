"""Slow checks on real images: run with `pytest -m slow` (minutes on a 2-core CPU)."""
import os
import time

import numpy as np
import pytest

from minialex.course import CIFAR10_SAMPLE
from minialex.data import center_crop, load_cifar10, load_image_folder
from minialex.layers import SoftmaxCrossEntropy
from minialex.models import alexnet
from minialex.optim import SGD
from minialex.config import TrainConfig
from minialex.trainer import Trainer

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = str(CIFAR10_SAMPLE)
SHARED_CIFAR_JPEG = os.path.join(HERE, "..", "..", "shared", "datasets", "cifar10-jpeg.tar.gz")

pytestmark = pytest.mark.slow


def test_alexnet_overfits_a_small_batch_of_real_images(tmp_path, device, on_device):
    """The whole network, paper-exact except dropout off, drives the loss on 8
    real photos (upscaled CIFAR-10 images through the paper's 256 -> 227
    pipeline) to near zero.

    With the paper's initialisation (N(0, 0.01^2), biases of 1) the differences
    between images shrink layer by layer (at fc8 they are ~1 % of the logits), so
    the net starts at chance and leaves it slowly: lr 0.01 collapses to chance,
    lr 3e-4 gets there (measured: loss 1.70 -> 0.0099 in 236 steps, about 4 min
    on one core; results/README.md)."""
    data = load_image_folder(SAMPLE, size=256, cache_dir=tmp_path)
    pick = np.concatenate([np.flatnonzero(data.labels == c)[:2] for c in range(4)])
    x = center_crop(data.images[pick], 227).astype(np.float32)
    x = on_device(x - x.mean(axis=0))
    y = on_device(data.labels[pick])
    net = alexnet(num_classes=4, dropout=0.0, seed=0).to(device)
    loss_fn, sgd = SoftmaxCrossEntropy(), SGD(net.parameters(), lr=3e-4, momentum=0.9, weight_decay=5e-4)
    losses = []
    tick = time.perf_counter()
    for _ in range(300):
        losses.append(float(loss_fn.forward(net.forward(x), y)))
        if losses[-1] < 0.01:
            break
        net.backward(loss_fn.backward())
        sgd.step()
    print(f"AlexNet, 8 images: loss {losses[0]:.3f} -> {losses[-1]:.4f} in {len(losses)} steps, "
          f"{time.perf_counter() - tick:.0f} s")
    assert losses[0] > 1.0 and losses[-1] < 0.05


@pytest.mark.skipif(not os.path.exists(SHARED_CIFAR_JPEG), reason="needs ../shared/datasets (CIFAR-10 as JPEGs)")
def test_figure1_net_learns_real_cifar10(tmp_path, device):
    """Two epochs of the Figure 1 network on 10,000 real CIFAR-10 training images
    gets well below chance (90 %) on the 10,000 test images."""
    import subprocess
    import sys
    subprocess.run([sys.executable, os.path.join(os.path.dirname(SHARED_CIFAR_JPEG), "make_cifar10_batches.py"),
                    str(tmp_path)], check=True, capture_output=True)
    train, test = load_cifar10(tmp_path)
    config = TrainConfig(dataset="cifar10", subset=10000, epochs=2, lr=0.005, weight_decay=0.0, augment=False,
                         schedule="constant", device=device)
    trainer = Trainer(config, tmp_path / "run", data=(train, test), progress=False)
    trainer.fit()
    assert trainer.history[-1]["val_top1_error"] < 0.75


def imagenette_root(tmp_path_factory):
    """An extracted Imagenette: $MINIALEX_IMAGENETTE (a folder with train/ and val/, or the
    imagenette-224.tar archive), by default the archive in ../shared/datasets."""
    path = os.environ.get("MINIALEX_IMAGENETTE") or os.path.join(os.path.dirname(SHARED_CIFAR_JPEG),
                                                                 "imagenette-224.tar")
    if not os.path.exists(path):
        pytest.skip(f"needs Imagenette: set MINIALEX_IMAGENETTE to its folder or archive ({path} is missing)")
    if os.path.isdir(path):
        return path
    import tarfile
    target = tmp_path_factory.mktemp("imagenette")
    with tarfile.open(path) as tar:
        tar.extractall(target, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return str(next(p for p in target.iterdir() if (p / "train").is_dir()))


def test_alexnet_learns_real_imagenet_photos(tmp_path, tmp_path_factory, device, monkeypatch):
    """AlexNet with the recipe of results/imagenette (the paper's, with Caffe's initial
    biases of 0.1) on 300 real Imagenette photos: the error on 300 held-out validation
    photos falls clearly below chance (90 %): to 80 % or less, four standard errors
    below chance on 300 photos. Measured (seed 0, 2-core CPU, about 10 minutes with the
    other core busy): 0.900 0.893 0.900 0.827 0.820 0.867 0.790 0.777 0.753 0.780 0.783
    0.807 0.790 0.807 0.767; the same recipe on all 9,469 photos reaches 30 % in 10 epochs
    (results/imagenette)."""
    from minialex.data import load_dataset
    monkeypatch.setenv("MINIALEX_DATA", str(tmp_path / "cache"))
    train, val = load_dataset("imagenette", imagenette_root(tmp_path_factory), subset=300, log=None)
    val = val.subset(300, seed=0)
    config = TrainConfig(model="alexnet", dataset="imagenette", init="caffe", batch_size=32, epochs=15,
                         schedule="constant", device=device)
    trainer = Trainer(config, tmp_path / "run", data=(train, val), progress=False)
    trainer.fit()
    errors = [h["val_top1_error"] for h in trainer.history]
    print("validation top-1 error per epoch:", " ".join(f"{e:.3f}" for e in errors))
    assert min(errors[-3:]) <= 0.80
