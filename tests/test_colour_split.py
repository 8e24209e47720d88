"""Figure 3's colour split, measured (minialex.experiments.colour_split)."""
import json

import numpy as np

from minialex import checkpoint
from minialex.experiments.colour_split import describe, main, permutation_test, snapshot


def _kernels(rng, grey, colour):
    """(grey + colour, 3, 11, 11) kernels: the first ``grey`` with equal channels, the rest random."""
    shape = (11, 11)
    grey_k = np.repeat(rng.standard_normal((grey, 1, *shape)), 3, axis=1) + 0.05 * rng.standard_normal((grey, 3, *shape))
    colour_k = rng.standard_normal((colour, 3, *shape))
    return np.concatenate([grey_k, colour_k])


def test_a_real_split_is_found_with_its_side():
    rng = np.random.default_rng(0)
    w = _kernels(rng, 48, 48)  # GPU 1 grey, GPU 2 colour: the paper's figure
    d = describe(w)
    assert d["colour_block"] == 2 and d["difference"] > 0.5
    assert d["p"] < 0.001
    flipped = describe(w[::-1])
    assert flipped["colour_block"] == 1 and flipped["p"] < 0.001


def test_no_split_when_both_blocks_hold_both_kinds():
    rng = np.random.default_rng(1)
    w = _kernels(rng, 48, 48)[rng.permutation(96)]  # grey and colour kernels dealt at random
    assert describe(w)["p"] > 0.05


def test_p_is_never_zero_and_tracks_the_difference():
    chroma = np.r_[np.zeros(48), np.ones(48)]
    diff, p = permutation_test(chroma, permutations=999)
    assert diff == 1.0 and p == 1 / 1000
    diff, p = permutation_test(np.full(96, 0.5), permutations=999)
    assert diff == 0.0 and p == 1.0


def test_snapshots_end_of_epoch_checkpoints_only_and_reports(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rng = np.random.default_rng(2)
    w = _kernels(rng, 48, 48).astype(np.float32)
    checkpoint.save(run / "checkpoint.npz", {"epoch": 3, "position": {"batch": 5}, "model": {"params": {"conv1.W": w}}})
    assert snapshot(run) is None  # inside epoch 4: not an epoch's end
    checkpoint.save(run / "checkpoint.npz", {"epoch": 4, "position": None, "model": {"params": {"conv1.W": w}}})
    assert snapshot(run).endswith("epoch-004.npy")
    assert snapshot(run) is None  # already kept
    out = tmp_path / "report"
    assert main(["report", str(run), "--out", str(out)]) == 0
    result = json.loads((out / "colour-split.json").read_text())["runs"]["run"]
    assert [r["epoch"] for r in result] == [4] and result[0]["colour_block"] == 2
    assert (out / "colour-split.png").stat().st_size > 0
