"""Mutation fuzzing of `.keras` and `.h5` files (see `fuzz_files`): CI's sample.

Every mutant loads or is refused with a `ValueError`/`OSError` naming the
file; none crashes or hangs its worker, exhausts its memory limit or runs
code. The sample is fixed (`ATTNVIZ_FUZZ_SEED`, default 0); a longer run:

    ATTNVIZ_FUZZ_CASES=5000 python -m pytest tests/saving/test_fuzz_files.py

or `python tests/saving/fuzz_files.py --cases 5000`, which also lists the
failing cases.
"""

import os
import subprocess
import sys

from .fuzz_files import CANARY_MODULE, GOOD_OUTCOMES, canary_folder, fuzz, summary

CASES = int(os.environ.get("ATTNVIZ_FUZZ_CASES", "400"))
SEED = int(os.environ.get("ATTNVIZ_FUZZ_SEED", "0"))


def test_mutated_model_files_load_or_are_refused_naming_the_file(tmp_path):
    results = fuzz(CASES, SEED, str(tmp_path))
    counts, types = summary(results)
    bad = {
        index: (
            result["kind"],
            result["outcome"],
            result.get("type"),
            result["message"],
        )
        for index, result in sorted(results.items())
        if result["outcome"] not in GOOD_OUTCOMES
    }
    assert not bad, f"{counts}; first: {list(bad.items())[:5]}"
    assert len(results) == CASES
    # The sample reaches both ends: models that still load, and refusals.
    assert counts["loaded"] > CASES // 20 and counts["refused"] > CASES // 2, counts
    assert types["refused"].keys() <= {"ValueError", "OSError", "FileNotFoundError"}


def test_the_canary_module_would_show_an_import(tmp_path):
    # The check above can fail: importing what hostile names point at (or
    # constructing its class) leaves the canary file behind.
    modules, canary = canary_folder(str(tmp_path))
    for statement in (
        f"import {CANARY_MODULE}",
        f"import {CANARY_MODULE}.sub",
        f"from {CANARY_MODULE} import Evil",
    ):
        subprocess.run(
            [sys.executable, "-c", statement],
            check=True,
            env={**os.environ, "PYTHONPATH": modules},
        )
        assert os.path.exists(canary), statement
        os.remove(canary)
