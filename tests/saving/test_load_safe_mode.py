"""`load_model`'s safe mode: no reading of other files a config points at."""

import keras
import pytest

from keras_attnviz.saving.load import load_model

from .file_edits import copy_archive, rewrite_h5

# Digits, so that `IntegerLookup` reads the file as well.
SECRET = "271828182845"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(f"{SECRET}\n314159265358\n")
    return path


def _expect_refused_in_safe_mode(path, reason):
    with pytest.raises(ValueError, match=reason) as error:
        load_model(path)
    assert str(path) in str(error.value)
    assert SECRET not in str(error.value)


def _add_unconnected_layer(source, target, class_name, config):
    """Copies the model file `source` to `target` with one more layer in its config."""
    layer = {
        "class_name": class_name,
        "config": config,
        "name": config["name"],
        "inbound_nodes": [],
    }

    def add_layer(model_config):
        model_config["config"]["layers"].append(layer)
        return model_config

    if target.suffix == ".keras":
        copy_archive(source, target, edit=add_layer)
    else:
        rewrite_h5(source, target, add_layer)


@pytest.mark.parametrize("trainable", [True, False])
@pytest.mark.parametrize(
    "layer, dtype, vocabulary",
    [
        # The string layers take TF string tensors; off TensorFlow they are
        # refused before anything is read (test_config_rewrite.py).
        pytest.param(
            keras.layers.StringLookup,
            "string",
            ["a"],
            marks=pytest.mark.tensorflow_only,
        ),
        (keras.layers.IntegerLookup, "int64", [3]),
        pytest.param(
            keras.layers.TextVectorization,
            "string",
            ["a"],
            marks=pytest.mark.tensorflow_only,
        ),
    ],
    ids=["StringLookup", "IntegerLookup", "TextVectorization"],
)
def test_keras3_h5_vocabulary_file_is_refused_in_safe_mode(
    tmp_path, secret_file, layer, dtype, vocabulary, trainable
):
    # Keras reads a vocabulary given as a path, unless in its safe mode; a file
    # without `trainable` used to take a path that had no safe mode at all.
    inputs = keras.Input((1,), dtype=dtype)
    lookup = layer(vocabulary=vocabulary, name="lookup")
    keras.Model(inputs, lookup(inputs)).save(tmp_path / "lookup.h5")

    def point_at_secret(config):
        for entry in config["config"]["layers"]:
            if entry["name"] == "lookup":
                entry["config"]["vocabulary"] = str(secret_file)
                if not trainable:
                    del entry["config"]["trainable"]
        return config

    rewrite_h5(tmp_path / "lookup.h5", tmp_path / "evil.h5", point_at_secret)
    _expect_refused_in_safe_mode(tmp_path / "evil.h5", "vocabulary file")
    model = load_model(tmp_path / "evil.h5", safe_mode=False)
    # The check above can fail: trusted, Keras reads the file.
    assert SECRET in str(model.get_layer("lookup").get_vocabulary())


@pytest.mark.tensorflow_only  # StringLookup takes TF string tensors
@pytest.mark.parametrize("extension", [".h5", ".keras"])
@pytest.mark.parametrize("trainable", [True, False])
def test_keras2_vocabulary_file_is_refused_in_safe_mode(
    legacy_dir, tmp_path, secret_file, extension, trainable
):
    config = {"name": "lookup", "vocabulary": str(secret_file)}
    if trainable:
        config["trainable"] = True
    path = tmp_path / f"evil{extension}"
    source = legacy_dir / f"masked_gru{extension}"
    _add_unconnected_layer(source, path, "StringLookup", config)
    _expect_refused_in_safe_mode(path, "vocabulary file")


@pytest.mark.parametrize("trainable", [True, False])
def test_saved_model_layer_is_refused_in_safe_mode(
    tmp_path, make_masked_model, trainable
):
    # `TFSMLayer` loads (and runs) a SavedModel from a path in its config.
    config = {"name": "tfsm", "filepath": str(tmp_path), "call_endpoint": "x"}
    if trainable:
        config["trainable"] = False
    path = tmp_path / "tfsm.h5"
    make_masked_model().save(tmp_path / "model.h5")
    _add_unconnected_layer(tmp_path / "model.h5", path, "TFSMLayer", config)
    _expect_refused_in_safe_mode(path, "TFSMLayer")
