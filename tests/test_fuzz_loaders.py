"""Seeded mutations of a valid file of every format the project reads (issue 27): each read ends in
success or in a one-line error naming the file, within a memory limit and a time limit; never
another exception, a traceback or a hang.

Each format runs in one child process (tests/fuzz_worker.py, which says what is mutated) under an
address-space limit of LIMIT bytes, each read under an alarm of fuzz_worker.CASE_SECONDS. The default
run tries SHORT mutations per format; ``pytest -m slow`` tries LONG.
"""
import json
import os
import resource
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = {**os.environ, "PYTHONPATH": os.path.dirname(HERE), "MINIALEX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
LIMIT = 1536 << 20
SHORT, LONG = 25, 300
FORMATS = ["checkpoint", "cifar", "idx", "images"]


def fuzz(fmt, cases, seed, folder):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    child = subprocess.run([sys.executable, os.path.join(HERE, "fuzz_worker.py"), fmt, str(cases), str(seed),
                            str(folder)], preexec_fn=limit, capture_output=True, text=True, env=ENV,
                           timeout=60 + cases * 25)
    assert child.returncode == 0, child.stderr[-3000:]
    return json.loads(child.stdout.splitlines()[-1])


def check(result, cases):
    assert not result["failures"], "\n".join(result["failures"][:10])
    assert result["accepted"] + result["refused"] == cases
    assert result["refused"] > 0, "no mutation was refused: the mutations do not reach the checks"


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_files_are_read_or_refused_in_one_line(tmp_path, fmt):
    check(fuzz(fmt, SHORT, 0, tmp_path), SHORT)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_hundreds_of_mutated_files_are_read_or_refused_in_one_line(tmp_path, fmt):
    result = fuzz(fmt, LONG, 1, tmp_path)
    print(fmt, {key: value for key, value in result.items() if key != "failures"})
    check(result, LONG)
