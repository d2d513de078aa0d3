"""Finding attention in graph models, nested models, several inputs and outputs."""

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz import AttentionProbe

from .builders import VOCAB, assert_outputs_equal, layers, token_ids


def _self_attention_encoder(attention_name):
    """A Functional model holding one self-attention layer, to nest in another."""
    inputs = keras.Input((None, 8))
    attention = layers.MultiHeadAttention(2, 4, name=attention_name)
    return keras.Model(inputs, attention(inputs, inputs), name="encoder")


def test_discovers_layers_inside_nested_functional_and_sequential(rng):
    encoder = _self_attention_encoder("attention")
    pooler = keras.Sequential(
        [keras.Input((None, 8)), keras_attnviz.AdditiveAttention(name="attention")],
        name="pooler",
    )
    inputs = keras.Input((6, 8))
    x = encoder(inputs)
    x = layers.Attention(name="outer")([x, x])
    model = keras.Model(inputs, layers.Dense(1)(pooler(x)))

    probe = AttentionProbe(model)
    # Two layers share the plain name "attention": both get their path.
    assert probe.layer_names == ["encoder/attention", "outer", "pooler/attention"]
    x_data = rng.normal(size=(4, 6, 8)).astype("float32")
    result = probe.predict(x_data, verbose=0)
    assert_outputs_equal(result, model.predict(x_data, verbose=0))
    assert result.attention["encoder/attention"].shape == (4, 2, 6, 6)
    assert result.attention["pooler/attention"].shape == (4, 6)

    only = AttentionProbe(model, layers=["pooler/attention"])
    assert only.layer_names == ["attention"]
    np.testing.assert_array_equal(
        only.predict(x_data, verbose=0).attention["attention"],
        result.attention["pooler/attention"],
    )


@pytest.mark.filterwarnings("ignore:.*does not support masking")
def test_nested_attention_gets_the_mask_of_the_nested_input(rng):
    encoder = _self_attention_encoder("self")
    inputs = keras.Input((6,), dtype="int32")
    x = encoder(layers.Embedding(VOCAB, 8, mask_zero=True)(inputs))
    model = keras.Model(inputs, layers.Dense(1)(layers.Flatten()(x)))
    ids = token_ids(rng, 3, 6, [6, 2, 4])
    result = AttentionProbe(model).predict(ids, verbose=0)
    np.testing.assert_array_equal(result.key_masks["self"], ids != 0)
    # Keras masks the nested layer at run time: padded keys get no weight.
    assert np.all(result.attention["self"][1][..., 2:] == 0)
    assert result.sample(1, tokens=["a", "b"]).weights.shape == (2, 2, 2)


