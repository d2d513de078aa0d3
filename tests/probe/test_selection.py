"""Naming layers: `layers=`, closest names, layers that are not weights."""

import keras
import numpy as np
import pytest

from keras_attnviz import AttentionProbe

from .builders import VOCAB, assert_outputs_equal, layers


def _recipe_model(length=8):
    """The Stack Overflow recipe: a softmax named `attention_vec`, no mask."""
    inputs = keras.Input((length,), dtype="int32")
    x = layers.Embedding(VOCAB, 8)(inputs)
    x = layers.GRU(8, return_sequences=True)(x)
    scores = layers.Flatten()(layers.Dense(1, activation="tanh", name="score")(x))
    weights = layers.Activation("softmax", name="attention_vec")(scores)
    context = layers.Dot(axes=1)([weights, x])
    output = layers.Dense(1, activation="sigmoid", name="output")(context)
    return keras.Model(inputs, output)


def test_named_softmax_layer_is_exposed(rng):
    model = _recipe_model()
    with pytest.raises(ValueError, match=r"layers=\['attention_vec'\]"):
        AttentionProbe(model)
    probe = AttentionProbe(model, layers=["attention_vec"])
    ids = rng.integers(1, VOCAB, (5, 8))
    result = probe.predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    softmax_out = keras.Model(model.input, model.get_layer("attention_vec").output)
    np.testing.assert_array_equal(
        result.attention["attention_vec"], softmax_out.predict(ids, verbose=0)
    )
    amap = result.sample(0, tokens=list("abc"), padding="pre")
    np.testing.assert_array_equal(
        amap.weights, result.attention["attention_vec"][0, 5:]
    )


def test_unknown_name_lists_closest_layers_first():
    model = _recipe_model()
    with pytest.raises(ValueError) as info:
        AttentionProbe(model, layers=["attention_vac"])
    message = str(info.value)
    assert "'attention_vac'" in message
    assert message.index("'attention_vec'") < message.index("'output'")


def test_named_layer_that_is_not_weights_is_refused(rng):
    model = _recipe_model()
    with pytest.raises(ValueError, match="output attention weights"):
        AttentionProbe(model, layers=[model.layers[0].name])  # the int input
    probe = AttentionProbe(model, layers=["score"])  # tanh scores, (N, T, 1)
    with pytest.raises(ValueError, match="sum to 1"):
        probe.predict(rng.integers(1, VOCAB, (2, 8)), verbose=0)


def test_float16_weights_of_long_sequences_are_accepted(rng):
    # A mixed_float16 softmax over 16000 keys sums to 1 only within float16's
    # precision; summed in float16 it is off by more than 1e-3.
    length = 16000
    inputs = keras.Input((length,))
    weights = layers.Activation("softmax", dtype="mixed_float16", name="attention_vec")(
        inputs
    )
    model = keras.Model(inputs, layers.Dense(1)(weights))
    x = (3 * rng.normal(size=(16, length))).astype("float32")
    result = AttentionProbe(model, layers=["attention_vec"]).predict(x, verbose=0)
    assert result.attention["attention_vec"].dtype == np.float16
    not_weights = layers.Activation("sigmoid", dtype="mixed_float16", name="s")(inputs)
    probe = AttentionProbe(keras.Model(inputs, not_weights), layers=["s"])
    with pytest.raises(ValueError, match="sum to 1"):
        probe.predict(x, verbose=0)


def test_bad_arguments():
    with pytest.raises(TypeError, match="must be a `keras.Model`"):
        AttentionProbe(layers.Dense(1))
    with pytest.raises(TypeError, match="names or layer objects"):
        AttentionProbe(_recipe_model(), layers=[3])
    with pytest.raises(ValueError, match="not part of"):
        AttentionProbe(_recipe_model(), layers=[layers.Dense(2)])

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.attention = layers.Attention()

        def call(self, x):
            return self.attention([x, x])

    with pytest.raises(ValueError, match="never built or called"):
        AttentionProbe(Subclassed())
    with pytest.raises(ValueError, match="never built or called"):
        AttentionProbe(keras.Sequential([layers.Dense(2)]))
