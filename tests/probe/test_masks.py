"""Masks and padding: padded keys get the model's weight, samples drop them."""

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz import AttentionProbe
from keras_attnviz.probe.results import AttentionMap

from .builders import VOCAB, assert_outputs_equal, classifier, layers, token_ids


@pytest.mark.parametrize(
    "attention",
    [
        lambda: keras_attnviz.AdditiveAttention(name="att"),
        lambda: keras_attnviz.DotProductAttention(name="att"),
    ],
    ids=["additive", "dot"],
)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padded_keys_get_zero_weight_and_samples_drop_them(rng, attention, padding):
    model = classifier(attention())
    real = [9, 4, 1, 6]
    ids = token_ids(rng, 4, 9, real)
    if padding == "pre":
        ids = np.stack([np.roll(row, 9 - n) for row, n in zip(ids, real, strict=True)])
    result = AttentionProbe(model).predict(ids, verbose=0)
    weights, mask = result.attention["att"], result.key_masks["att"]
    np.testing.assert_array_equal(mask, ids != 0)
    assert np.all(weights[~mask] == 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-5)
    for i, n in enumerate(real):
        tokens = [f"w{j}" for j in range(n)]
        amap = result.sample(i, tokens=tokens)
        assert isinstance(amap, AttentionMap)
        assert amap.tokens == tokens
        np.testing.assert_array_equal(amap.weights, weights[i][ids[i] != 0])


def test_self_attention_mask_trims_queries_and_keys(rng):
    inputs = keras.Input((7,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(inputs)
    x = layers.MultiHeadAttention(2, 4, name="mha")(x, x)
    model = keras.Model(inputs, layers.Dense(1)(layers.GlobalAveragePooling1D()(x)))
    ids = token_ids(rng, 3, 7, [7, 3, 5])
    result = AttentionProbe(model).predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    assert np.all(result.attention["mha"][1][:, :3, 3:] == 0)
    amap = result.sample(1, tokens=["a", "b", "c"])
    assert amap.weights.shape == (2, 3, 3)
    assert amap.query_tokens == ["a", "b", "c"]
    np.testing.assert_allclose(amap.weights.sum(axis=-1), 1, rtol=1e-5)


class SubclassedSelfAttention(keras.Model):
    """Embedding(mask_zero) -> MultiHeadAttention, the mask carried by tensors."""

    def __init__(self):
        super().__init__()
        self.embed = layers.Embedding(VOCAB, 8, mask_zero=True)
        self.mha = layers.MultiHeadAttention(2, 4, name="mha")
        self.pool = layers.GlobalAveragePooling1D()
        self.out = layers.Dense(1)

    def call(self, ids):
        x = self.embed(ids)
        return self.out(self.pool(self.mha(x, x)))


class MaskedBlock(layers.Layer):
    """Attention inside a custom layer, called on a masked tensor."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mha = layers.MultiHeadAttention(2, 4, name="mha")

    def call(self, x):
        return self.mha(x, x) + x


def _masked_models():
    inputs = keras.Input((7,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(inputs)
    functional = keras.Model(
        inputs, layers.Dense(1)(layers.GlobalAveragePooling1D()(MaskedBlock()(x)))
    )
    subclassed = SubclassedSelfAttention()
    subclassed(np.ones((1, 7), "int32"))
    return {"custom_layer": functional, "subclassed": subclassed}


@pytest.mark.parametrize("form", ["predict", "iter_batches", "eager", "jit"])
@pytest.mark.parametrize("kind", ["custom_layer", "subclassed"])
def test_masked_attention_outputs_equal_predict_in_every_call_form(rng, kind, form):
    # MultiHeadAttention takes the mask its inputs carry (a side table under
    # JAX, an attribute under TensorFlow) and clears it: the probe must read
    # it the same way Keras does, and run the layer as the model does.
    keras.utils.set_random_seed(0)
    model = _masked_models()[kind]
    if form == "eager":
        model.run_eagerly = True
    elif form == "jit":
        model.jit_compile = True
    ids = token_ids(rng, 5, 7, [7, 3, 5, 1, 6])
    probe = AttentionProbe(model)
    if form == "iter_batches":
        [result] = list(probe.iter_batches(ids, batch_size=8, verbose=0))
    else:
        result = probe.predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    [name] = result.attention
    weights = result.attention[name]
    np.testing.assert_array_equal(result.key_masks[name], ids != 0)
    # The mask was applied: real queries put no weight on padded keys.
    real_queries = (ids != 0)[:, None, :, None]
    padded_keys = (ids == 0)[:, None, None, :]
    applied = np.broadcast_to(real_queries & padded_keys, weights.shape)
    assert np.all(weights[applied] == 0)
