"""Properties of attention weights that hold for any input (hypothesis)."""

import numpy as np
import pytest
from attention_reference import as_numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_attnviz.layers import AdditiveAttention, DotProductAttention

LAYERS = {
    "additive": AdditiveAttention,
    "dot": DotProductAttention,
    "general": lambda: DotProductAttention(score="general", scale=0.5),
}
# Keras warns about a softmax over one step; a one-step sequence is a valid case.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
SETTINGS = settings(max_examples=25, deadline=None)
finite = st.floats(-5, 5, allow_nan=False, width=32)


@st.composite
def attention_case(draw):
    """Values, a value mask, an optional query and a layer name."""
    batch, steps, dim = (draw(st.integers(1, n)) for n in (3, 6, 4))
    values = draw(hnp.arrays("float32", (batch, steps, dim), elements=finite))
    mask = draw(hnp.arrays(bool, (batch, steps)))
    query_shape = draw(st.sampled_from([None, (batch, dim), (batch, 2, dim)]))
    query = None
    if query_shape is not None:
        query = draw(hnp.arrays("float32", query_shape, elements=finite))
    return values, mask, query, draw(st.sampled_from(sorted(LAYERS)))


def attend(name, values, mask, query):
    layer = LAYERS[name]()
    if query is None:
        outputs = layer(values, mask=mask, return_attention_scores=True)
    else:
        outputs = layer(
            [query, values], mask=[None, mask], return_attention_scores=True
        )
    return tuple(as_numpy(x, "float64") for x in outputs), layer


@SETTINGS
@given(attention_case())
def test_weights_are_a_distribution_over_unmasked_keys(case):
    values, mask, query, name = case
    (context, weights), _ = attend(name, values, mask, query)
    key_mask = mask if weights.ndim == 2 else mask[:, None, :]
    key_mask = np.broadcast_to(key_mask, weights.shape)
    assert np.all(weights >= 0)
    assert np.all(weights[~key_mask] == 0)
    expected_total = key_mask.any(-1).astype("float64")
    np.testing.assert_allclose(weights.sum(-1), expected_total, atol=1e-5)
    # The context is the weighted sum of the values.
    weighted = np.einsum("b...t,btd->b...d", weights, values.astype("float64"))
    np.testing.assert_allclose(context, weighted, rtol=1e-4, atol=1e-4)


@SETTINGS
@given(attention_case(), st.randoms(use_true_random=False))
def test_pooling_is_permutation_equivariant(case, random):
    values, mask, _, name = case
    order = list(range(values.shape[1]))
    random.shuffle(order)
    (context, weights), layer = attend(name, values, mask, None)
    permuted_context, permuted_weights = (
        as_numpy(x)
        for x in layer(
            values[:, order], mask=mask[:, order], return_attention_scores=True
        )
    )
    np.testing.assert_allclose(permuted_weights, weights[:, order], atol=1e-6)
    np.testing.assert_allclose(permuted_context, context, rtol=1e-5, atol=1e-5)
