"""Lambdas in Keras 2 and Keras 3 files: refused in safe mode, rebuilt with globals."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_attnviz.saving.load import load_model

from ..predictions import expect_keras2_numbers, expect_same


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_keras2_recipe_is_refused_in_safe_mode(legacy_dir, extension):
    with pytest.raises(ValueError, match=r"(?s)Python code.*safe_mode=False") as info:
        load_model(legacy_dir / f"recipe{extension}")
    assert f"recipe{extension}" in str(info.value)
    assert "'lambda'" in str(info.value)


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_keras2_recipe_gives_keras2_numbers_when_trusted(legacy_dir, extension):
    model = load_model(legacy_dir / f"recipe{extension}", safe_mode=False)
    expect_keras2_numbers(model, legacy_dir, "recipe")
    weights = keras.Model(model.input, model.get_layer("attention_vec").output)
    np.testing.assert_allclose(
        weights.predict(np.load(legacy_dir / "inputs.npy"), verbose=0),
        np.load(legacy_dir / "recipe_attention.npy"),
        atol=1e-6,
    )


@pytest.mark.parametrize("extension", [".h5", ".keras"])
@pytest.mark.parametrize("name", ["lambdas", "named_function"])
def test_keras2_lambda_globals_resolve(legacy_dir, name, extension):
    model = load_model(legacy_dir / f"{name}{extension}", safe_mode=False)
    expect_keras2_numbers(model, legacy_dir, name)


def test_safe_mode_runs_nothing_from_the_file(legacy_dir):
    marker = legacy_dir / "marker.txt"
    with pytest.raises(ValueError, match="safe_mode=False"):
        load_model(legacy_dir / "marker.h5")
    assert not marker.exists()
    # The check above can fail: once trusted, loading runs the lambda.
    load_model(legacy_dir / "marker.h5", safe_mode=False)
    assert marker.exists()
    marker.unlink()


def test_keras3_lambdas_are_refused_in_safe_mode_and_find_their_globals(tmp_path):
    inputs = keras.Input((4, 3))
    # Keras's own loader rebuilds lambdas without globals: no `ops`, no `keras`;
    # and it cannot reload a lambda activation at all.
    pooled = keras.layers.Lambda(lambda x: ops.sum(x, axis=1))(inputs)
    scaled = keras.layers.Lambda(lambda x: keras.ops.exp(x) * 2.0)(pooled)
    dense = keras.layers.Dense(2, activation=lambda x: ops.relu(x) - 1.0, name="d")
    model = keras.Model(inputs, dense(scaled))
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    for extension in (".h5", ".keras"):
        with pytest.warns(UserWarning, match="lambda"):
            model.save(tmp_path / f"lambda{extension}")
        with pytest.raises(ValueError, match=r"(?s)'d' \(activation\).*safe_mode"):
            load_model(tmp_path / f"lambda{extension}")
        loaded = load_model(tmp_path / f"lambda{extension}", safe_mode=False)
        expect_same(loaded, model, x)
