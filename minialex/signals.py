"""Ctrl-C and SIGTERM during training: they ask the loop to stop after the current step, and nothing else.

A handler that raised at once (Python's default for Ctrl-C) could stop training in the middle of an
update or of a checkpoint's write, leaving weights that no checkpoint describes. So while ``Trainer.fit``
runs, a signal only sets ``trainer.signal_received``; the loop looks at it between two batches, saves a
checkpoint there and raises ``TrainingInterrupted``. kill -9 cannot be caught: the renamed writes
(``files.atomic_write``) and the run directory's lock (``run_files.run_lock``) cover it.
"""
import contextlib
import signal
import threading


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped ``fit`` between two batches, after it saved a checkpoint.
    ``signum`` says which signal (the command line exits with 128 + signum: 130 or 143)."""

    def __init__(self, signum):
        super().__init__(signal_name(signum))
        self.signum = signum


def interrupted(signum, log, kept, run_dir):
    """The TrainingInterrupted to raise once the checkpoint is saved, after saying so. ``kept``: what the
    checkpoint holds, in a sentence."""
    log(f"\ninterrupted by {signal_name(signum)}. {kept} Continue with: python -m minialex.train --out {run_dir} "
        "--resume")
    return TrainingInterrupted(signum)


def signal_name(signum):
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


@contextlib.contextmanager
def stop_between_steps(trainer):
    """While training, Ctrl-C (SIGINT) and SIGTERM only set ``trainer.signal_received``, which asks the loop
    to stop after the current batch (or after the validation and checkpoint under way), where fit() saves.
    Further signals are ignored until then: a second Ctrl-C in the middle of an update or of the save would
    leave weights that no checkpoint describes. The previous handlers come back when training ends."""
    if threading.current_thread() is not threading.main_thread():  # Python runs handlers in the main thread
        yield
        return

    def request_stop(signum, frame):
        if trainer.signal_received:
            return
        trainer.signal_received = signum
        try:
            trainer.log(f"\n{signal_name(signum)}: stopping after the current step (a batch, or the validation "
                        "and checkpoint under way) to save a checkpoint; until then further Ctrl-C and SIGTERM "
                        "are ignored")
        except RuntimeError:  # the signal came in the middle of a print, which cannot be re-entered
            pass

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
