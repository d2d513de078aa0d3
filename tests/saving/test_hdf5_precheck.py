"""`hdf5_precheck`: HDF5 files that hang or crash the HDF5 library are refused.

The damaged files are cases of the fuzz suite (`fuzz_files`, seed 0),
regenerated here from their ids: case 764 (a `.h5` with 4 KiB zeroed) makes
the HDF5 library hang, case 1800 (bytes flipped) makes it crash with SIGSEGV,
in a read that holds the GIL. Each load of them runs in a subprocess with a
timeout, so that a hang fails the test instead of hanging pytest.
"""

import io
import json
import os
import signal
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

from keras_attnviz.saving import hdf5_precheck
from keras_attnviz.saving.load import load_model

from .fuzz_files import make_case, write_seed_files
from .predictions import expect_same

HANGING_CASE = 764
CRASHING_CASE = 1800
# What a test allows one child load (Python, TensorFlow, the precheck's
# `time_limit`) before it counts as hung.
LOAD_TIMEOUT_SECONDS = 180

LOAD_SCRIPT = """
import json, sys
import keras_attnviz

path, precheck = sys.argv[1], sys.argv[2] == "on"
try:
    keras_attnviz.load_model(path, hdf5_precheck=precheck)
    print(json.dumps({"outcome": "loaded"}))
except ValueError as error:
    cause = error.__cause__
    print(json.dumps({"outcome": "ValueError", "message": str(error),
                      "cause": type(cause).__name__ if cause else None}))
"""


@pytest.fixture(scope="module")
def fuzz_case(tmp_path_factory):
    """Writes the fuzz suite's case `index` (seed 0); returns its path."""
    folder = tmp_path_factory.mktemp("fuzz")
    seeds = write_seed_files(str(folder))

    def write(index):
        return make_case(seeds, str(folder), index, 0)[2]

    return write


