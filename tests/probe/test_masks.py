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
