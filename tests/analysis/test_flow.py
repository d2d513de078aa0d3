"""attention_flow: hand-computed cases, networkx and scipy references, padding."""

import numpy as np
import pytest

from keras_attnviz.analysis import attention_flow, attention_rollout

from . import references
from .references import V1, V2, V3, W1, W2


def test_two_layers_by_hand():
    # With two layers, flow from j to i is the sum over middle nodes k of
    # min(A1[k, j], A2[i, k]); A1 = [[0.75, 0.25], [0.1, 0.9]],
    # A2 = [[1, 0], [0.3, 0.7]].
    # i=0: j=0: min(0.75, 1) + min(0.1, 0) = 0.75
    #      j=1: min(0.25, 1) + min(0.9, 0) = 0.25
    # i=1: j=0: min(0.75, 0.3) + min(0.1, 0.7) = 0.4
    #      j=1: min(0.25, 0.3) + min(0.9, 0.7) = 0.95
    #      the row sums to 1.35: [0.4, 0.95] / 1.35 = [8/27, 19/27]
    expected = np.array([[0.75, 0.25], [8 / 27, 19 / 27]])
    np.testing.assert_allclose(attention_flow([W1, W2]), expected, rtol=1e-12)


def test_three_layers_by_hand():
    # residual=0, so the capacities are V1, V2, V3; s = input j, t = top i.
    # j=0, i=0: s->(1,0) 0.6, s->(1,1) 0.3; (2,0)->t 0.2, (2,1)->t 0.8.
    #   (1,0) sends 0.6 to (2,1) (cap 0.9); (1,1) sends 0.1 to (2,1), 0.2 to (2,0):
    #   0.9, all the source has.
    # j=1, i=0: s->(1,0) 0.4, s->(1,1) 0.7. Into (2,1) at most 0.4 + 0.1 (cap of
    #   (1,1)->(2,1)), into t from (2,0) at most 0.2: 0.7 (cut {s->(1,0),
    #   (1,1)->(2,1), (2,0)->t}).
    # j=0, i=1: only (2,0)->t (1.0): min(0.6, 0.5) + min(0.3, 0.5) = 0.8.
    # j=1, i=1: min(0.4, 0.5) + min(0.7, 0.5) = 0.9.
    # Rows: [0.9, 0.7] / 1.6 and [0.8, 0.9] / 1.7.
    expected = np.array([[0.5625, 0.4375], [8 / 17, 9 / 17]])
    got = attention_flow([V1, V2, V3], residual=0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_one_layer_is_the_mixed_weights(rng):
    layer = references.attention(rng, 3, 4, 4)
    np.testing.assert_allclose(
        attention_flow([layer], residual=0.25),
        references.mixed(layer, 0.25),
        rtol=1e-12,
    )


@pytest.mark.parametrize(("n_layers", "length"), [(2, 4), (3, 5), (5, 4), (4, 7)])
def test_matches_networkx_maximum_flow(rng, n_layers, length):
    layers = [references.attention(rng, 2, 2, length, length) for _ in range(n_layers)]
    got = attention_flow(layers, residual=0.4)
    for b in range(2):
        capacities = np.stack([references.mixed(layer[b], 0.4) for layer in layers])
        expected = references.normalised(references.networkx_flow(capacities))
        np.testing.assert_allclose(got[b], expected, rtol=1e-9, atol=1e-12)


def test_matches_scipy_maximum_flow_on_scaled_capacities(rng):
    # Sparse weights, so that the flow must turn back along used edges.
    layers = []
    for _ in range(4):
        weights = rng.random((6, 6)) * (rng.random((6, 6)) < 0.4)
        weights[:, 0] += 1e-3
        layers.append(weights / weights.sum(axis=1, keepdims=True))
    got = attention_flow(layers, residual=0.0)
    expected = references.normalised(references.scipy_flow(np.stack(layers)))
    np.testing.assert_allclose(got, expected, atol=1e-7)


def test_differs_from_rollout_where_paths_share_an_edge():
    # In the three-layer case rollout gives [[0.546, 0.454], [0.45, 0.55]].
    flow = attention_flow([V1, V2, V3], residual=0.0)
    rollout = attention_rollout([V1, V2, V3], residual=0.0)
    assert np.abs(flow - rollout).max() > 0.01


def test_padding_is_dropped_and_restored_as_zero(rng):
    layers = references.padded_layers(rng, references.REAL, 3)
    got = attention_flow(layers, key_mask=references.REAL)

    def reference(inner):
        capacities = np.stack([references.mixed(layer, 0.5) for layer in inner])
        return references.normalised(references.networkx_flow(capacities))

    references.assert_padding_dropped(got, layers, references.REAL, reference)


def test_a_sample_with_no_real_position_is_all_zero(rng):
    real = np.array([[True, True, False], [False, False, False]])
    layers = references.padded_layers(rng, real[:1], 2)
    layers = [np.concatenate([layer, layer]) for layer in layers]
    got = attention_flow(layers, key_mask=real)
    assert np.all(got[1] == 0)
    np.testing.assert_allclose(got[0].sum(axis=1), [1, 1, 0])


def test_refuses_a_cost_above_max_cost_before_any_work(rng):
    layers = [references.attention(rng, 3, 1, 32, 32) for _ in range(12)]
    # 3 samples x 12 layers x 32^4 = 37.7M > 2**24.
    with pytest.raises(ValueError, match=r"max_cost=1\.68e\+07.*cost of 3\.77e\+07"):
        attention_flow(layers)
    # Counted over real positions only: 3 x 12 x 16^4 fits.
    real = np.arange(32) < 16
    half = [layer * real for layer in layers]
    half = [layer / layer.sum(axis=-1, keepdims=True) for layer in half]
    mask = np.broadcast_to(real, (3, 32))
    assert attention_flow(half[:2], key_mask=mask, max_cost=2 * 3 * 16**4).shape == (
        3,
        32,
        32,
    )
    with pytest.raises(ValueError, match="max_cost"):
        attention_flow(half[:2], key_mask=mask, max_cost=2 * 3 * 16**4 - 1)
