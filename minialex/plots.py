"""Learning curves as PNG files (matplotlib without a screen)."""
import math

from matplotlib.figure import Figure  # no pyplot: never touches the backend of a notebook
from matplotlib.ticker import FixedLocator, FormatStrFormatter, MaxNLocator, NullLocator

MANTISSAS = ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 8), tuple(m / 10 for m in range(10, 100)))  # coarse to fine


def lr_drops(history):
    """[(epoch, old lr, new lr)]: where the learning rate changed, at the end of ``epoch``.
    Each history record holds the rate its epoch was trained with."""
    return [(a["epoch"], a["lr"], b["lr"]) for a, b in zip(history, history[1:]) if b["lr"] != a["lr"]]


def log_ticks(lo, hi, fewest=4, most=8):
    """Tick values for a log axis from ``lo`` to ``hi`` (> 0): the 1-2-5 series, or a finer one where
    the range is narrow, thinned to at most ``most``, so that the whole axis is labelled (matplotlib's
    own log ticks label only the decades and, within one, a few values: a loss from 2.3 to 0.4 got
    labels between 0.4 and 1 only)."""
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    for mantissas in MANTISSAS:
        ticks = [round(m * 10.0 ** e, 12) for e in decades for m in mantissas if lo <= m * 10.0 ** e <= hi]
        if len(ticks) >= fewest:
            break
    return ticks[::math.ceil(len(ticks) / most)] if ticks else [lo, hi]


def plot_learning_curves(history, points, path, title=""):
    """Training error (fine-grained points and per-epoch), validation (val) top-1/top-5
    error, and loss, against epochs, the learning-rate drops marked by vertical lines;
    saved to ``path`` as a PNG."""
    fig = Figure(figsize=(11, 4))
    ax_err, ax_loss = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    if points:
        ax_err.plot([p["epoch"] for p in points], [p["train_error"] for p in points], color="0.7", lw=1,
                    label="train error (running)")
    ax_err.plot(epochs, [h["train_error"] for h in history], "o-", label="train error (epoch)")
    ax_err.plot(epochs, [h["val_top1_error"] for h in history], "s-", label="val top-1 error")
    ax_err.plot(epochs, [h["val_top5_error"] for h in history], "^--", label="val top-5 error")
    ax_err.set(xlabel="epoch", ylabel="error rate", ylim=(0, 1), title=title)
    ax_err.grid(alpha=0.3)
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], "s-", label="val loss")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (log scale)", yscale="log")
    losses = [v for h in history for v in (h["train_loss"], h["val_loss"]) if v is not None and math.isfinite(v)
              and v > 0]
    if losses:
        ax_loss.yaxis.set_major_locator(FixedLocator(log_ticks(min(losses), max(losses))))
        ax_loss.yaxis.set_minor_locator(NullLocator())
        ax_loss.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))  # 2, 3, 5 rather than 2x10^0
    for ax in (ax_err, ax_loss):
        for i, (epoch, old, new) in enumerate(lr_drops(history)):
            ax.axvline(epoch, color="0.4", ls=":", lw=1, label="learning rate / 10" if i == 0 else None)
            ax.annotate(f"lr {new:g}", (epoch, 1), xycoords=("data", "axes fraction"), xytext=(2, -10),
                        textcoords="offset points", fontsize=7, color="0.3")
        ax.set_xlim(0, max(epochs[-1], 1))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_err.legend(fontsize=8)
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")  # named: the trainer writes to a temporary file, then renames it
