"""`load_model` on files Keras 3 wrote: `.h5` with ops in the graph, `.keras`."""

import keras
import numpy as np
import pytest

from keras_attnviz.layers import AdditiveAttention, DotProductAttention
from keras_attnviz.saving.load import load_model

from .predictions import LENGTH, VOCABULARY, expect_same


@pytest.mark.parametrize("extension", [".h5", ".hdf5"])
def test_keras3_h5_with_mask_zero_reloads_with_identical_predictions(
    tmp_path, tokens, make_masked_model, extension
):
    model = make_masked_model()
    path = tmp_path / f"masked{extension}"
    model.save(path)
    loaded = load_model(path)
    assert [layer.name for layer in loaded.layers] == [
        layer.name for layer in model.layers
    ]
    expect_same(loaded, model, tokens)
    # The mask still works: padding does not change the output.
    padded = np.concatenate([np.zeros((4, 3), "int64"), tokens], axis=1)
    np.testing.assert_allclose(
        loaded.predict(padded, verbose=0), loaded.predict(tokens, verbose=0), atol=1e-6
    )


def test_keras3_h5_keeps_explicit_ops_in_the_graph(tmp_path):
    inputs = keras.Input((5, 3))
    x = keras.layers.Dense(4)(inputs)
    joined = keras.ops.concatenate([x, keras.ops.square(x)], axis=-1)
    mask = keras.ops.not_equal(keras.ops.sum(inputs, axis=-1), 0.0)
    outputs = keras.layers.GRU(3)(joined, mask=mask)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "ops.h5")
    x = np.random.default_rng(0).normal(size=(3, 5, 3))
    x[0, 3:] = 0.0
    expect_same(load_model(tmp_path / "ops.h5"), model, x)


def test_keras3_h5_with_tensor_operators_reloads(tmp_path):
    # Plain keras.models.load_model fails on `a + b` nodes in .h5 (Keras 3.15).
    inputs = keras.Input((5, 3))
    summed = keras.layers.Dense(3)(inputs) + inputs
    outputs = keras.layers.GlobalAveragePooling1D()(summed)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "operators.h5")
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    expect_same(load_model(tmp_path / "operators.h5"), model, x)


def test_keras_file_is_delegated_with_custom_objects(tmp_path, tokens):
    def sum_over_time(x):
        return keras.ops.sum(x, axis=1)

    inputs = keras.Input((LENGTH,), dtype="int32")
    x = keras.layers.Embedding(VOCABULARY, 4)(inputs)
    model = keras.Model(inputs, keras.layers.Lambda(sum_over_time)(x))
    model.save(tmp_path / "named.keras")
    with pytest.raises(ValueError, match=r"(?s)named\.keras.*sum_over_time"):
        load_model(tmp_path / "named.keras")
    loaded = load_model(
        str(tmp_path / "named.keras"), custom_objects={"sum_over_time": sum_over_time}
    )
    expect_same(loaded, model, tokens)


class _Scale(keras.layers.Layer):
    """An unregistered custom layer, found through `custom_objects` only."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class _OldStyleScale(_Scale):
    """A custom layer whose config, as in much old code, has no `trainable`."""

    def get_config(self):
        return {"name": self.name, "factor": self.factor}


@pytest.mark.parametrize("layer", [_Scale, _OldStyleScale])
def test_h5_custom_layer_under_its_own_name_needs_custom_objects(tmp_path, layer):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layer(2.0, name="scale")(keras.layers.Dense(2)(inputs)))
    model.save(tmp_path / "custom.h5")
    with pytest.raises(ValueError, match=rf"(?s)custom\.h5.*{layer.__name__}"):
        load_model(tmp_path / "custom.h5")
    loaded = load_model(tmp_path / "custom.h5", custom_objects={layer.__name__: layer})
    assert isinstance(loaded.get_layer("scale"), layer)
    expect_same(loaded, model, np.ones((2, 3)))


@pytest.mark.parametrize("extension", [".keras", ".h5"])
@pytest.mark.parametrize("layer", [AdditiveAttention, DotProductAttention])
def test_models_with_our_layers_reload(
    tmp_path, tokens, make_masked_model, extension, layer
):
    model = make_masked_model(attention=layer(name="attention"))
    path = tmp_path / f"attention{extension}"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded.get_layer("attention"), layer)
    expect_same(loaded, model, tokens)
