#!/usr/bin/env bash
# The full AlexNet on Imagenette, on one GPU, first thing in a GPU session.
#
# Imagenette (150 MB) is larger than what one device call carries (64 MiB, the project
# included), so it travels as three pieces over three calls made less than 30 s apart
# (files stay on the machine only while it is warm):
#
#   here, once:   bash benchmarks/gpu_imagenette.sh split ../shared/datasets/imagenette-224.tar
#                 (writes .gpudata/imagenette/imagenette-224.tar.part-aa, -ab, -ac; .gpudata is git-ignored)
#   call 1:       carry .gpudata/imagenette/imagenette-224.tar.part-aa,
#                 command: bash benchmarks/gpu_imagenette.sh keep
#   call 2:       the same with part-ab
#   call 3:       carry part-ac, command: bash benchmarks/gpu_imagenette.sh run $OUT [SECONDS]
#
# "run" joins the pieces, checks the archive's SHA-256 (the copy in ../shared), trains
# AlexNet with the recipe of results/imagenette/README.md for SECONDS (default 330; Ctrl-C at
# the deadline: the run checkpoints and stops), then tests it (centre crop and ten crops) and
# draws Figures 3 and 4. Everything small enough to come back is written to OUT.
set -u
SHA256=53c178ba4faab73f3269c951c42e833b5ca91c7bdc6b8699ff178f257146abac
PIECES=.gpudata/imagenette
STORE=/tmp/imagenette-pieces
case "${1:-}" in
split)
    mkdir -p $PIECES && split -b 48M "${2:?usage: gpu_imagenette.sh split PATH/imagenette-224.tar}" \
        $PIECES/imagenette-224.tar.part-
    ls -l $PIECES; exit ;;
keep)
    mkdir -p $STORE && cp $PIECES/imagenette-224.tar.part-* $STORE/ && ls -l $STORE; exit ;;
run) ;;
*) echo "usage: gpu_imagenette.sh split TAR | keep | run OUT_DIR [SECONDS]" >&2; exit 2 ;;
esac
OUT=${2:?usage: gpu_imagenette.sh run OUT_DIR [SECONDS]}
BUDGET=${3:-330}
RUN=runs/gpu/imagenette
mkdir -p "$OUT" /tmp/imagenette "$RUN"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
cp $PIECES/imagenette-224.tar.part-* $STORE/ 2>/dev/null
cat $STORE/imagenette-224.tar.part-* >/tmp/imagenette.tar
if [ "$(sha256sum /tmp/imagenette.tar | cut -c1-64)" != $SHA256 ]; then
    echo "the joined archive is not the shared imagenette-224.tar (a piece missing?): $(ls $STORE)" | tee "$OUT/imagenette-log.txt"
    exit 1
fi
tar xf /tmp/imagenette.tar -C /tmp/imagenette && rm /tmp/imagenette.tar
DATA=/tmp/imagenette/imagenette-224
{
    echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown); data: the shared imagenette-224.tar (SHA-256 $SHA256)"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
    timeout -s INT -k 60 "$BUDGET" python3 -m minialex.train --model alexnet --dataset imagenette --data-dir $DATA \
        --init caffe --pca-lighting --epochs 90 --device gpu --out $RUN --no-progress
    echo "train exit $?"
    python3 -m minialex.train --out $RUN --eval-only --ten-crop --device gpu --data-dir $DATA --no-progress
    for what in kernels predictions neighbours; do
        python3 -m minialex.visualize $what $RUN --device gpu
    done
} 2>&1 | tee "$OUT/imagenette-log.txt"
cp $RUN/metrics.jsonl "$OUT/imagenette-metrics.jsonl"
cp $RUN/curves.png "$OUT/imagenette-curves.png"
for what in kernels predictions neighbours; do cp $RUN/$what.png "$OUT/imagenette-$what.png"; done
cp $RUN/config.json "$OUT/imagenette-config.json"
ls -la "$OUT"
