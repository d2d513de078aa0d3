"""The analyses on a real probe result: two MultiHeadAttention layers with
Embedding(mask_zero=True), post-padded inputs."""

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz.analysis import attention_flow, attention_rollout, head_summary

from . import references

LENGTH, VOCAB = 7, 20
REAL = [7, 4, 5, 2]


@pytest.fixture(scope="module")
def result():
    layers = keras.layers
    ids = keras.Input((LENGTH,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(ids)
    x = layers.MultiHeadAttention(2, 4, name="first")(x, x)
    x = layers.MultiHeadAttention(2, 4, name="second")(x, x)
    pooled = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(ids, layers.Dense(1)(pooled))
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, VOCAB, (len(REAL), LENGTH))
    tokens[np.arange(LENGTH) >= np.array(REAL)[:, None]] = 0
    return keras_attnviz.AttentionProbe(model).predict(tokens, verbose=0)


def test_the_probe_gives_what_the_analyses_read(result):
    assert list(result.attention) == ["first", "second"]
    assert result.self_attention == {"first", "second"}
    assert result.attention["first"].shape == (len(REAL), 2, LENGTH, LENGTH)
    np.testing.assert_array_equal(result.key_masks["first"].sum(axis=1), REAL)


def real_layers(result, b):
    n = REAL[b]
    return [result.attention[name][b][:, :n, :n] for name in ("first", "second")]


def test_rollout_of_the_probe_result(result):
    rollout = attention_rollout(result)
    assert rollout.shape == (len(REAL), LENGTH, LENGTH)
    for b, n in enumerate(REAL):
        expected = references.rollout(real_layers(result, b), 0.5)
        np.testing.assert_allclose(rollout[b][:n, :n], expected, rtol=1e-6)
        assert np.all(rollout[b][n:] == 0) and np.all(rollout[b][:, n:] == 0)


def test_flow_of_the_probe_result(result):
    flow = attention_flow(result)
    for b, n in enumerate(REAL):
        capacities = np.stack(
            [references.mixed(layer, 0.5) for layer in real_layers(result, b)]
        )
        expected = references.normalised(references.networkx_flow(capacities))
        np.testing.assert_allclose(flow[b][:n, :n], expected, rtol=1e-6)
        assert np.all(flow[b][n:] == 0) and np.all(flow[b][:, n:] == 0)


def test_head_summary_of_the_probe_result(result):
    summary = head_summary(result)
    assert list(zip(summary["layer"], summary["head"], strict=True)) == [
        ("first", 0),
        ("first", 1),
        ("second", 0),
        ("second", 1),
    ]
    # An untrained head spreads its weight: entropy between 0 and log(7).
    assert summary["entropy"].between(0, np.log(LENGTH)).all()
    expected_self = np.concatenate(
        [np.diagonal(result.attention["first"][b, 0])[:n] for b, n in enumerate(REAL)]
    ).mean()
    # Padded queries are left out of the means.
    assert summary.loc[0, "self_weight"] == pytest.approx(expected_self, rel=1e-6)
