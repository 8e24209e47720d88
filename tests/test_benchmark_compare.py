"""benchmarks/compare_trees.py: the A/B tool that results/refactor-speed.md rests on."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "compare_trees.py")


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300)


def test_compare_trees_times_each_layer_in_both_trees(tmp_path):
    out = tmp_path / "table.md"
    done = run(REPO, REPO, "--rounds", "1", "--threads", "1", "--layers", "ReLU", "Tanh", "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| 1 |")]
    # 2 inputs x 2 layers x 2 passes, each with both trees' times, their ratio and page faults
    assert sorted((r[2].strip(), r[3].strip()) for r in rows) == sorted(
        [(layer, p) for layer in ("ReLU", "Tanh") for p in ("fwd", "bwd")] * 2)
    for r in rows:
        before, after = (float(c.split()[0]) for c in r[4:6])
        assert before > 0 and after > 0
        # the ratio is of the unrounded minima; the table shows them to 0.05 ms
        slack = 0.05 / before + 0.05 * after / before ** 2 + 0.005
        assert abs(float(r[6]) - after / before) <= slack
        assert int(r[7]) >= 0 and int(r[8]) >= 0
    assert "glibc malloc: steady" in out.read_text()


def test_compare_trees_refuses_a_tree_without_minialex(tmp_path):
    done = run(str(tmp_path), REPO, "--rounds", "1", "--threads", "1", "--layers", "ReLU")
    assert done.returncode != 0
    assert "imported minialex from" in done.stderr or "No module named" in done.stderr


def test_compare_trees_names_the_layers_it_has():
    done = run(REPO, REPO, "--layers", "Softmax")
    assert done.returncode == 2
    assert "no layer is called Softmax" in done.stderr and "LocalResponseNorm" in done.stderr


def test_compare_trees_needs_two_trees():
    done = run(REPO)
    assert done.returncode == 2
    assert "give two checkouts" in done.stderr
