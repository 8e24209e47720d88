#!/usr/bin/env bash
# Everything minialex runs on a GPU, as one script for one short lease of a GPU machine
# (CuPy, a CUDA build of PyTorch, pytest, matplotlib and Pillow installed; no network):
#
#   bash benchmarks/gpu_session.sh OUT_DIR [FOLDER_WITH_cifar10-jpeg.tar.gz_AND_make_cifar10_batches.py]
#
# 1. CIFAR-10 decoded into the python-batch layout (CPU), while the CUDA-kernel tests run;
# 2. the GPU benchmark, alone on the GPU -> results/benchmarks-gpu.md;
# 3. in parallel, until GPU_SESSION_SECONDS (default 510) have passed since the start:
#    the whole test suite on CuPy (slow tests included), Figure 1 (sweep + runs; tanh also at
#    fixed rates 0.01 and 0.02), the four ablations at 30 epochs, and the default training run;
#    runs still going at the deadline get Ctrl-C (SIGINT): they finish their batch and checkpoint;
# 4. the Figure 1 plot and table; everything packed into OUT_DIR (a few files, for a copy back).
#
# The full AlexNet on Imagenette comes first in a GPU session, in calls of its own:
# benchmarks/gpu_imagenette.sh says how.
set -u
OUT=${1:?usage: gpu_session.sh OUT_DIR [CIFAR_JPEG_FOLDER]}
SRC=${2:-.gpudata}
END=$((SECONDS + ${GPU_SESSION_SECONDS:-510}))
RUNS=runs/gpu
mkdir -p "$OUT" "$RUNS/logs"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1 MPLBACKEND=Agg
LOG=$RUNS/logs
left() { local t=$((END - SECONDS)); echo $((t > 0 ? t : 1)); }  # timeout takes no 0 or negative limit
stamp() { echo "[$(date -u +%H:%M:%S) +${SECONDS}s] $*" | tee -a "$LOG/session.txt"; }

stamp "start"; nvidia-smi >"$LOG/nvidia-smi.txt" 2>&1
python3 -c "import cupy, torch, numpy; print('cupy', cupy.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__)" \
    2>&1 | tee -a "$LOG/session.txt"

# 1. data (CPU) beside the CUDA-kernel tests (GPU)
(python3 "$SRC/make_cifar10_batches.py" /tmp/cifar >"$LOG/data.txt" 2>&1; echo "exit $?" >>"$LOG/data.txt") &
DATA=$!
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda_kernels.py >"$LOG/pytest-kernels.txt" 2>&1
KERNELS=$?
stamp "kernel tests exit $KERNELS: $(tail -1 "$LOG/pytest-kernels.txt")"
if [ "$KERNELS" != 0 ]; then
    export MINIALEX_PATH=reference  # the CuPy reference path still gives the experiments
    stamp "CUDA kernels failed their tests: experiments run with MINIALEX_PATH=reference"
fi
wait $DATA; stamp "data: $(tail -2 "$LOG/data.txt" | tr '\n' ' ')"

# 2. the benchmark, alone on the GPU (it times the kernels, so only if they passed their tests)
if [ "$KERNELS" = 0 ]; then
    timeout 200 python3 benchmarks/run_gpu.py --cifar /tmp/cifar --out "$RUNS/benchmarks-gpu.md" >"$LOG/benchmark.txt" 2>&1
    stamp "benchmark exit $?"
fi

# 3. everything else at once, each stopped with Ctrl-C at the deadline
run() {  # run NAME COMMAND...: in the background, logged, interrupted at the deadline
    local name=$1; shift
    (timeout -s INT -k 30 "$(left)" "$@" >"$LOG/$name.txt" 2>&1; echo "exit $?" >>"$LOG/$name.txt") &
}
F1="python3 -m minialex.experiments.figure1 --device gpu --data-dir /tmp/cifar --no-progress --sweep-epochs 0.5"
run figure1-relu $F1 --out $RUNS/figure1 --activations relu --lrs 0.002 0.005 0.01 0.02 --max-epochs 40
run figure1-tanh $F1 --out $RUNS/figure1 --activations tanh --lrs 0.002 0.005 0.01 0.02 0.04 0.08 --max-epochs 100
run figure1-tanh-0.01 $F1 --out $RUNS/figure1-tanh-lr0.01 --activations tanh --lrs 0.01 --max-epochs 100
run figure1-tanh-0.02 $F1 --out $RUNS/figure1-tanh-lr0.02 --activations tanh --lrs 0.02 --max-epochs 100
for claim in lrn overlap dropout pca; do  # one process per claim: each trains its own copy of the baseline
    run ablation-$claim python3 -m minialex.experiments.ablations $claim --device gpu --data-dir /tmp/cifar \
        --epochs 30 --no-progress --out $RUNS/ablations-$claim
done
[ -e $RUNS/default-train/checkpoint.npz ] ||  # a rerun continues the others; this one is done in seconds
    run default-train python3 -m minialex.train --device gpu --out $RUNS/default-train --no-progress
run pytest-gpu env MINIALEX_DEVICE=gpu python3 -m pytest -q -p no:cacheprovider -m "slow or not slow" -rs
stamp "started all; deadline in $(left) s"
wait
stamp "all done"

# 4. figure and tables from whatever finished
python3 -m minialex.experiments.figure1 --out $RUNS/figure1 --plot-only >"$LOG/figure1-plot.txt" 2>&1
for d in $RUNS/figure1-tanh-lr0.0*; do
    python3 -m minialex.experiments.figure1 --out "$d" --plot-only >>"$LOG/figure1-plot.txt" 2>&1
done
mkdir -p $RUNS/ablations
cp $RUNS/ablations-*/*.json $RUNS/ablations-*/*.png $RUNS/ablations/ 2>/dev/null
python3 -c "from minialex.experiments.ablations import write_table; print(write_table('$RUNS/ablations'))" \
    >"$LOG/ablations-table.txt" 2>&1
stamp "packing"
cp "$LOG/session.txt" "$RUNS/benchmarks-gpu.md" "$OUT/" 2>/dev/null
tar czf "$OUT/gpu-runs.tar.gz" --exclude=checkpoint.npz "$RUNS"
tar czf "$OUT/gpu-checkpoints.tar.gz" $(find "$RUNS" -name checkpoint.npz -path "*figure1*") 2>/dev/null
ls -la "$OUT"
