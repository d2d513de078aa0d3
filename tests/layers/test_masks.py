"""Masks that arrive by themselves, output masks, and fully masked rows."""

import keras
import numpy as np
import pytest
from attention_reference import as_numpy

from keras_attnviz.keras_internals import keras_mask
from keras_attnviz.layers import AdditiveAttention, DotProductAttention

LAYERS = [AdditiveAttention, DotProductAttention]
TOKENS = np.array([[3, 1, 4, 0, 0], [5, 9, 2, 6, 5], [0, 0, 0, 0, 0]])


def embedded_states():
    tokens = keras.Input((None,), dtype="int32")
    states = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    return tokens, states


@pytest.mark.parametrize("layer_class", LAYERS)
def test_embedding_mask_reaches_pooling(layer_class):
    tokens, states = embedded_states()
    context, weights = layer_class()(states, return_attention_scores=True)
    model = keras.Model(tokens, [context, weights])
    context, weights = model.predict(TOKENS, verbose=0)
    assert np.all(weights[TOKENS == 0] == 0.0)
    np.testing.assert_allclose(weights[:2].sum(-1), 1.0, rtol=1e-6)
    # The all-padding row attends nowhere.
    assert np.all(weights[2] == 0.0) and np.all(context[2] == 0.0)
    assert np.all(np.isfinite(context))


@pytest.mark.parametrize("layer_class", LAYERS)
def test_embedding_masks_reach_list_inputs(layer_class):
    tokens, states = embedded_states()
    context, weights = layer_class()([states, states], return_attention_scores=True)
    model = keras.Model(tokens, [context, weights])
    context, weights = model.predict(TOKENS, verbose=0)
    # Padded keys get no weight, padded queries no context.
    assert np.all(weights.transpose(0, 2, 1)[TOKENS == 0] == 0.0)
    assert np.all(context[TOKENS == 0] == 0.0)
    assert np.all(np.isfinite(context))


@pytest.mark.parametrize("layer_class", LAYERS)
def test_output_mask_is_the_query_mask(layer_class):
    tokens, states = embedded_states()
    sequence = layer_class()([states, states])
    assert keras_mask(sequence) is not None
    single = layer_class()([keras.layers.GlobalAveragePooling1D()(states), states])
    pooled = layer_class()(states)
    assert keras_mask(single) is None
    assert keras_mask(pooled) is None

    # Downstream, the padded query steps are skipped by an RNN.
    model = keras.Model(tokens, keras.layers.GRU(2)(sequence))
    padded = np.array([[3, 1, 0, 0, 0]])
    np.testing.assert_allclose(
        model.predict(padded, verbose=0),
        model.predict(padded[:, :2], verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("layer_class", LAYERS)
def test_fully_masked_rows_are_zero_with_huge_scores(layer_class, rng):
    values = 1e4 * rng.normal(size=(2, 3, 4)).astype("float32")
    mask = np.array([[0, 0, 0], [1, 0, 1]], bool)
    context, weights = layer_class()(values, mask=mask, return_attention_scores=True)
    context, weights = as_numpy(context), as_numpy(weights)
    assert np.all(np.isfinite(context)) and np.all(np.isfinite(weights))
    assert np.all(weights[0] == 0.0) and np.all(context[0] == 0.0)
    assert weights[1, 1] == 0.0
    np.testing.assert_allclose(weights[1].sum(), 1.0, rtol=1e-6)


def test_integer_masks_are_accepted(rng):
    values = rng.normal(size=(2, 3, 4)).astype("float32")
    layer = AdditiveAttention()
    _, from_int = layer(
        values, mask=np.array([[1, 0, 1], [1, 1, 0]]), return_attention_scores=True
    )
    _, from_bool = layer(
        values,
        mask=np.array([[1, 0, 1], [1, 1, 0]], bool),
        return_attention_scores=True,
    )
    np.testing.assert_array_equal(as_numpy(from_int), as_numpy(from_bool))
