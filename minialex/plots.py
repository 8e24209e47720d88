"""Learning curves as PNG files (matplotlib without a screen)."""
from matplotlib.figure import Figure  # no pyplot: never touches the backend of a notebook


def plot_learning_curves(history, points, path, title=""):
    """Training error (fine-grained points and per-epoch), validation (val) top-1/top-5
    error, and loss, against epochs; saved to ``path`` as a PNG."""
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
    ax_err.legend()
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], "s-", label="val loss")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")  # named: the trainer writes to a temporary file, then renames it
