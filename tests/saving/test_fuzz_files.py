"""Mutation fuzzing of `.keras` and `.h5` files (see `fuzz_files`): CI's sample.

Every mutant loads or is refused with a `ValueError`/`OSError` naming the
file; none crashes or hangs its worker, exhausts its memory limit or runs
code. The sample is fixed (`ATTNVIZ_FUZZ_SEED`, default 0); a longer run:

    ATTNVIZ_FUZZ_CASES=5000 python -m pytest tests/saving/test_fuzz_files.py

or `python tests/saving/fuzz_files.py --cases 5000`, which also lists the
failing cases.
"""

import os

from .fuzz_files import GOOD_OUTCOMES, fuzz, summary

CASES = int(os.environ.get("ATTNVIZ_FUZZ_CASES", "400"))
SEED = int(os.environ.get("ATTNVIZ_FUZZ_SEED", "0"))


def test_mutated_model_files_load_or_are_refused_naming_the_file(tmp_path):
    results = fuzz(CASES, SEED, str(tmp_path))
    counts, types = summary(results)
    bad = {
        index: (result["kind"], result["outcome"], result.get("type"), result["message"])
        for index, result in sorted(results.items())
        if result["outcome"] not in GOOD_OUTCOMES
    }
    assert not bad, f"{counts}; first: {list(bad.items())[:5]}"
    assert len(results) == CASES
    # The sample reaches both ends: models that still load, and refusals.
    assert counts["loaded"] > CASES // 20 and counts["refused"] > CASES // 2, counts
    assert types["refused"].keys() <= {"ValueError", "OSError", "FileNotFoundError"}
