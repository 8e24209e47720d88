"""The project's committed results (``results/`` at the repository's root), read for the lessons.

Every number a lesson calls "ours" comes either from a cell above it or from one of
these files, written by the runs that ``results/README.md`` describes. The path is
found from this file, so it works whether Jupyter started in ``lessons/`` or in the
repository's root.
"""
import json
from pathlib import Path

import numpy as np

from minialex.course import results

RESULTS = Path(__file__).resolve().parents[2] / "results"
# the two budgets of the ablations: (folder, what it was)
BUDGETS = {"GPU, 30 epochs, 50,000 images": "ablations", "CPU, 8 epochs, 20,000 images": "ablations-cpu"}


def ablation(claim, folder="ablations"):
    """The JSON of one claim ("lrn", "overlap", "dropout", "pca") of one budget."""
    return json.loads((RESULTS / folder / f"{claim}.json").read_text())


def test_error_se(error, images=10_000):
    """The standard error of an error rate measured on ``images`` test images (binomial)."""
    return float(np.sqrt(error * (1 - error) / images))


def print_ablations(claims):
    """Both budgets' final and best test errors, switch on and off, and the difference."""
    print(f"{'claim':<9}{'budget':<32}{'on: final':>10}{'best':>7}{'off: final':>12}{'best':>7}{'on - off':>10}")
    for claim in claims:
        for budget, folder in BUDGETS.items():
            on, off = (ablation(claim, folder)["variants"][v] for v in ("on", "off"))
            print(f"{claim:<9}{budget:<32}{on['final_test_top1_error']:>10.3f}{on['best_test_top1_error']:>7.3f}"
                  f"{off['final_test_top1_error']:>12.3f}{off['best_test_top1_error']:>7.3f}"
                  f"{on['final_test_top1_error'] - off['final_test_top1_error']:>+10.3f}")
    print(f"(standard error of one test error near 0.25 on 10,000 images: {test_error_se(0.25):.3f}; "
          "each run is one seed)")


def plot_ablations(plt, claims, folder="ablations"):
    """Test error (solid) and running training error (dashed) against epochs, on and off, one panel a claim."""
    fig, axes = plt.subplots(1, len(claims), figsize=(5 * len(claims), 3.2), squeeze=False)
    for ax, claim in zip(axes[0], claims):
        result = ablation(claim, folder)
        for variant, colour in [("on", "C0"), ("off", "C3")]:
            epoch, train, test = np.array(result["variants"][variant]["curve"]).T
            ax.plot(epoch, test, "-o", ms=2.5, color=colour, label=f"{variant}: test error")
            ax.plot(epoch, train, "--", color=colour, alpha=0.6, label=f"{variant}: training error")
        ax.set(title=f"{result['what']} (section {result['paper_section']})", xlabel="epoch", ylabel="top-1 error")
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    plt.tight_layout()
    plt.show()


def markdown_tables(name, heading):
    """The tables under ``## heading`` of results/NAME (a benchmark report), each a list of
    {column: cell} rows, cells as written."""
    return results.markdown_tables(RESULTS / name, heading)
