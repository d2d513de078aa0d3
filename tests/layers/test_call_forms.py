"""Both layers against the NumPy reference, in every call form and mask setting."""

import keras
import numpy as np
import pytest
from attention_reference import as_numpy, assert_outputs_close, reference_attention

from keras_attnviz.layers import AdditiveAttention, DotProductAttention

LAYERS = {
    "additive": lambda **kw: AdditiveAttention(**kw),
    "additive_units3": lambda **kw: AdditiveAttention(units=3, **kw),
    "dot": lambda **kw: DotProductAttention(**kw),
    "dot_unscaled": lambda **kw: DotProductAttention(scale=False, **kw),
    "dot_scale_float": lambda **kw: DotProductAttention(scale=0.25, **kw),
    "general": lambda **kw: DotProductAttention(score="general", **kw),
}
FORMS = ["pooling", "query_2d", "query_3d", "query_keys"]
BATCH, STEPS, QUERY_STEPS, DIM = 3, 5, 4, 4
# Row 0 partly masked, row 1 unmasked, row 2 fully masked.
VALUE_MASK = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)


def make_inputs(rng, form):
    """`(layer_inputs, reference_kwargs)` for one call form."""
    values = rng.normal(size=(BATCH, STEPS, DIM)).astype("float32")
    if form == "pooling":
        return values, {"values": values}
    query_shape = (BATCH, DIM) if form == "query_2d" else (BATCH, QUERY_STEPS, DIM)
    query = rng.normal(size=query_shape).astype("float32")
    if form != "query_keys":
        return [query, values], {"values": values, "query": query}
    keys = rng.normal(size=(BATCH, STEPS, DIM)).astype("float32")
    return [query, values, keys], {"values": values, "query": query, "keys": keys}


def call_mask(form, value_mask, query_mask=None):
    if value_mask is None and query_mask is None:
        return None
    return value_mask if form == "pooling" else [query_mask, value_mask]


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "value_mask"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", LAYERS)
def test_matches_numpy_reference(rng, name, form, masked):
    layer = LAYERS[name]()
    inputs, ref = make_inputs(rng, form)
    value_mask = VALUE_MASK if masked else None
    outputs = layer(
        inputs, mask=call_mask(form, value_mask), return_attention_scores=True
    )
    assert_outputs_close(
        outputs, reference_attention(layer, value_mask=value_mask, **ref)
    )


@pytest.mark.parametrize("form", ["pooling", "query_3d", "query_keys"])
@pytest.mark.parametrize("name", ["additive", "general"])
def test_causal_mask_matches_reference(rng, name, form):
    layer = LAYERS[name]()
    inputs, ref = make_inputs(rng, form)
    outputs = layer(
        inputs,
        mask=call_mask(form, VALUE_MASK),
        use_causal_mask=True,
        return_attention_scores=True,
    )
    expected = reference_attention(layer, value_mask=VALUE_MASK, causal=True, **ref)
    assert_outputs_close(outputs, expected)
    # Query step i never sees a key after i.
    rows, cols = np.indices(expected[1].shape[-2:])
    assert np.all(as_numpy(outputs[1])[:, cols > rows] == 0.0)


def test_causal_pooling_last_step_equals_plain_pooling(rng):
    layer = AdditiveAttention()
    values = rng.normal(size=(BATCH, STEPS, DIM)).astype("float32")
    causal_context = layer(values, use_causal_mask=True)
    np.testing.assert_allclose(
        as_numpy(causal_context)[:, -1], as_numpy(layer(values)), atol=1e-6
    )


@pytest.mark.parametrize("form", ["query_2d", "query_3d"])
@pytest.mark.parametrize("name", ["additive", "dot"])
def test_query_mask_zeroes_the_context(rng, name, form):
    layer = LAYERS[name]()
    inputs, ref = make_inputs(rng, form)
    query_mask = np.array([1, 0, 1], bool)
    if form == "query_3d":
        query_mask = rng.random((BATCH, QUERY_STEPS)) > 0.5
    outputs = layer(
        inputs,
        mask=call_mask(form, VALUE_MASK, query_mask),
        return_attention_scores=True,
    )
    expected = reference_attention(
        layer, value_mask=VALUE_MASK, query_mask=query_mask, **ref
    )
    assert_outputs_close(outputs, expected)
    assert np.all(as_numpy(outputs[0])[~query_mask] == 0.0)


@pytest.mark.parametrize("name", ["additive", "dot"])
def test_key_mask_combines_with_value_mask(rng, name):
    layer = LAYERS[name]()
    inputs, ref = make_inputs(rng, "query_keys")
    key_mask = np.ones((BATCH, STEPS), bool)
    key_mask[:, 0] = False
    outputs = layer(
        inputs, mask=[None, VALUE_MASK, key_mask], return_attention_scores=True
    )
    expected = reference_attention(layer, value_mask=VALUE_MASK & key_mask, **ref)
    assert_outputs_close(outputs, expected)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", ["additive", "general"])
def test_dropout_only_in_training(rng, name, form):
    layer = LAYERS[name](dropout=0.5, seed=1)
    inputs, ref = make_inputs(rng, form)
    default = layer(inputs, return_attention_scores=True)
    expected = reference_attention(layer, **ref)
    assert_outputs_close(default, expected)
    assert_outputs_close(
        layer(inputs, return_attention_scores=True, training=False), expected, 1e-5
    )
    context, weights = layer(inputs, return_attention_scores=True, training=True)
    # The returned weights are the ones before dropout; the context is not.
    np.testing.assert_allclose(as_numpy(weights), expected[1], atol=1e-6)
    assert not np.allclose(as_numpy(context), expected[0], atol=1e-3)


@pytest.mark.parametrize(
    "form, causal",
    # A single query vector has no causal form (see test_errors.py).
    [(form, False) for form in FORMS]
    + [(form, True) for form in FORMS if form != "query_2d"],
)
def test_symbolic_shapes_match_eager_shapes(rng, form, causal):
    inputs, _ = make_inputs(rng, form)
    layer = AdditiveAttention()
    eager = layer(inputs, return_attention_scores=True, use_causal_mask=causal)
    symbolic_inputs = keras.tree.map_structure(
        lambda x: keras.KerasTensor((None, *x.shape[1:])), inputs
    )
    symbolic = layer(
        symbolic_inputs, return_attention_scores=True, use_causal_mask=causal
    )
    for eager_out, symbolic_out in zip(eager, symbolic, strict=True):
        assert symbolic_out.shape == (None, *eager_out.shape[1:])
        assert symbolic_out.dtype == keras.backend.standardize_dtype(eager_out.dtype)
    if not causal:
        assert layer.compute_output_shape(
            keras.tree.map_structure(lambda x: x.shape, inputs)
        ) == tuple(eager[0].shape)


def test_value_size_may_differ_from_query_and_key_size(rng):
    query = rng.normal(size=(2, 3, 6)).astype("float32")
    values = rng.normal(size=(2, 5, 7)).astype("float32")
    keys = rng.normal(size=(2, 5, 4)).astype("float32")
    for layer in (AdditiveAttention(units=8), DotProductAttention(score="general")):
        outputs = layer([query, values, keys], return_attention_scores=True)
        expected = reference_attention(layer, values=values, query=query, keys=keys)
        assert_outputs_close(outputs, expected)
        assert outputs[0].shape == (2, 3, 7)