def _load_in_child(path, precheck="on"):
    """`load_model(path)` in a fresh process: `(return code, result or None)`."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT, str(path), precheck],
            capture_output=True,
            text=True,
            timeout=LOAD_TIMEOUT_SECONDS,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"Loading {path} hung (over {LOAD_TIMEOUT_SECONDS} s).")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, json.loads(lines[-1]) if lines else None


def _refusal(path):
    code, result = _load_in_child(path)
    assert code == 0 and result and result["outcome"] == "ValueError", (code, result)
    assert str(path) in result["message"]
    assert "The HDF5 library could not read" in result["message"]
    return result


def test_file_that_hangs_the_hdf5_library_is_refused(fuzz_case):
    result = _refusal(fuzz_case(HANGING_CASE))
    limit = hdf5_precheck.BASE_TIME_LIMIT_SECONDS
    assert f"the read hung for {limit:.0f} s" in result["message"]
    assert result["cause"] == "TimeoutExpired"


def test_file_that_crashes_the_hdf5_library_is_refused(fuzz_case):
    result = _refusal(fuzz_case(CRASHING_CASE))
    assert "crashed with signal SIGSEGV" in result["message"]
    assert result["cause"] == "CalledProcessError"


def test_without_the_precheck_the_crash_takes_the_process(fuzz_case):
    # The opt-out reads in-process: what the precheck refuses above.
    code, result = _load_in_child(fuzz_case(CRASHING_CASE), precheck="off")
    assert code == -signal.SIGSEGV, (code, result)


def test_keras_weights_member_that_crashes_the_library_is_refused(fuzz_case, tmp_path):
    # A valid CRC: the archive is sound, its HDF5 member is not.
    with open(fuzz_case(CRASHING_CASE), "rb") as f:
        damaged = f.read()
    seed = os.path.join(os.path.dirname(fuzz_case(CRASHING_CASE)), "sequential.keras")
    path = tmp_path / "crafted.keras"
    with zipfile.ZipFile(seed) as old, zipfile.ZipFile(path, "w") as new:
        for entry in old.infolist():
            data = old.read(entry)
            new.writestr(
                entry, damaged if entry.filename == "model.weights.h5" else data
            )
    result = _refusal(path)
    assert f"the `model.weights.h5` in {str(path)!r}" in result["message"]
    assert "crashed with signal SIGSEGV" in result["message"]


@pytest.mark.parametrize("extension", [".h5", ".keras"])
@pytest.mark.parametrize("precheck", [True, False])
def test_sound_file_loads_the_same_numbers(
    tmp_path, make_masked_model, tokens, extension, precheck
):
    model = make_masked_model()
    path = tmp_path / f"model{extension}"
    model.save(path)
    expect_same(load_model(path, hdf5_precheck=precheck), model, tokens)


def test_precheck_must_be_a_bool(tmp_path, make_masked_model):
    make_masked_model().save(tmp_path / "model.h5")
    with pytest.raises(TypeError, match="`hdf5_precheck` must be a bool"):
        load_model(tmp_path / "model.h5", hdf5_precheck="no")


def _h5_bytes(build):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        build(f)
    return buffer.getvalue()


def test_sound_file_is_read_whole_without_errors(tmp_path):
    # Datasets above `BLOCK_BYTES` are read chunk by chunk or block by block.
    rows = hdf5_precheck.BLOCK_BYTES // 4000 + 10
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["note"] = "x"
        f.create_dataset("group/small", data=np.arange(6.0)).attrs["unit"] = 1
        f.create_dataset("big/contiguous", data=np.ones((rows, 1000), "float32"))
        f.create_dataset(
            "big/chunked", data=np.ones((rows, 1000), "float32"), chunks=(4096, 1000)
        )
        f.create_dataset("declared", shape=(10**10,), dtype="float32", chunks=True)
        f["again"] = f["group"]  # a second hard link: read once
        f["soft"] = h5py.SoftLink("/group/small")
    assert hdf5_precheck.check_readable(str(path)) == []


def test_file_referring_to_other_files_is_refused(tmp_path, make_masked_model):
    other = tmp_path / "other.h5"
    other.write_bytes(_h5_bytes(lambda f: f.create_dataset("x", data=[1.0])))
    path = tmp_path / "model.h5"
    make_masked_model().save(path)
    with h5py.File(path, "r+") as f:
        f["model_weights/elsewhere"] = h5py.ExternalLink(str(other), "/x")
    with pytest.raises(ValueError, match=r"refers to other files.*ExternalLink") as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_errors_of_a_damaged_file_are_left_to_the_loader(tmp_path, make_masked_model):
    # A read that fails with a Python error: the loader reports it as before.
    path = tmp_path / "model.h5"
    make_masked_model().save(path)
    path.write_bytes(path.read_bytes()[:3000])
    errors = hdf5_precheck.check_readable(str(path))
    assert errors and errors[0].startswith("/: open: OSError")
    with pytest.raises(ValueError, match="is not a readable HDF5 file"):
        load_model(path)


def test_time_limit_grows_with_the_file():
    assert hdf5_precheck.time_limit(0) == hdf5_precheck.BASE_TIME_LIMIT_SECONDS
    size = 30 * hdf5_precheck.BYTES_PER_SECOND
    assert hdf5_precheck.time_limit(size) == hdf5_precheck.BASE_TIME_LIMIT_SECONDS + 30


def test_child_imports_neither_keras_nor_tensorflow(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(_h5_bytes(lambda f: f.create_dataset("x", data=[1.0])))
    # The child's own command, then a look at what it imported.
    command = hdf5_precheck._CHILD_COMMAND + (
        "; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('keras', 'tensorflow', 'keras_attnviz', 'h5py')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", command, hdf5_precheck.__file__, str(path), ""],
        capture_output=True,
        text=True,
        check=True,
    )
    report, modules = result.stdout.splitlines()[-2:]
    assert json.loads(report) == {"errors": [], "other_files": []}
    assert "h5py" in modules
    for name in ("keras", "tensorflow", "keras_attnviz"):
        assert f"'{name}" not in modules, modules
