"""What tests/test_distributed.py starts with ``mpiexec -n 2 python tests/distributed_worker.py MODE OUT``.

MODE:
    split     the model split against one process's alexnet() in float64: logits, loss, every
              gradient and the weights after three SGD steps, dropout on; writes OUT (JSON)
    data64    data parallelism in float64 through the Trainer (toy images, dropout, crops and
              flips), two batch sizes; writes OUT/<batch size>.npz, the final weights
    model     the model split through the Trainer (alexnet, float32, 227x227 toy images): one
              epoch, checkpoint in OUT
    signal    a data-parallel run of the command line in OUT; process 1 alone gets SIGTERM in
              its fifth step (and with OUT ending in "-straight", no signal)
    raise     a data-parallel run in which process 1 raises an error in its fourth step
    kill      the same, but process 1 is killed (SIGKILL)
    diverge   process 1's weights are changed behind the Trainer's back after its third step
"""
import json
import os
import signal
import sys
import time

import numpy as np

from minialex.data import ArrayDataset
from minialex.distributed import DataParallel, ModelParallel, leave, world
from minialex.layers import SoftmaxCrossEntropy
from minialex.models import alexnet
from minialex.optim import SGD
from minialex.train import main
from minialex.config import TrainConfig
from minialex.trainer import Trainer


