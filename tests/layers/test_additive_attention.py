"""AdditiveAttention: projections, units, parity with Keras's AdditiveAttention."""

import keras
import numpy as np
import pytest
from attention_reference import as_numpy, assert_outputs_close

from keras_attnviz.layers import AdditiveAttention


@pytest.mark.parametrize("masked", [False, True])
def test_identity_projections_equal_keras_additive_attention(rng, masked):
    # With W_q = W_k = I and b = 0, v^T tanh(q + k) is Keras's score with
    # its learned scale as v.
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    values = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = [None, np.array([[1, 1, 0, 1, 0], [1] * 5], bool)] if masked else None
    ours = AdditiveAttention()
    ours([query, values])
    theirs = keras.layers.AdditiveAttention()
    theirs([query, values])
    score_vector = rng.normal(size=4).astype("float32")
    ours.query_kernel.assign(np.eye(4, dtype="float32"))
    ours.key_kernel.assign(np.eye(4, dtype="float32"))
    ours.score_vector.assign(score_vector)
    theirs.scale.assign(score_vector)
    assert_outputs_close(
        ours([query, values], mask=mask, return_attention_scores=True),
        theirs([query, values], mask=mask, return_attention_scores=True),
    )


def test_units_default_to_key_size(rng):
    query = rng.normal(size=(2, 3)).astype("float32")
    values = rng.normal(size=(2, 5, 7)).astype("float32")
    keys = rng.normal(size=(2, 5, 4)).astype("float32")
    layer = AdditiveAttention()
    layer([query, values, keys])
    assert {w.name: w.shape for w in layer.weights} == {
        "query_kernel": (3, 4),
        "key_kernel": (4, 4),
        "bias": (4,),
        "score_vector": (4,),
    }


def test_pooling_has_no_query_kernel(rng):
    layer = AdditiveAttention(units=6)
    layer(rng.normal(size=(2, 5, 4)).astype("float32"))
    assert {w.name: w.shape for w in layer.weights} == {
        "key_kernel": (4, 6),
        "bias": (6,),
        "score_vector": (6,),
    }


def test_pooling_weights_follow_the_scores(rng):
    # The pooled weights favour the step whose projected key aligns with v.
    layer = AdditiveAttention(units=2)
    values = np.zeros((1, 3, 2), "float32")
    values[0, 1] = [3.0, 3.0]
    layer(values)
    layer.key_kernel.assign(np.eye(2, dtype="float32"))
    layer.score_vector.assign(np.ones(2, dtype="float32"))
    _, weights = layer(values, return_attention_scores=True)
    assert np.argmax(as_numpy(weights)[0]) == 1


def test_get_config_round_trip():
    layer = AdditiveAttention(units=16, dropout=0.2, seed=1, name="bahdanau")
    config = layer.get_config()
    assert {k: config[k] for k in ("units", "dropout", "seed", "name")} == {
        "units": 16,
        "dropout": 0.2,
        "seed": 1,
        "name": "bahdanau",
    }
    assert AdditiveAttention.from_config(config).get_config() == config
