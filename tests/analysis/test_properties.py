"""Hypothesis properties of rollout and flow on random weights."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_attnviz.analysis import attention_flow, attention_rollout


@st.composite
def stacks(draw, max_layers=4, max_length=6):
    """A list of `(H, T, T)` weights with rows summing to 1, some entries 0."""
    n_layers = draw(st.integers(1, max_layers))
    heads = draw(st.integers(1, 3))
    length = draw(st.integers(1, max_length))
    elements = st.one_of(st.just(0.0), st.floats(1e-3, 1.0))
    layers = []
    for _ in range(n_layers):
        raw = draw(hnp.arrays(np.float64, (heads, length, length), elements=elements))
        raw[..., 0] += 1e-3  # no empty row
        layers.append(raw / raw.sum(axis=-1, keepdims=True))
    return layers


residuals = st.floats(0.0, 1.0)
reductions = st.sampled_from(["mean", "max", "min"])


@settings(deadline=None, max_examples=60)
@given(stacks(), st.floats(0.01, 1.0), reductions)
def test_rollout_rows_sum_to_one(layers, residual, head_reduction):
    rollout = attention_rollout(
        layers, residual=residual, head_reduction=head_reduction
    )
    assert rollout.shape == layers[0].shape[1:]
    assert np.all(rollout >= 0)
    np.testing.assert_allclose(rollout.sum(axis=1), 1, rtol=1e-9)


@pytest.mark.parametrize("analysis", [attention_rollout, attention_flow])
@settings(deadline=None, max_examples=30)
@given(layers=stacks(), head_reduction=reductions)
def test_residual_one_gives_the_identity(analysis, layers, head_reduction):
    result = analysis(layers, residual=1.0, head_reduction=head_reduction)
    np.testing.assert_array_equal(result, np.eye(len(result)))


@settings(deadline=None, max_examples=30)
@given(stacks(max_layers=1))
def test_one_layer_without_residual_is_its_mean_over_heads(layers):
    rollout = attention_rollout(layers, residual=0.0)
    np.testing.assert_allclose(rollout, layers[0].mean(axis=0), rtol=1e-12)


@settings(deadline=None, max_examples=40)
@given(stacks(), residuals)
def test_flow_values_lie_in_zero_one_and_rows_sum_to_one(layers, residual):
    flow = attention_flow(layers, residual=residual)
    assert flow.shape == layers[0].shape[1:]
    assert np.all((flow >= 0) & (flow <= 1))
    np.testing.assert_allclose(flow.sum(axis=1), 1, rtol=1e-9)
