"""Bad arguments and bad inputs fail early with Keras-style messages."""

import numpy as np
import pytest

from keras_attnviz.layers import AdditiveAttention, DotProductAttention

LAYERS = [AdditiveAttention, DotProductAttention]


def tensor(*shape):
    return np.zeros(shape, "float32")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"score": "cosine"},
            ValueError,
            r"`score` must be one of .*Received: score='cosine'",
        ),
        ({"score": None}, TypeError, r"Received: score=None of type NoneType"),
        ({"scale": "yes"}, TypeError, r"Received: scale='yes' of type str"),
        ({"scale": 0.0}, ValueError, r"Received: scale=0.0"),
        ({"scale": -2}, ValueError, r"Received: scale=-2"),
        ({"scale": float("nan")}, ValueError, r"Received: scale=nan"),
        ({"scale": float("inf")}, ValueError, r"Received: scale=inf"),
    ],
)
def test_bad_dot_product_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        DotProductAttention(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"units": 2.5}, TypeError, r"`units` must be .*Received: units=2.5 of type"),
        ({"units": True}, TypeError, r"Received: units=True of type bool"),
        ({"units": 0}, ValueError, r"Received: units=0"),
    ],
)
def test_bad_additive_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        AdditiveAttention(**kwargs)


@pytest.mark.parametrize("layer_class", LAYERS)
@pytest.mark.parametrize(
    "dropout, error",
    [("0.1", TypeError), (True, TypeError), (1.0, ValueError), (-0.1, ValueError)],
)
def test_bad_dropout(layer_class, dropout, error):
    with pytest.raises(error, match=r"`dropout` must .*Received: dropout="):
        layer_class(dropout=dropout)


@pytest.mark.parametrize("layer_class", LAYERS)
@pytest.mark.parametrize("count", [1, 4])
def test_wrong_number_of_inputs(layer_class, count):
    with pytest.raises(ValueError, match=rf"Received: a list of {count} inputs"):
        layer_class()([tensor(2, 3, 4)] * count)


@pytest.mark.parametrize("layer_class", LAYERS)
@pytest.mark.parametrize(
    "inputs, match",
    [
        (tensor(2, 4), r"`values` must have shape \(batch_size, T, dim\)"),
        (
            [tensor(2, 1, 3, 4), tensor(2, 3, 4)],
            r"Received: query.shape=\(2, 1, 3, 4\)",
        ),
        ([tensor(2, 4), tensor(2, 4)], r"Received: values.shape=\(2, 4\)"),
        (
            [tensor(2, 4), tensor(2, 5, 4), tensor(2, 6, 4)],
            r"same number of time steps. Received: values.shape=\(2, 5, 4\), "
            r"keys.shape=\(2, 6, 4\)",
        ),
    ],
)
def test_bad_input_shapes(layer_class, inputs, match):
    with pytest.raises(ValueError, match=match):
        layer_class()(inputs)


def test_dot_score_needs_equal_sizes():
    with pytest.raises(ValueError, match=r'`score="general"`.*Received: query size 3 '):
        DotProductAttention()([tensor(2, 3), tensor(2, 5, 4)])
    # "general" takes them.
    DotProductAttention(score="general")([tensor(2, 3), tensor(2, 5, 4)])


@pytest.mark.parametrize("layer_class", LAYERS)
def test_causal_mask_needs_a_query_sequence(layer_class):
    with pytest.raises(ValueError, match=r"Received: query.shape=\(2, 4\)"):
        layer_class()([tensor(2, 4), tensor(2, 5, 4)], use_causal_mask=True)


@pytest.mark.parametrize("layer_class", LAYERS)
def test_malformed_masks(layer_class):
    values = tensor(2, 5, 4)
    mask = np.ones((2, 5), bool)
    with pytest.raises(ValueError, match=r"value mask .*Received: a list of 2 masks"):
        layer_class()(values, mask=[mask, mask])
    with pytest.raises(ValueError, match=r"`\[query_mask, value_mask\]`.*Received"):
        layer_class()([values, values], mask=mask)


@pytest.mark.parametrize("layer_class", LAYERS)
def test_form_is_fixed_by_the_first_call(layer_class):
    layer = layer_class()
    layer(tensor(2, 5, 4))
    with pytest.raises(ValueError, match=r"built to be called on pooling .*Received"):
        layer([tensor(2, 4), tensor(2, 5, 4)])


@pytest.mark.parametrize("layer_class", LAYERS)
def test_unknown_key_size(layer_class):
    with pytest.raises(ValueError, match=r"must be known .*Received: input_shape="):
        layer_class().build((None, 5, None))
