"""Learning curves as PNG files (matplotlib without a screen)."""
from matplotlib.figure import Figure  # no pyplot: never touches the backend of a notebook
from matplotlib.ticker import FormatStrFormatter, MaxNLocator


def lr_drops(history):
    """[(epoch, old lr, new lr)]: where the learning rate changed, at the end of ``epoch``.
    Each history record holds the rate its epoch was trained with."""
    return [(a["epoch"], a["lr"], b["lr"]) for a, b in zip(history, history[1:]) if b["lr"] != a["lr"]]


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
    for axis in (ax_loss.yaxis.set_major_formatter, ax_loss.yaxis.set_minor_formatter):
        axis(FormatStrFormatter("%.3g"))  # 2, 3, 5 rather than 2x10^0
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
