"""Model builders and checks shared by the probe's tests."""

import keras
import numpy as np

layers = keras.layers
VOCAB = 30


def token_ids(rng, n, length, real):
    """Ids in [1, VOCAB), post-padded with 0 after `real[i]` positions."""
    ids = rng.integers(1, VOCAB, (n, length))
    ids[np.arange(length)[None, :] >= np.asarray(real)[:, None]] = 0
    return ids


def classifier(attention, *, length=9, mask_zero=True, name="classifier"):
    """Embedding -> GRU -> pooling attention -> Dense."""
    inputs = keras.Input((length,), dtype="int32", name="tokens")
    x = layers.Embedding(VOCAB, 8, mask_zero=mask_zero)(inputs)
    x = layers.GRU(8, return_sequences=True)(x)
    context = attention(x)
    return keras.Model(
        inputs, layers.Dense(1, activation="sigmoid")(context), name=name
    )


def assert_outputs_equal(result, expected):
    """The probe's outputs have `model.predict`'s structure and values."""
    keras.tree.assert_same_structure(result.outputs, expected)
    for got, want in zip(
        keras.tree.flatten(result.outputs), keras.tree.flatten(expected), strict=True
    ):
        np.testing.assert_array_equal(got, want)