def toy_data(n=96, size=12):
    """Images whose class shows as a bright row (as in test_trainer.py); 3/4 for training."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 4
    images = rng.integers(0, 60, size=(n, 3, size, size)).astype(np.uint8)
    images[np.arange(n), :, 2 * labels + 1] = 250
    split = n * 3 // 4
    return (ArrayDataset(images[:split], labels[:split], list("abcd"), "toy-train"),
            ArrayDataset(images[split:], labels[split:], list("abcd"), "toy-test"))


def alexnet_trainer(run_dir, parallel=None):
    """A Trainer of AlexNet on 12 toy images of 227x227: one epoch on 9 of them, in batches of 4, 4 and 1."""
    config = TrainConfig(model="alexnet", dataset="toy", epochs=1, batch_size=4, points_per_epoch=1)
    return Trainer(config, run_dir, data=toy_data(n=12, size=227), progress=False, log=lambda s: None,
                   parallel=parallel)


def float64_trainer(run_dir, batch_size, parallel=None):
    """A Trainer of the Figure 1 net on toy_data, in float64 (the Trainer itself works in float32):
    dropout 0.5, random crops and flips, a constant learning rate, two epochs."""
    config = TrainConfig(dataset="toy", epochs=2, batch_size=batch_size, dropout=0.5, augment=True,
                         schedule="constant", validate=False, points_per_epoch=3)
    trainer = Trainer(config, run_dir, data=toy_data(), progress=False, log=lambda s: None, parallel=parallel)
    trainer.model.to(dtype=np.float64)
    batch = trainer._train_batch
    trainer._train_batch = lambda *args: batch(*args).astype(np.float64)
    return trainer


def weights(model):
    return {name: np.array(w) for name, w in model.named_parameters().items()}


def wait_politely(comm):
    """A barrier that sleeps: MPI's own waits spin, which on a busy 2-core machine takes the core from the
    process that is being waited for."""
    request = comm.mpi.Ibarrier()
    while not request.Test():
        time.sleep(0.01)


def relative_error(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def split(out):
    """Both processes hold their half of alexnet(); process 0 also the whole one, as a reference."""
    comm = world()
    parallel = ModelParallel(comm)
    half = parallel.model(alexnet(num_classes=10, dtype=np.float64))
    whole = alexnet(num_classes=10, dtype=np.float64) if parallel.is_main else None  # same seed, same weights
    rng = np.random.default_rng(1)
    nets = [(net, SGD(net.parameters()), SoftmaxCrossEntropy()) for net in (half, whole) if net is not None]
    errors = {}
    for step in range(3):
        x, y = rng.standard_normal((2, 3, 227, 227)), rng.integers(0, 10, size=2)
        results = []
        for net, optimizer, loss_fn in nets:
            logits = net.forward(x)
            loss = float(loss_fn.forward(logits, y))
            net.backward(loss_fn.backward())
            grads = net.named_grads()
            results.append((logits.copy(), loss, parallel.gather(grads) if net is half else grads))
            optimizer.step()
        if parallel.is_main:  # the gathered gradients are complete there
            (logits, loss, grads), (ref_logits, ref_loss, ref_grads) = results
            assert grads.keys() == ref_grads.keys()
            errors[f"step {step} logits"] = relative_error(logits, ref_logits)
            errors[f"step {step} loss"] = relative_error(np.array(loss), np.array(ref_loss))
            errors.update({f"step {step} grad {name}": relative_error(grads[name], ref_grads[name])
                           for name in ref_grads})
        wait_politely(comm)  # process 1, while process 0 computes the reference
    gathered = parallel.gather(weights(half))
    back = parallel.scatter(gathered)  # what --resume does with a checkpoint
    assert all(np.array_equal(back[name], value) for name, value in weights(half).items())
    if parallel.is_main:
        errors.update({f"weights {name}": relative_error(gathered[name], value)
                       for name, value in weights(whole).items()})
        with open(out, "w") as f:
            json.dump(errors, f, indent=1)


def data64(out):
    """Also counts the all-reduces: one per step."""
    comm = world()
    for batch_size in (16, 71):  # 72 images: 5 batches, the last of 8; or a last batch of 1, for two processes
        trainer = float64_trainer(os.path.join(out, f"run{batch_size}"), batch_size, DataParallel(comm))
        before = comm.calls["allreduce"]
        trainer.fit()
        if trainer.parallel.is_main:
            np.savez(os.path.join(out, f"{batch_size}.npz"), allreduces=comm.calls["allreduce"] - before,
                     **weights(trainer.model))


def model(out):
    """One epoch of the split, then --resume's way back from the (whole) checkpoint to the halves."""
    comm = world()
    trainer = alexnet_trainer(out, ModelParallel(comm))
    trainer.fit()
    data = (trainer.train_set, trainer.test_set)
    resumed = Trainer.resume(out, data=data, progress=False, log=lambda s: None, parallel=ModelParallel(comm))
    pairs = [(weights(trainer.model), weights(resumed.model)), (trainer.optimizer.velocity, resumed.optimizer.velocity)]
    same = all(a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a) for a, b in pairs)
    with open(os.path.join(out, f"resumed-{comm.rank}.json"), "w") as f:
        json.dump(same, f)


def command_line(mode, out):
    """A data-parallel run of the command line, in which process 1 does what ``mode`` says."""
    rank, step, calls = world().rank, Trainer._step, []

    def step_of_process_1(trainer, *args):
        calls.append(1)
        if rank == 1 and len(calls) == 4:
            if mode == "raise":
                raise RuntimeError("process 1 failed on purpose")
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
        result = step(trainer, *args)
        if rank == 1 and mode == "diverge" and len(calls) == 3:
            trainer.model["fc"].params["b"][0] += 1e-3  # now the processes' weights differ
        if rank == 1 and mode == "signal" and len(calls) == 5 and not out.endswith("-straight"):
            os.kill(os.getpid(), signal.SIGTERM)  # process 0 gets no signal
        return result

    Trainer._step = step_of_process_1
    return main(["--parallel", "data", "--epochs", "2", "--subset", "200", "--batch-size", "32", "--dropout", "0.5",
                 "--out", out, "--no-progress"])


if __name__ == "__main__":
    mode, out = sys.argv[1:3]
    if mode in ("split", "data64", "model"):
        {"split": split, "data64": data64, "model": model}[mode](out)
    else:
        sys.exit(leave(command_line(mode, out)))
