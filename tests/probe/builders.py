"""Model builders and checks shared by the probe's tests."""

import keras
import keras_hub  # a dev dependency: the tests that use it never skip
import numpy as np

from keras_attnviz import keras_internals

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
    """The probe's outputs have `model.predict`'s structure and values.

    Equal to the bit, but under JAX: XLA compiles the model and the probe
    (the same computation with more outputs) each as one program, and may
    fuse them differently, which moves a value by a unit in the last place.
    """
    keras.tree.assert_same_structure(result.outputs, expected)
    for got, want in zip(
        keras.tree.flatten(result.outputs), keras.tree.flatten(expected), strict=True
    ):
        if keras.backend.backend() == "jax":
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        else:
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
        for child in keras_internals.direct_sublayers(layer)
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


# keras-hub backbones: three samples of 8 tokens, 8, 5 and 3 of them real.
HUB_LENGTH = 8
_HUB_REAL = [8, 5, 3]


def _hub_inputs(with_segments=False):
    rng = np.random.default_rng(5)
    padding = np.arange(HUB_LENGTH)[None, :] < np.array(_HUB_REAL)[:, None]
    ids = np.where(padding, rng.integers(1, 50, (3, HUB_LENGTH)), 0)
    x = {"token_ids": ids, "padding_mask": padding}
    if with_segments:
        x["segment_ids"] = np.zeros_like(ids)
    return x


# Small configs, no download; GQA for Llama and Gemma (4 query heads, 2 keys).
_SMALL = {"vocabulary_size": 50, "num_layers": 2, "hidden_dim": 16}
_CONFIGS = {
    "bert": ("BertBackbone", {"num_heads": 2, "max_sequence_length": HUB_LENGTH}),
    "gpt2": ("GPT2Backbone", {"num_heads": 2, "max_sequence_length": HUB_LENGTH}),
    "llama": ("LlamaBackbone", {"num_query_heads": 4, "num_key_value_heads": 2}),
    "gemma": (
        "GemmaBackbone",
        {"num_query_heads": 4, "num_key_value_heads": 2, "head_dim": 8},
    ),
}


def hub_backbone(family):
    """A small keras-hub backbone and its inputs, some padded (no download)."""
    class_name, config = _CONFIGS[family]
    backbone = getattr(keras_hub.models, class_name)(
        **_SMALL, intermediate_dim=32, **config
    )
    return backbone, _hub_inputs(with_segments=family == "bert")
