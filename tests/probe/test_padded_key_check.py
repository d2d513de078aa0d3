"""The check that a layer's weights leave padded keys alone, against NumPy."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_attnviz.probe.attention_probe import (
    _padded_keys_weighted,
    _weight_on_padded_keys,
)


def _reference(weights, padded):
    """The weight on padded keys, summed over a masked copy in float64."""
    shape = (len(weights), *(1,) * (weights.ndim - 2), -1)
    return np.where(padded.reshape(shape), weights, 0).sum(axis=-1, dtype="float64")


@st.composite
def weights_and_padding(draw):
    n, n_keys = draw(st.integers(1, 4)), draw(st.integers(1, 9))
    middle = draw(st.lists(st.integers(1, 3), max_size=2))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    weights = draw(
        hnp.arrays(
            dtype,
            (n, *middle, n_keys),
            elements=st.floats(0, 1, width=16) | st.just(float("nan")),
        )
    )
    padded = draw(hnp.arrays(np.bool_, (n, n_keys)))
    return weights, padded


@settings(max_examples=300, deadline=None, derandomize=True)
@given(weights_and_padding())
def test_weight_on_padded_keys_matches_a_masked_sum(case):
    weights, padded = case
    got = _weight_on_padded_keys(weights, padded)
    expected = _reference(weights, padded)
    assert got.shape == expected.shape
    # A NaN on a real key must not hide the padding's weight: NaN exactly
    # where the padded keys themselves hold one.
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    tolerance = 1e-3 if weights.dtype == np.float16 else 1e-5
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_nan_on_a_real_key_does_not_hide_weight_on_padding():
    key_mask = np.array([[True, True, False]])
    weights = np.array([[[np.nan, 0.2, 0.8]]], dtype=np.float32)
    assert _padded_keys_weighted(weights, key_mask, None)
    weights = np.array([[[np.nan, 1.0, 0.0]]], dtype=np.float32)
    assert not _padded_keys_weighted(weights, key_mask, None)
