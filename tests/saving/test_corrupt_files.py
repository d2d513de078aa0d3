"""Damaged and odd model files: a `ValueError` or `OSError` naming the file, chained.

Each case here raised something else before (`zipfile.BadZipFile`,
`zlib.error`, h5py's `RuntimeError`/`KeyError`, an `AttributeError`, "the
truth value of an array is ambiguous") or a message without the file.
"""

import json
import os
import zipfile

import h5py
import numpy as np
import pytest

from keras_attnviz.cli import main
from keras_attnviz.saving.load import load_model

from .file_edits import rewrite_h5


@pytest.fixture
def saved(tmp_path, make_masked_model):
    """Saves the masked model as `model.<extension>`; returns the path."""
    model = make_masked_model()

    def save(extension):
        path = tmp_path / f"model{extension}"
        model.save(path)
        return path

    return save


def _expect_clean_error(path, match=None):
    with pytest.raises((ValueError, OSError)) as error:
        load_model(path)
    message = str(error.value)
    assert str(path) in message
    if match is not None:
        assert match in message, message
    return error.value


def _member_data_offset(path, name):
    """Where the data of the zip member `name` starts in the archive."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        name_length, extra_length = np.frombuffer(f.read(4), "<u2")
    return info.header_offset + 30 + int(name_length) + int(extra_length), info


@pytest.mark.parametrize(
    "compression",
    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED],
    ids=["stored", "deflated"],
)
def test_damaged_weights_member_of_keras_file(tmp_path, saved, compression):
    # Stored: a CRC error (`BadZipFile`); deflated: an inflate `zlib.error`.
    source = saved(".keras")
    path = tmp_path / "damaged.keras"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w", compression) as new:
        for entry in old.infolist():
            new.writestr(entry.filename, old.read(entry), compress_type=compression)
    start, info = _member_data_offset(path, "model.weights.h5")
    data = bytearray(path.read_bytes())
    middle = start + info.compress_size // 2
    data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    error = _expect_clean_error(path)
    assert isinstance(error, ValueError)
    assert error.__cause__ is not None


@pytest.mark.parametrize(
    "signature, replacement",
    [
        (b"SNOD", b"XXXX"),  # symbol table node: "bad symbol table node signature"
        (b"HEAP", b"HEAP" + b"\xff" * 28),  # local heap: bad free list, addresses
        (b"TREE", b"TRE\x00"),  # B-tree of a group
    ],
    ids=["symbol-table", "heap", "b-tree"],
)
def test_damaged_hdf5_structures(tmp_path, saved, signature, replacement):
    data = bytearray(saved(".h5").read_bytes())
    found = 0
    start = data.find(signature)
    while start != -1:
        data[start : start + len(replacement)] = replacement
        found += 1
        start = data.find(signature, start + len(replacement))
    assert found
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(data))
    error = _expect_clean_error(path)
    assert error.__cause__ is not None


@pytest.mark.parametrize(
    "extension, version",
    [(".h5", np.arange(3)), (".h5", 3), (".keras", 3)],
    ids=["h5-array", "h5-int", "keras-int"],
)
def test_keras_version_of_the_wrong_type(tmp_path, saved, extension, version):
    # An array made `version or "3"` raise "The truth value of an array ...".
    source = saved(extension)
    path = tmp_path / f"version{extension}"
    if extension == ".h5":
        rewrite_h5(source, path)
        with h5py.File(path, "r+") as f:
            f.attrs["keras_version"] = version
    else:
        with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
            for entry in old.infolist():
                data = old.read(entry)
                if entry.filename == "metadata.json":
                    data = json.dumps({"keras_version": version})
                new.writestr(entry, data)
    _expect_clean_error(path, "keras_version")


@pytest.mark.parametrize(
    "attribute, value",
    [
        ("layer_names", np.arange(3)),
        ("layer_names", 7),
        ("weight_names", np.arange(2)),
    ],
)
def test_weights_attribute_of_the_wrong_type(tmp_path, saved, attribute, value):
    path = tmp_path / "attribute.h5"
    rewrite_h5(saved(".h5"), path)
    with h5py.File(path, "r+") as f:
        group = f["model_weights"]
        if attribute == "weight_names":
            group = group[group.attrs["layer_names"][1]]
        group.attrs[attribute] = value
    error = _expect_clean_error(path)
    assert error.__cause__ is not None


def test_keras2_time_major_refusal_names_the_file(legacy_dir, tmp_path):
    def set_time_major(config):
        config["config"]["layers"][2]["config"]["time_major"] = True
        return config

    path = tmp_path / "time_major.h5"
    rewrite_h5(legacy_dir / "masked_gru.h5", path, set_time_major)
    _expect_clean_error(path, "time_major=True")


def test_keras2_refused_tf_op_names_the_file(legacy_dir, tmp_path):
    def swap_function(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "TFOpLambda":
                layer["config"]["function"] = "io.write_file"
        return config

    path = tmp_path / "tf_op.h5"
    rewrite_h5(legacy_dir / "tf_ops.h5", path, swap_function)
    _expect_clean_error(path, "io.write_file")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_fifo_or_device_is_refused_without_opening_it(tmp_path, kind):
    path = tmp_path / "model.keras"
    if kind == "fifo":
        os.mkfifo(path)  # opening it would block
    else:
        os.symlink("/dev/zero", path)  # reading it would never end
    _expect_clean_error(path, "FIFO, device or socket")


def test_command_line_reports_a_damaged_file_in_one_line(tmp_path, saved, capsys):
    data = bytearray(saved(".h5").read_bytes())
    start = data.find(b"SNOD")
    data[start : start + 4] = b"XXXX"
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(data))
    assert main(["inspect", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("keras-attnviz: error:") and str(path) in lines[-1]
    assert not any("Traceback" in line for line in lines)
