"""Keras 2 configs, as tf_keras and older TF versions wrote them, built by Keras 3."""

import json
import zipfile

import h5py
import keras
import pytest

from keras_attnviz.saving.legacy import config_rewrite
from keras_attnviz.saving.load import load_model

from ..file_edits import rewrite_h5
from ..predictions import expect_keras2_numbers


def test_legacy_files_are_keras2_files(legacy_dir):
    with h5py.File(legacy_dir / "masked_gru.h5") as f:
        assert f.attrs["keras_version"].startswith("2.")
        assert '"time_major": false' in f.attrs["model_config"]
    with zipfile.ZipFile(legacy_dir / "masked_gru.keras") as archive:
        assert json.loads(archive.read("metadata.json"))["keras_version"][0] == "2"


@pytest.mark.parametrize("extension", [".h5", ".keras"])
@pytest.mark.parametrize(
    "name",
    [
        "masked_gru",
        "lstm",
        "bidirectional",
        "mixed_precision",
        "nested",
        "keras_attention",
        "multi_head",
        "tf_ops",
    ],
)
def test_keras2_models_give_keras2_numbers(legacy_dir, name, extension):
    model = load_model(legacy_dir / f"{name}{extension}")
    expect_keras2_numbers(model, legacy_dir, name)
    if name == "mixed_precision":
        assert model.get_layer(index=2).dtype_policy.name == "mixed_float16"


def test_keras1_files_are_refused(legacy_dir, tmp_path):
    path = tmp_path / "keras1.h5"
    rewrite_h5(legacy_dir / "masked_gru.h5", path, version="1.2.2")
    with pytest.raises(ValueError, match=r"keras1\.h5.*Keras 1\.2\.2"):
        load_model(path)


def test_keras2_time_major_true_is_rejected(legacy_dir, tmp_path):
    def set_time_major(config):
        config["config"]["layers"][2]["config"]["time_major"] = True
        return config

    rewrite_h5(legacy_dir / "masked_gru.h5", tmp_path / "tm.h5", set_time_major)
    with pytest.raises(ValueError, match="time_major=True"):
        load_model(tmp_path / "tm.h5")


def test_keras2_old_sequential_layout_and_policy_dtypes(legacy_dir, tmp_path):
    # Keras <= 2.2.2: a bare list of layers, the input shape on the first one.
    def make_old(config):
        layers = config["config"]["layers"][1:]
        for layer in layers:
            layer["config"]["dtype"] = {
                "class_name": "Policy",
                "config": {"name": "float32"},
            }
        return {"class_name": "Sequential", "config": _without_modules(layers)}

    rewrite_h5(legacy_dir / "lstm.h5", tmp_path / "old.h5", make_old)
    expect_keras2_numbers(load_model(tmp_path / "old.h5"), legacy_dir, "lstm")


def _without_modules(node):
    """A Keras 2 config as TF <= 2.12 wrote it: no `module`, no `build_config`."""
    if isinstance(node, list):
        return [_without_modules(child) for child in node]
    if not isinstance(node, dict):
        return node
    dropped = ("module", "registered_name", "build_config")
    node = {k: _without_modules(v) for k, v in node.items() if k not in dropped}
    if node.get("class_name") == "Functional":
        node["class_name"] = "Model"
    return node


@pytest.mark.parametrize("name", ["bidirectional", "recipe", "nested"])
def test_keras2_files_from_before_tf_2_13(legacy_dir, tmp_path, name):
    path = tmp_path / f"{name}.h5"
    rewrite_h5(legacy_dir / f"{name}.h5", path, _without_modules, version="2.4.0")
    model = load_model(path, safe_mode=False)
    expect_keras2_numbers(model, legacy_dir, name)


@pytest.mark.parametrize("keras2", [True, False])
def test_tensorflow_only_layers_name_themselves_off_tensorflow(monkeypatch, keras2):
    layer = {"class_name": "TextVectorization", "name": "words"}
    layer["config"] = {"name": "words"}
    graph = {"name": "m", "layers": [layer], "input_layers": [], "output_layers": []}
    config = {"class_name": "Functional", "config": graph}
    if keras.backend.backend() == "tensorflow":
        # TensorFlow builds the layer; any other backend is refused.
        assert config_rewrite.translate(config, keras2=keras2)["class_name"] == "Model"
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="'words'.*TextVectorization.*needs Tensor"):
        config_rewrite.translate(config, keras2=keras2)
