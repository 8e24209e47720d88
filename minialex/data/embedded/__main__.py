"""Command line: python -m minialex.data.embedded build FASHION_MNIST_DIR [--out DIR]"""
import argparse

from . import HERE, build

parser = argparse.ArgumentParser(prog="python -m minialex.data.embedded",
                                 description="Regenerate the embedded Fashion-MNIST sample.")
commands = parser.add_subparsers(dest="command", required=True)
build_parser = commands.add_parser("build", help="write fashion_mnist_sample.npz from the full data set")
build_parser.add_argument("fashion_mnist_dir", help="folder holding the four Fashion-MNIST .gz files")
build_parser.add_argument("--out", default=HERE, help="output folder (default: the package's own)")
args = parser.parse_args()
print(build(args.fashion_mnist_dir, args.out))
