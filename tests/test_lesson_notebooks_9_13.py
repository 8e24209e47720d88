"""Lessons 9-13 as stored: run from the course package (no lessons/exercises path), executed,
small enough for git; their notebook-local exercises graded by minialex.course's checks; the
payoff lesson stored with its training run and the checks that its curves coincide."""
import json
from pathlib import Path

import pytest

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = {path.name[:2]: path for path in sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")) if 9 <= int(path.name[:2]) <= 13}
LOCAL_EXERCISES = {"09": "check_nearest_neighbours", "10": "check_top_k_error", "11": "check_ten_crop",
                   "12": "check_fc_half"}


def _cells(path):
    cells = json.loads(path.read_text())["cells"]
    code = [("".join(c["source"]), c) for c in cells if c["cell_type"] == "code"]
    return cells, code


@pytest.mark.parametrize("lesson", sorted(NOTEBOOKS))
def test_notebook_runs_from_the_course_package_and_is_stored_executed(lesson):
    path = NOTEBOOKS[lesson]
    assert path.stat().st_size < 1_000_000
    _, code = _cells(path)
    assert "mynet = course.setup()" in code[0][0], "the first code cell of lessons/DESIGN.md"
    everything = "\n".join(source for source, _ in code)
    assert "from exercises" not in everything and "LESSONS" not in everything
    assert all(c.get("execution_count") for _, c in code), "notebook not executed"
    if lesson in LOCAL_EXERCISES:
        check = LOCAL_EXERCISES[lesson]
        assert f"from minialex.course.lesson{lesson} import" in everything and f"grade({check}," in everything


def test_the_payoff_lesson_is_stored_with_its_training_run():
    _, code = _cells(NOTEBOOKS["13"])
    outputs = "\n".join("".join(o.get("text", "")) for _, c in code for o in c["outputs"])
    errors = [o for _, c in code for o in c["outputs"] if o.get("output_type") == "error"]
    assert not errors
    assert "your network:" in outputs and "test photos right" in outputs
    assert "the same loss and the same 16 gradients" in outputs
