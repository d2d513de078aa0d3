"""Attention through a fused kernel: `keras.ops.dot_product_attention` in a layer."""

import contextlib

import keras
import numpy as np
import pytest

from keras_attnviz import AttentionProbe, keras_internals
from keras_attnviz.probe import capture

from .builders import assert_outputs_equal, layers

HEADS, KEY_HEADS, DIM, LENGTH = 4, 2, 4, 6


class FusedSelfAttention(layers.Layer):
    """A user's attention layer that calls the fused kernel directly."""

    def __init__(self, causal=False, bias=False, **kwargs):
        super().__init__(**kwargs)
        self.causal, self.bias = causal, bias
        self.query = layers.EinsumDense("btd,dnh->btnh", (None, HEADS, DIM))
        self.key = layers.EinsumDense("btd,dnh->btnh", (None, KEY_HEADS, DIM))
        self.value = layers.EinsumDense("btd,dnh->btnh", (None, KEY_HEADS, DIM))

    def call(self, x, padding):
        mask = keras.ops.expand_dims(padding[:, None, :] & padding[:, :, None], 1)
        bias = None
        if self.bias:
            positions = keras.ops.arange(LENGTH, dtype="float32")
            bias = -0.1 * keras.ops.abs(positions[:, None] - positions[None, :])
        out = keras.ops.dot_product_attention(
            self.query(x),
            self.key(x),
            self.value(x),
            bias=bias,
            mask=mask,
            scale=0.3,
            is_causal=self.causal,
        )
        return keras.ops.reshape(out, (-1, LENGTH, HEADS * DIM))


def _model(**options):
    x = keras.Input((LENGTH, 8))
    padding = keras.Input((LENGTH,), dtype="bool")
    out = FusedSelfAttention(name="fused", **options)(x, padding)
    model = keras.Model([x, padding], layers.Dense(1)(layers.Flatten()(out)))
    return model, model.get_layer("fused")


def _reference(layer, x, padding):
    """The weights by NumPy: scaled logits, bias, masks, softmax, GQA heads."""
    q = keras.ops.convert_to_numpy(layer.query(x))
    k = np.repeat(keras.ops.convert_to_numpy(layer.key(x)), HEADS // KEY_HEADS, 2)
    logits = np.einsum("btnh,bsnh->bnts", q, k) * 0.3
    if layer.bias:
        positions = np.arange(LENGTH)
        logits += -0.1 * np.abs(positions[:, None] - positions[None, :])
    keep = (padding[:, None, :] & padding[:, :, None])[:, None]
    if layer.causal:
        keep = keep & np.tril(np.ones((LENGTH, LENGTH), bool))
    logits = np.where(keep, logits, -0.7 * np.finfo("float32").max)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


@contextlib.contextmanager
def _nothing_collected():
    """`fused_attention_weights_collected` where the kernel hands nothing on."""
    yield []


@pytest.fixture(params=["handed_on", "computed_beside"])
def kernel_weights(request, monkeypatch):
    """Both ways to the kernel's weights: handed on by TensorFlow's kernel, or
    computed beside it and checked (other backends and Keras versions)."""
    if request.param == "computed_beside":
        monkeypatch.setattr(
            keras_internals, "fused_attention_weights_collected", _nothing_collected
        )
    return request.param


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"causal": True},
        pytest.param(
            {"bias": True},
            marks=pytest.mark.skipif(
                keras.backend.backend() == "torch",
                reason="Keras's torch dot_product_attention refuses a bias "
                "with a mask, so no user layer can make this call there",
            ),
        ),
    ],
)
def test_fused_kernel_weights_equal_the_numpy_definition(rng, options, kernel_weights):
    model, layer = _model(**options)
    x = rng.normal(size=(3, LENGTH, 8)).astype("float32")
    padding = np.arange(LENGTH)[None, :] < np.array([[6], [4], [2]])
    probe = AttentionProbe(model)
    assert probe.layer_names == ["fused"]
    assert probe.describe() == [
        ("fused", "FusedSelfAttention", (None, HEADS, LENGTH, LENGTH))
    ]
    result = probe.predict([x, padding], verbose=0)
    assert_outputs_equal(result, model.predict([x, padding], verbose=0))
    weights = result.attention["fused"]
    expected = _reference(layer, x, padding)
    real = padding[:, None, :, None] & np.ones((1, HEADS, 1, LENGTH), bool)
    np.testing.assert_allclose(weights[real], expected[real], atol=1e-6)
    np.testing.assert_array_equal(result.key_masks["fused"], padding)
    assert result.causal == ({"fused"} if options.get("causal") else set())
    assert result.self_attention == {"fused"}  # one sequence (and its mask)


def test_weights_that_do_not_reproduce_the_kernel_are_refused(rng, monkeypatch):
    monkeypatch.setattr(
        keras_internals, "fused_attention_weights_collected", _nothing_collected
    )
    model, _ = _model()
    x = rng.normal(size=(2, LENGTH, 8)).astype("float32")
    padding = np.ones((2, LENGTH), bool)
    real = capture.fused_attention_weights

    def skewed(*args, **kwargs):
        weights, value = real(*args, **kwargs)
        return keras.ops.flip(weights, axis=-1), value

    monkeypatch.setattr(capture, "fused_attention_weights", skewed)
    with pytest.raises(ValueError, match="do not reproduce its output"):
        AttentionProbe(model).predict([x, padding], verbose=0)


def test_fused_calls_from_other_threads_are_not_recorded(rng):
    # While the probe traces its model, `keras.ops.dot_product_attention` is
    # patched for every thread; another thread's call must pass through.
    import threading

    from keras_attnviz.probe import discovery

    recorder = capture.Recorder(selected=set())
    site = discovery.Site(("fused",), None, discovery.FRAME, 0)
    q = rng.normal(size=(1, 3, 2, 4)).astype("float32")
    seen = []
    with recorder.inside(site, self_attention=True):
        assert recorder.innermost().site is site
        worker = threading.Thread(target=lambda: seen.append(recorder.innermost()))
        worker.start()
        worker.join()
        hooked = capture._fused_hook(keras.ops.dot_product_attention, recorder)
        hooked(q, q, q)
    assert seen == [None]
    assert recorder.captures == []  # the site was not selected


def test_multi_head_attention_on_the_fused_kernel(rng, kernel_weights):
    # Dropout 0 and no scores asked: model.predict takes the fused kernel.
    inputs = keras.Input((7,), dtype="int32")
    x = layers.Embedding(50, 8, mask_zero=True)(inputs)
    attention = layers.MultiHeadAttention(2, 4, name="mha")
    x = attention(x, x)
    model = keras.Model(inputs, layers.Dense(1)(layers.GlobalAveragePooling1D()(x)))
    ids = rng.integers(1, 50, (3, 7))
    ids[np.arange(7)[None, :] >= np.array([[7], [3], [5]])] = 0
    result = AttentionProbe(model).predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    embedded = model.layers[1](ids)
    mask = ids != 0
    _, expected = attention(
        embedded,
        embedded,
        query_mask=mask,
        value_mask=mask,
        return_attention_scores=True,
    )
    expected = keras.ops.convert_to_numpy(expected)
    weights = result.attention["mha"]
    real = np.broadcast_to(mask[:, None, :, None], weights.shape)
    np.testing.assert_allclose(weights[real], expected[real], atol=1e-6)
    # A query with no key to attend to gets zeros, as from the layer's own
    # softmax, whichever way the weights came.
    assert np.all(weights[~real] == 0)
