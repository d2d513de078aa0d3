"""attention_rollout: hand-computed cases, a plain-loop reference, properties."""

import numpy as np
import pytest

from keras_attnviz.analysis import attention_rollout

from . import references
from .references import V1, V2, V3, W1, W2


def test_two_layers_by_hand():
    # A1 = 0.5 I + 0.5 W1 = [[0.75, 0.25], [0.1, 0.9]]
    # A2 = 0.5 I + 0.5 W2 = [[1.0, 0.0], [0.3, 0.7]]
    # A2 @ A1 = [[0.75, 0.25], [0.3 * 0.75 + 0.7 * 0.1, 0.3 * 0.25 + 0.7 * 0.9]]
    expected = np.array([[0.75, 0.25], [0.295, 0.705]])
    np.testing.assert_allclose(attention_rollout([W1, W2]), expected, rtol=1e-12)


def test_order_is_from_the_input_upwards():
    # A1 @ A2 = [[0.75 + 0.25 * 0.3, 0.25 * 0.7], [0.1 + 0.9 * 0.3, 0.9 * 0.7]]
    expected = np.array([[0.825, 0.175], [0.37, 0.63]])
    np.testing.assert_allclose(attention_rollout([W2, W1]), expected, rtol=1e-12)


def test_three_layers_without_residual_by_hand():
    # V2 @ V1 = [[0.5*0.6 + 0.5*0.3, 0.5*0.4 + 0.5*0.7],
    #            [0.9*0.6 + 0.1*0.3, 0.9*0.4 + 0.1*0.7]] = [[0.45, 0.55], [0.57, 0.43]]
    # V3 @ (V2 @ V1) = [[0.2*0.45 + 0.8*0.57, 0.2*0.55 + 0.8*0.43], [0.45, 0.55]]
    expected = np.array([[0.546, 0.454], [0.45, 0.55]])
    got = attention_rollout([V1, V2, V3], residual=0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("head_reduction", "expected"),
    [
        # mean of the heads: 0.5 everywhere; 0.5 I + 0.5 * 0.5 = [[0.75, 0.25], ...]
        ("mean", [[0.75, 0.25], [0.25, 0.75]]),
        # max: 1 everywhere; 0.5 I + 0.5 = [[1, 0.5], [0.5, 1]], rows / 1.5
        ("max", [[2 / 3, 1 / 3], [1 / 3, 2 / 3]]),
        # min: 0 everywhere; 0.5 I, rows / 0.5
        ("min", [[1.0, 0.0], [0.0, 1.0]]),
    ],
)
def test_head_reductions_by_hand(head_reduction, expected):
    heads = np.array([np.eye(2), np.eye(2)[::-1]])  # (H=2, T, T)
    got = attention_rollout([heads], head_reduction=head_reduction)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_batch_matches_a_plain_loop_per_sample(rng):
    layers = [references.attention(rng, 4, 3, 6, 6) for _ in range(5)]
    got = attention_rollout(layers, residual=0.3)
    for b in range(4):
        expected = references.rollout([layer[b] for layer in layers], 0.3)
        np.testing.assert_allclose(got[b], expected, rtol=1e-10)


def test_float32_weights_give_float64_results(rng):
    layers = [references.attention(rng, 2, 5, 5).astype(np.float32) for _ in range(2)]
    got = attention_rollout(layers)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, references.rollout(layers, 0.5), rtol=1e-6)


def test_mapping_layers_are_taken_in_order():
    by_name = attention_rollout({"first": W2, "second": W1})
    np.testing.assert_array_equal(by_name, attention_rollout([W2, W1]))


def test_padding_is_dropped_and_restored_as_zero(rng):
    layers = references.padded_layers(rng, references.REAL, 3)
    got = attention_rollout(layers, key_mask=references.REAL)
    references.assert_padding_dropped(
        got, layers, references.REAL, lambda inner: references.rollout(inner, 0.5)
    )


def test_unbatched_weights_take_a_one_dimensional_key_mask(rng):
    layers = [
        layer[0] for layer in references.padded_layers(rng, references.REAL[:1], 2)
    ]
    got = attention_rollout(layers, key_mask=references.REAL[0])
    assert got.shape == (5, 5)
    np.testing.assert_allclose(
        got[:3, :3], references.rollout([layer[:, :3, :3] for layer in layers], 0.5)
    )
    assert np.all(got[3:] == 0) and np.all(got[:, 3:] == 0)
