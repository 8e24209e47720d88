"""``python -m minialex.predict MODEL IMAGE...``: the classes a trained network gives photos, most
probable first, as in the paper's Figure 4 (left).

    python -m minialex.predict bvlc_alexnet.npz cat.jpg     # the real AlexNet (python -m minialex.convert)
    python -m minialex.predict runs/demo photo.png --top 3   # a run of python -m minialex.train

MODEL is a weights file or a run directory (``minialex.load``). Each photo is prepared as the network's
training images were: shorter side scaled to the mean image's size, the central square, the mean image
subtracted, the central crop (section 2 of the paper; 256, then 227, for AlexNet).
"""
import argparse
import sys

import numpy as np

from .config import HelpFormatter
from .data.batches import model_input
from .data.image_folder import decode_image
from .saved_model import load_model
from .visualize import predict_proba, top5


def predict(saved, paths, top=5):
    """[(path, [(class name, probability), ...]), ...]: the ``top`` most probable classes of each photo
    for the SavedModel ``saved``."""
    if saved.mean is None:
        raise ValueError("this network was saved without its mean image, so its input cannot be prepared; "
                         "save it with minialex.save(model, path, mean=..., crop=..., classes=...)")
    channels, size = saved.mean.shape[0], saved.mean.shape[1]
    images = np.stack([decode_image(path, size) for path in paths])
    if channels == 1:  # a grey network (Fashion-MNIST): the photos' brightness
        images = images.mean(axis=1, keepdims=True).round().astype(np.uint8)
    probs = predict_proba(saved.model, model_input(images, saved.mean, saved.crop))
    names = saved.classes or [f"class {i}" for i in range(probs.shape[1])]
    idx, p = top5(probs, top)
    return [(path, [(names[j], float(q)) for j, q in zip(row, row_p)]) for path, row, row_p in zip(paths, idx, p)]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m minialex.predict", description=__doc__.split("\n\n")[0].split(
        ": ", 1)[1].capitalize(), formatter_class=HelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a weights file (python -m minialex.convert's, a run's model.npz) "
                                                  "or a run directory")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="photos (JPEG, PNG, any format Pillow reads)")
    p.add_argument("--top", type=int, default=5, help="how many classes per photo (default: 5)")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None, help="(default: $MINIALEX_DEVICE, else cpu)")
    a = p.parse_args(argv)
    try:
        if a.top < 1:
            raise ValueError(f"--top must be at least 1, got {a.top}")
        results = predict(load_model(a.model, a.device, log=None), a.images, a.top)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path, ranked in results:
        print(path)
        for name, probability in ranked:
            print(f"  {probability:7.2%}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
