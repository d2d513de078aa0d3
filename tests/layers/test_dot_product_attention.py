"""DotProductAttention: parity with keras.layers.Attention, scale, score modes."""

import keras
import numpy as np
import pytest
from attention_reference import as_numpy, assert_outputs_close

from keras_attnviz.layers import DotProductAttention


@pytest.fixture
def seq2seq(rng):
    query = rng.normal(size=(3, 4, 8)).astype("float32")
    values = rng.normal(size=(3, 6, 8)).astype("float32")
    keys = rng.normal(size=(3, 6, 8)).astype("float32")
    return query, values, keys


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_keys", [False, True])
def test_unscaled_dot_equals_keras_attention(seq2seq, causal, with_keys):
    query, values, keys = seq2seq
    inputs = [query, values, keys] if with_keys else [query, values]
    ours = DotProductAttention(scale=False)(
        inputs, return_attention_scores=True, use_causal_mask=causal
    )
    theirs = keras.layers.Attention()(
        inputs, return_attention_scores=True, use_causal_mask=causal
    )
    assert_outputs_close(ours, theirs)


def test_unscaled_dot_equals_keras_attention_with_masks(seq2seq, rng):
    query, values, _ = seq2seq
    query_mask = rng.random((3, 4)) > 0.3
    # Every row keeps a key: Keras spreads a fully masked row uniformly.
    value_mask = np.array([[1, 1, 0, 1, 0, 0], [1] * 6, [0, 0, 0, 0, 0, 1]], bool)
    mask = [query_mask, value_mask]
    ours = DotProductAttention(scale=False)(
        [query, values], mask=mask, return_attention_scores=True
    )
    theirs = keras.layers.Attention()(
        [query, values], mask=mask, return_attention_scores=True
    )
    assert_outputs_close(ours, theirs)


def test_scale_true_divides_by_sqrt_key_size(seq2seq):
    query, values, _ = seq2seq
    scaled = DotProductAttention(scale=True)(
        [query, values], return_attention_scores=True
    )
    # A float multiplies the scores, as keras.layers.Attention's scale does.
    fixed = DotProductAttention(scale=1 / np.sqrt(8))(
        [query, values], return_attention_scores=True
    )
    unscaled = DotProductAttention(scale=False)(
        [query / np.sqrt(8), values], return_attention_scores=True
    )
    assert_outputs_close(scaled, fixed)
    assert_outputs_close(scaled, unscaled)


def test_float_scale_sharpens_the_weights(seq2seq):
    query, values, _ = seq2seq
    _, soft = DotProductAttention(scale=0.01)(
        [query, values], return_attention_scores=True
    )
    _, sharp = DotProductAttention(scale=10.0)(
        [query, values], return_attention_scores=True
    )
    assert as_numpy(sharp).max(-1).mean() > as_numpy(soft).max(-1).mean()


def test_general_score_with_identity_kernel_is_dot(seq2seq):
    query, values, _ = seq2seq
    general = DotProductAttention(score="general")
    general([query, values])
    general.kernel.assign(np.eye(8, dtype="float32"))
    assert_outputs_close(
        general([query, values], return_attention_scores=True),
        DotProductAttention()([query, values], return_attention_scores=True),
    )


def test_weights_created_per_form(seq2seq):
    query, values, _ = seq2seq
    pooling = DotProductAttention()
    pooling(values)
    assert [(w.name, w.shape) for w in pooling.weights] == [("pooling_query", (8,))]
    general = DotProductAttention(score="general")
    general([query[..., :5], values])
    assert [(w.name, w.shape) for w in general.weights] == [("kernel", (5, 8))]
    dot = DotProductAttention()
    dot([query, values])
    assert dot.weights == []


def test_get_config_round_trip():
    layer = DotProductAttention(
        score="general", scale=0.5, dropout=0.1, seed=3, name="a"
    )
    clone = DotProductAttention.from_config(layer.get_config())
    assert (clone.score, clone.scale, clone.dropout, clone.seed, clone.name) == (
        "general",
        0.5,
        0.1,
        3,
        "a",
    )
