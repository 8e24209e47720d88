"""``python -m minialex.convert caffe|torchvision SRC OUT.npz``: published AlexNet weights into a minialex
weights file. With ``--download``, a missing SRC (and BVLC's auxiliary archive, for the class names and
Caffe's mean image) is fetched first and checked against its published digest."""
import argparse
import os
import sys

from .. import weights
from . import caffe, torchvision
from .files import fetch, read_aux

AUX = "caffe_ilsvrc12.tar.gz"
FORMATS = {"caffe": (caffe, "bvlc_alexnet.caffemodel", "sha1", caffe.SHA1),
           "torchvision": (torchvision, "alexnet-owt-7be5be79.pth", "sha256", torchvision.SHA256_PREFIX)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m minialex.convert", description=__doc__.split("\n\n")[0])
    p.add_argument("format", choices=list(FORMATS), help="caffe: BVLC's bvlc_alexnet.caffemodel (the paper's "
                   "architecture); torchvision: torchvision's alexnet state dict (the one-GPU variant)")
    p.add_argument("src", metavar="SRC", help="the published file (with --download: where to put it)")
    p.add_argument("out", metavar="OUT.npz", help="the minialex weights file to write")
    p.add_argument("--aux", metavar=AUX, default=None,
                   help=f"BVLC's {AUX} (class names; for caffe also the mean image) (default: SRC's folder/{AUX} "
                        "if it is there; without it the classes have no names, and caffe uses the mean per channel)")
    p.add_argument("--download", action="store_true",
                   help="fetch SRC (and the archive) from the published URLs if missing (default: off)")
    p.add_argument("--half", action="store_true", help="write the weights in float16, half the size (default: off)")
    return p.parse_args(argv)


def run(a):
    module, _, algorithm, digest = FORMATS[a.format]
    aux = a.aux or os.path.join(os.path.dirname(os.path.abspath(a.src)), AUX)
    if a.download:
        fetch(module.URL, a.src, algorithm, digest)
        fetch(caffe.AUX_URL, aux)
    elif not os.path.isfile(a.src):
        raise FileNotFoundError(f"no {a.src}: add --download to fetch it from {module.URL}")
    names, mean = read_aux(aux) if (a.aux or os.path.isfile(aux)) else (None, None)
    if a.format == "caffe":
        model, image, crop, source = caffe.convert(a.src, mean)
    else:
        model, image, crop, source = torchvision.convert(a.src)
    return weights.save(model, a.out, mean=image, crop=crop, classes=names, half=a.half, source=source)


def main(argv=None):
    a = parse_args(argv)
    try:
        path = run(a)
    except (OSError, ValueError) as err:  # ConnectionError (offline) is an OSError
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
