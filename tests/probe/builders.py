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


class RecordedCalls:
    """Records the arguments of every call of `layer`, to call it by hand.

    Keras's `Layer.__call__` fills mask arguments before `call` runs, so the
    recorded arguments are the ones the layer computed with.
    """

    def __init__(self, layer, method="call"):
        self.layer, self.method, self.calls = layer, method, []

    def __enter__(self):
        original = getattr(self.layer, self.method)

        def recording(*args, **kwargs):
            self.calls.append((args, kwargs))
            return original(*args, **kwargs)

        object.__setattr__(self.layer, self.method, recording)
        return self

    def __exit__(self, *exc):
        object.__delattr__(self.layer, self.method)


def scores_by_hand(layer, model, x):
    """What `layer` returns with `return_attention_scores=True`, per call.

    Runs `model` on `x` eagerly, then calls `layer` again on the arguments
    each of its calls received.
    """
    with RecordedCalls(layer) as recorded:
        model(x, training=False)
    scores = []
    for args, kwargs in recorded.calls:
        kwargs = {**kwargs, "return_attention_scores": True}
        scores.append(keras.ops.convert_to_numpy(layer(*args, **kwargs)[1]))
    return scores


def softmax_by_hand(layer, model, x):
    """The outputs of the `Softmax` sublayer of `layer`, per call."""
    softmax = next(
        child
        for child in vars(layer).values()
        if isinstance(child, keras.layers.Softmax)
    )
    outputs = []
    original = softmax.call

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        outputs.append(keras.ops.convert_to_numpy(result))
        return result

    object.__setattr__(softmax, "call", recording)
    try:
        model(x, training=False)
    finally:
        object.__delattr__(softmax, "call")
    return outputs