@pytest.mark.filterwarnings("ignore:.*does not support masking")
@pytest.mark.parametrize("strides", [1, 2])
def test_nested_attention_behind_a_mask_dropping_layer_gets_no_mask(rng, strides):
    # Conv1D drops the mask (and with strides=2 halves the sequence): the
    # attention inside never sees the caller's mask, so none is reported.
    nested_in = keras.Input((10, 8))
    x = layers.Conv1D(8, 3, strides=strides, padding="same")(nested_in)
    nested = keras.Model(
        nested_in, keras_attnviz.AdditiveAttention(name="att")(x), name="inner"
    )
    result, _ = _probe_nested(rng, nested)
    weights = result.attention["att"]
    assert weights.shape == (3, 10 // strides)
    assert "att" not in result.key_masks
    amap = result.sample(0)
    np.testing.assert_array_equal(amap.weights, weights[0])
    np.testing.assert_allclose(amap.weights.sum(), 1, rtol=1e-5)


def _probe_nested(rng, nested):
    """Probes `nested` called on a masked Embedding; outputs checked."""
    inputs = keras.Input((10,), dtype="int32")
    x = nested(layers.Embedding(VOCAB, 8, mask_zero=True)(inputs))
    model = keras.Model(inputs, layers.Dense(1)(x))
    ids = token_ids(rng, 3, 10, [6, 10, 3])
    result = AttentionProbe(model).predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    return result, ids


@pytest.mark.parametrize("sequential", [False, True])
def test_nested_attention_behind_mask_carrying_layers_keeps_the_mask(rng, sequential):
    # A GRU carries the caller's mask on inside the nested model, and the
    # attention applies it: the probe reports it, so sample() drops padding.
    if sequential:
        nested = keras.Sequential(
            [
                keras.Input((10, 8)),
                layers.GRU(8, return_sequences=True),
                keras_attnviz.AdditiveAttention(name="att"),
            ],
            name="inner",
        )
    else:
        nested_in = keras.Input((10, 8))
        states = layers.GRU(8, return_sequences=True)(nested_in)
        nested = keras.Model(
            nested_in,
            keras_attnviz.AdditiveAttention(name="att")(states),
            name="inner",
        )
    result, ids = _probe_nested(rng, nested)
    np.testing.assert_array_equal(result.key_masks["att"], ids != 0)
    assert np.all(result.attention["att"][ids == 0] == 0.0)
    amap = result.sample(2, "att", tokens=["a", "b", "c"])
    assert amap.weights.shape == (3,)
    np.testing.assert_allclose(amap.weights.sum(), 1, rtol=1e-5)


def test_mask_that_a_layer_did_not_apply_is_not_reported(rng):
    # MultiHeadAttention removes the masks of its inputs when it runs, so the
    # other layer attending over the same tensor sees none at run time.
    inputs = keras.Input((6,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(inputs)
    _, scores = keras_attnviz.DotProductAttention(name="self")(
        [x, x], return_attention_scores=True
    )
    mixed = layers.MultiHeadAttention(2, 4, name="mha")(x, x)
    model = keras.Model(inputs, [scores, mixed])
    ids = token_ids(rng, 3, 6, [3, 6, 4])
    expected = model.predict(ids, verbose=0)
    assert expected[0][0][:, 3:].min() > 0.01  # the model itself used no mask
    result = AttentionProbe(model).predict(ids, verbose=0)
    assert_outputs_equal(result, expected)
    np.testing.assert_array_equal(result.attention["self"], expected[0])
    assert "self" not in result.key_masks and "self" not in result.query_masks
    amap = result.sample(0, "self")
    np.testing.assert_allclose(amap.weights.sum(axis=-1), 1, rtol=1e-5)
    # The masks that are reported are the ones applied: padded keys weigh 0.
    for name, mask in result.key_masks.items():
        weights = result.attention[name]
        padded = ~mask.reshape(len(mask), *(1,) * (weights.ndim - 2), -1)
        assert np.all(np.where(padded, weights, 0) == 0)


def test_causal_pooling_trims_padded_queries_too(rng):
    inputs = keras.Input((6,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(inputs)
    x = keras_attnviz.AdditiveAttention(name="causal")(x, use_causal_mask=True)
    pooled = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, layers.Dense(1)(pooled))
    ids = np.array([[0, 0, 0, 4, 5, 6]])
    result = AttentionProbe(model).predict(ids, verbose=0)
    weights = result.attention["causal"]
    assert weights.shape == (1, 6, 6)  # each key position is also a query
    assert result.self_attention == {"causal"}
    amap = result.sample(0, tokens=["a", "b", "c"])
    assert amap.query_tokens == ["a", "b", "c"]
    np.testing.assert_array_equal(amap.weights, weights[0][3:, 3:])
    np.testing.assert_allclose(np.tril(amap.weights).sum(axis=-1), 1, rtol=1e-5)


def test_sequential_model_and_shared_layer_calls(rng):
    shared = layers.Attention(name="att")
    a, b = keras.Input((3, 4), name="a"), keras.Input((5, 4), name="b")
    model = keras.Model(
        {"a": a, "b": b},
        {"first": shared([a, b]), "second": shared([b, a])},
    )
    probe = AttentionProbe(model)
    assert probe.layer_names == ["att", "att:1"]
    x = {"a": rng.normal(size=(2, 3, 4)), "b": rng.normal(size=(2, 5, 4))}
    result = probe.predict(x, verbose=0)
    assert_outputs_equal(result, model.predict(x, verbose=0))
    # One entry per call, in the order the model computes them.
    shapes = {result.attention[name].shape for name in ("att", "att:1")}
    assert shapes == {(2, 3, 5), (2, 5, 3)}

    sequential = keras.Sequential(
        [
            keras.Input((7,)),
            layers.Embedding(VOCAB, 4),
            keras_attnviz.AdditiveAttention(),
        ]
    )
    ids = rng.integers(1, VOCAB, (3, 7))
    sequential_result = AttentionProbe(sequential).predict(ids, verbose=0)
    assert_outputs_equal(sequential_result, sequential.predict(ids, verbose=0))


def test_several_inputs_and_outputs_keep_the_predict_structure(rng):
    q_in = keras.Input((4,), dtype="int32", name="query")
    v_in = keras.Input((6,), dtype="int32", name="values")
    embed = layers.Embedding(VOCAB, 8, mask_zero=True)
    q, v = embed(q_in), embed(v_in)
    cross = layers.MultiHeadAttention(2, 4, name="cross")(q, v)
    pooled = keras_attnviz.AdditiveAttention(name="pool")(v)
    model = keras.Model(
        [q_in, v_in],
        [
            layers.Dense(3)(layers.GlobalAveragePooling1D()(cross)),
            layers.Dense(1)(pooled),
        ],
    )
    x = [
        token_ids(rng, 6, 4, [4, 3, 2, 4, 1, 4]),
        token_ids(rng, 6, 6, [6, 2, 5, 1, 3, 6]),
    ]
    result = AttentionProbe(model).predict(x, batch_size=4, verbose=0)
    assert_outputs_equal(result, model.predict(x, batch_size=4, verbose=0))
    assert result.attention["cross"].shape == (6, 2, 4, 6)  # (heads, Tq, Tk)
    np.testing.assert_array_equal(result.key_masks["cross"], x[1] != 0)
    np.testing.assert_array_equal(result.query_masks["cross"], x[0] != 0)
    np.testing.assert_array_equal(result.key_masks["pool"], x[1] != 0)
    amap = result.sample(1, "cross", tokens=["v1", "v2"], query_tokens=list("abc"))
    assert amap.weights.shape == (2, 3, 2)
