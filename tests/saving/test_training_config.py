"""`load_model(..., compile=True)`: the optimizer, losses and metrics a file saved."""

import keras
import numpy as np
import pytest

from keras_attnviz.layers import AdditiveAttention
from keras_attnviz.saving.load import load_model

from .file_edits import rewrite_h5
from .predictions import VOCABULARY


def test_keras3_h5_nested_multi_io_model_reloads_compiled(tmp_path):
    first = keras.Input((None,), dtype="int32", name="first")
    second = keras.Input((None,), dtype="int32", name="second")
    embed = [keras.layers.Embedding(VOCABULARY, 4, mask_zero=True) for _ in "ab"]
    # Concatenating masked inputs puts the ops that merge their masks in the graph.
    joined = keras.layers.Concatenate(axis=1)([embed[0](first), embed[1](second)])
    states = keras.layers.GRU(5, return_sequences=True)(joined)
    nested = keras.Sequential(
        [keras.layers.Embedding(VOCABULARY, 4, mask_zero=True), keras.layers.GRU(5)],
        name="nested",
    )
    context = AdditiveAttention(name="attention")(states)
    outputs = [
        keras.layers.Dense(2, name="a")(context),
        keras.layers.Dense(1, name="b")(nested(second)),
    ]
    model = keras.Model([first, second], outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss=["mse", keras.losses.BinaryCrossentropy(from_logits=True)],
        metrics=[["mae"], ["accuracy"]],
    )
    model.save(tmp_path / "nested.h5")
    loaded = load_model(tmp_path / "nested.h5", compile=True)
    x = [np.array([[0, 1, 2, 3], [4, 5, 0, 0]]), np.array([[1, 1, 0, 0], [0, 0, 2, 3]])]
    got, expected = loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    for name, (a, b) in enumerate(zip(got, expected, strict=True)):
        np.testing.assert_allclose(a, b, atol=1e-6, err_msg=f"output {name}")
    np.testing.assert_allclose(float(loaded.optimizer.learning_rate), 0.02)
    y = [np.zeros((2, 2)), np.ones((2, 1))]
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5
    )


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_keras2_compile_restores_the_optimizer_and_loss(legacy_dir, extension):
    model = load_model(legacy_dir / f"compiled{extension}", compile=True)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.01)
    inputs = np.load(legacy_dir / "inputs.npy")
    targets = np.zeros((len(inputs), 2))
    expected = np.mean(np.load(legacy_dir / "compiled.npy") ** 2)
    loss, _ = model.evaluate(inputs, targets, verbose=0)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    uncompiled = load_model(legacy_dir / f"compiled{extension}")
    assert getattr(uncompiled, "optimizer", None) is None


def test_keras2_legacy_optimizer_arguments_are_mapped(legacy_dir, tmp_path):
    # Optimizers before TF 2.11 saved `lr` and `decay`.
    def make_old(training_config):
        arguments = training_config["optimizer_config"]["config"]
        arguments["lr"] = arguments.pop("learning_rate")
        arguments["decay"] = 0.001
        return training_config

    path = tmp_path / "old_optimizer.h5"
    rewrite_h5(legacy_dir / "compiled.h5", path, make_old, attribute="training_config")
    with pytest.warns(UserWarning, match="decay=0.001"):
        model = load_model(path, compile=True)
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.01)
