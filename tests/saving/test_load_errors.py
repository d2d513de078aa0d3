"""`load_model` on wrong arguments and on files that are not, or no longer, models."""

import zipfile

import h5py
import numpy as np
import pytest

from keras_attnviz.saving.load import load_model

from .file_edits import copy_archive, rewrite_h5


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        load_model(tmp_path / "nowhere.h5")


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_text_file_raises_value_error_naming_it(tmp_path, extension):
    path = tmp_path / f"notes{extension}"
    path.write_text("not a model\n")
    with pytest.raises(ValueError, match=f"notes{extension}"):
        load_model(path)


def test_h5_without_model_raises_value_error(tmp_path):
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"data\.h5.*holds no model"):
        load_model(tmp_path / "data.h5")


def test_weights_only_file_points_to_load_weights(tmp_path, make_masked_model):
    model = make_masked_model()
    model.save_weights(tmp_path / "only.weights.h5")
    with pytest.raises(ValueError, match="load_weights"):
        load_model(tmp_path / "only.weights.h5")


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_truncated_file_raises_value_error(tmp_path, make_masked_model, extension):
    model = make_masked_model()
    model.save(tmp_path / f"whole{extension}")
    data = (tmp_path / f"whole{extension}").read_bytes()
    for fraction in (0.3, 0.9):
        path = tmp_path / f"cut{extension}"
        path.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(ValueError, match=f"cut{extension}"):
            load_model(path)


@pytest.mark.parametrize(
    "model_config",
    [
        "{not json",
        "[" * 100_000,
        np.arange(3),
        np.bytes_(b"\xff\xfe{"),  # not UTF-8
        "[]",
        '{"class_name": "Sequential"}',
        '{"class_name": "Dense", "config": {"units": 2}}',
        '{"class_name": "Functional", "config": {"layers": [[]]}}',
        '{"class_name": "Functional", "config": %s}' % ("[" * 700 + "]" * 700),
    ],
)
def test_corrupt_config_raises_value_error(tmp_path, make_masked_model, model_config):
    make_masked_model().save(tmp_path / "model.h5")
    with h5py.File(tmp_path / "model.h5", "r+") as f:
        f.attrs["model_config"] = model_config
    with pytest.raises(ValueError, match=r"model\.h5"):
        load_model(tmp_path / "model.h5")


def _unknown_layer(config):
    config["config"]["layers"][1]["class_name"] = "NoSuchLayer"
    return config


def _garbled_op(config):
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "NotEqual":
            layer["config"]["units"] = -3
    return config


@pytest.mark.parametrize(
    "keras2, edit, message",
    [
        (False, _unknown_layer, "NoSuchLayer"),
        (True, _unknown_layer, "NoSuchLayer"),
        (False, _garbled_op, "NotEqual.*units"),
    ],
)
def test_config_keras_cannot_build_raises_value_error_naming_the_file(
    legacy_dir, tmp_path, make_masked_model, keras2, edit, message
):
    if keras2:
        source = legacy_dir / "masked_gru.h5"
    else:
        source = tmp_path / "model.h5"
        make_masked_model().save(source)
    rewrite_h5(source, tmp_path / "broken.h5", edit)
    with pytest.raises(ValueError, match=rf"(?s)broken\.h5.*{message}"):
        load_model(tmp_path / "broken.h5")


@pytest.mark.parametrize("keras2", [False, True])
def test_keras_archive_without_weights_raises_value_error(
    legacy_dir, tmp_path, make_masked_model, keras2
):
    if keras2:
        source = legacy_dir / "masked_gru.keras"
    else:
        source = tmp_path / "model.keras"
        make_masked_model().save(source)
    copy_archive(source, tmp_path / "no_weights.keras", without="model.weights.h5")
    with pytest.raises(ValueError, match=r"(?s)no_weights\.keras.*model\.weights"):
        load_model(tmp_path / "no_weights.keras")


def test_keras_archive_without_config_raises_value_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match="no `config.json`"):
        load_model(tmp_path / "empty.keras")


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"path": 3}, "path"),
        ({"path": b"model.h5"}, "path"),
        ({"custom_objects": ["f"]}, "custom_objects"),
        ({"safe_mode": "no"}, "safe_mode"),
        ({"compile": 1}, "compile"),
    ],
)
def test_wrong_types_raise_type_error(kwargs, name):
    arguments = {"path": "model.h5", **kwargs}
    with pytest.raises(TypeError, match=f"`{name}`"):
        load_model(arguments.pop("path"), **arguments)


def test_unknown_extension_lists_the_supported_ones(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras, \.h5, \.hdf5.*model\.pb"):
        load_model(tmp_path / "model.pb")


def test_directory_raises_value_error(tmp_path):
    (tmp_path / "dir.keras").mkdir()
    with pytest.raises(ValueError, match="directory"):
        load_model(tmp_path / "dir.keras")
