"""Every kind of attention layer, against the layer called directly."""

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz import AttentionProbe

from .builders import VOCAB, assert_outputs_equal, classifier, layers, token_ids

QUERY_LENGTH, KEY_LENGTH, DIM = 4, 6, 8


def _keras_attention():
    return layers.Attention(name="attention"), "list"


def _keras_additive():
    return layers.AdditiveAttention(name="attention"), "list"


def _mha():
    return layers.MultiHeadAttention(2, 4, name="attention"), "mha"


def _gqa():
    return layers.GroupQueryAttention(4, 4, 2, name="attention"), "mha"


def _ours_dot():
    return keras_attnviz.DotProductAttention(name="attention"), "list"


def _ours_additive():
    return keras_attnviz.AdditiveAttention(8, name="attention"), "list"


@pytest.mark.parametrize(
    "make", [_keras_attention, _keras_additive, _mha, _gqa, _ours_dot, _ours_additive]
)
@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_weights_equal_the_layer_called_directly(rng, make, cross):
    layer, style = make()
    query_in = keras.Input((QUERY_LENGTH if cross else KEY_LENGTH, DIM))
    value_in = keras.Input((KEY_LENGTH, DIM))
    inputs = [query_in, value_in] if cross else [query_in]
    value = value_in if cross else query_in
    out = layer(query_in, value) if style == "mha" else layer([query_in, value])
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(out)))

    probe = AttentionProbe(model)
    query = rng.normal(size=(5, *query_in.shape[1:])).astype("float32")
    values = rng.normal(size=(5, KEY_LENGTH, DIM)).astype("float32")
    x = [query, values] if cross else [query]
    result = probe.predict(x, verbose=0)

    assert_outputs_equal(result, model.predict(x, verbose=0))
    direct_values = values if cross else query
    if style == "mha":
        _, expected = layer(query, direct_values, return_attention_scores=True)
    else:
        _, expected = layer([query, direct_values], return_attention_scores=True)
    assert probe.layer_names == ["attention"]
    expected = keras.ops.convert_to_numpy(expected)
    np.testing.assert_allclose(result.attention["attention"], expected, atol=1e-6)
    # The symbolic shape is right too, also for cross-attention (Tq != Tk).
    [(name, class_name, shape)] = probe.describe()
    assert (name, class_name) == ("attention", type(layer).__name__)
    assert shape == (None, *np.shape(expected)[1:])
    assert result.self_attention == (set() if cross else {"attention"})


def test_pooling_layer_gives_one_weight_per_key(rng):
    model = classifier(keras_attnviz.AdditiveAttention(name="pool"), mask_zero=False)
    x = rng.integers(1, VOCAB, (7, 9))
    result = AttentionProbe(model).predict(x, verbose=0)
    assert result.attention["pool"].shape == (7, 9)
    np.testing.assert_allclose(result.attention["pool"].sum(axis=1), 1, rtol=1e-5)
    assert_outputs_equal(result, model.predict(x, verbose=0))


def test_layer_already_returning_scores_is_found(rng):
    inputs = keras.Input((5, 4))
    out, scores = layers.Attention(name="att")(
        [inputs, inputs], return_attention_scores=True
    )
    model = keras.Model(inputs, [out, scores])
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    result = AttentionProbe(model).predict(x, verbose=0)
    assert_outputs_equal(result, model.predict(x, verbose=0))
    np.testing.assert_array_equal(result.attention["att"], result.outputs[1])


@pytest.mark.filterwarnings("ignore:.*does not support masking")
@pytest.mark.parametrize("kind", ["mha", "gqa"])
def test_masked_fused_attention_outputs_equal_predict_at_padded_queries(rng, kind):
    # The fused kernel gives padded queries the mean of the values; asked for
    # scores, Keras computes a softmax that gives them zeros. Flatten and mean
    # read the padded queries, so the probe must keep the fused outputs.
    if kind == "mha":
        attention = layers.MultiHeadAttention(2, 4, name="attention")
    else:
        attention = layers.GroupQueryAttention(4, 4, 2, name="attention")
    inputs = keras.Input((7,), dtype="int32")
    embedding = layers.Embedding(VOCAB, 8, mask_zero=True)
    x = attention(embedding(inputs), embedding(inputs))
    flat = layers.Dense(2)(layers.Flatten()(x))
    mean = keras.ops.mean(x, axis=1)
    model = keras.Model(inputs, [flat, mean])
    ids = token_ids(rng, 4, 7, [7, 3, 5, 1])
    result = AttentionProbe(model).predict(ids, verbose=0)
    for got, want in zip(result.outputs, model.predict(ids, verbose=0), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # The scores are still those of the masked softmax.
    embedded = embedding(ids)
    _, expected = attention(embedded, embedded, return_attention_scores=True)
    expected = keras.ops.convert_to_numpy(expected)
    np.testing.assert_allclose(result.attention["attention"], expected, atol=1e-6)
    np.testing.assert_array_equal(result.key_masks["attention"], ids != 0)
    assert np.all(result.attention["attention"][1][:, :3, 3:] == 0)


@pytest.mark.parametrize("make", [_mha, _gqa])
def test_causal_fused_attention_without_a_mask_keeps_predict_outputs(rng, make):
    # A causal mask alone leaves every query a key, so one call is enough.
    layer, _ = make()
    inputs = keras.Input((KEY_LENGTH, DIM))
    x = layer(inputs, inputs, use_causal_mask=True)
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))
    x_data = rng.normal(size=(5, KEY_LENGTH, DIM)).astype("float32")
    result = AttentionProbe(model).predict(x_data, verbose=0)
    assert_outputs_equal(result, model.predict(x_data, verbose=0))
    weights = result.attention["attention"]
    future = np.triu(np.ones((KEY_LENGTH, KEY_LENGTH), bool), k=1)
    assert np.all(weights[..., future] == 0)
