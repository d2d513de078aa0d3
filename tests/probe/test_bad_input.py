"""Bad input to the probe: each a clear error in Keras style."""

import keras
import pytest

from keras_attnviz import AttentionProbe

from .builders import layers
from .user_models import keras_io_classifier


def test_a_model_with_no_attention_anywhere():
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(4)

        def call(self, x):
            return self.dense(x)

    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, Block(name="block")(inputs))
    with pytest.raises(ValueError, match="has no attention layer.*'block/dense'"):
        AttentionProbe(model)


def test_an_unknown_name_suggests_the_closest_paths():
    model = keras_io_classifier()
    with pytest.raises(ValueError) as info:
        AttentionProbe(model, layers=["transformer_block/attn"])
    message = str(info.value)
    assert "Received: 'transformer_block/attn'" in message
    closest = message[message.index("closest first: ") :]
    assert closest.index("'transformer_block/att'") < closest.index("'token_and_pos")


def test_a_model_never_built_or_called():
    class Lazy(keras.Model):
        def __init__(self):
            super().__init__()
            self.att = layers.MultiHeadAttention(2, 4)

        def call(self, x):
            return self.att(x, x)

    with pytest.raises(ValueError, match="never built or called"):
        AttentionProbe(Lazy())


def test_inputs_of_the_wrong_structure(rng):
    # A probe each: under JAX, Keras 3.15.1 leaves a model's variables unset
    # after a `predict` that failed (as `model.predict` itself does).
    with pytest.raises(ValueError, match="shape"):
        AttentionProbe(keras_io_classifier()).predict(
            rng.integers(1, 40, (2, 10, 3)), verbose=0
        )
    with pytest.raises(ValueError, match="Missing data for input"):
        AttentionProbe(keras_io_classifier()).predict(
            {"ids": rng.integers(1, 40, (2, 10))}, verbose=0
        )
