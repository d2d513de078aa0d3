"""ProbeResult and AttentionMap: per-sample access that drops padding (NumPy only)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_attnviz.probe.results import AttentionMap, ProbeResult


def _softmax(scores, mask):
    scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_sample_drops_padding_by_mask(rng, padding):
    mask = np.ones((2, 6), bool)
    if padding == "pre":
        mask[0, :2] = False
    else:
        mask[0, 4:] = False
    weights = _softmax(rng.normal(size=(2, 6)), mask)
    result = ProbeResult(np.zeros(2), {"att": weights}, key_masks={"att": mask})
    amap = result.sample(0, tokens=["a", "b", "c", "d"])
    np.testing.assert_array_equal(amap.weights, weights[0][mask[0]])
    assert amap.tokens == ["a", "b", "c", "d"]
    assert amap.layer == "att"
    np.testing.assert_array_equal(amap.key_mask, mask[0])
    assert amap.weights.sum() == pytest.approx(1.0)


def test_sample_accepts_padded_tokens_and_drops_theirs(rng):
    mask = np.array([[False, True, True, True]])
    weights = _softmax(rng.normal(size=(1, 4)), mask)
    result = ProbeResult(None, {"att": weights}, key_masks={"att": mask})
    amap = result.sample(0, tokens=["<pad>", "x", "y", "z"])
    assert amap.tokens == ["x", "y", "z"]
    assert amap.weights.shape == (3,)


@pytest.mark.parametrize(
    ("padding", "expected"), [("pre", slice(3, 6)), ("post", slice(0, 3))]
)
def test_sample_without_mask_uses_tokens_and_padding(rng, padding, expected):
    weights = rng.random((1, 6))
    result = ProbeResult(None, {"att": weights})
    amap = result.sample(0, tokens=["a", "b", "c"], padding=padding)
    np.testing.assert_array_equal(amap.weights, weights[0, expected])


def test_sample_without_mask_needs_padding_when_tokens_are_short(rng):
    result = ProbeResult(None, {"att": rng.random((1, 6))})
    with pytest.raises(ValueError, match="padding='pre'"):
        result.sample(0, tokens=["a", "b"])
    # Full-length tokens need no padding argument.
    assert result.sample(0, tokens=list("abcdef")).weights.shape == (6,)


def test_sample_multi_head_self_attention_drops_queries_and_keys(rng):
    mask = np.array([[True, True, True, False, False]])
    weights = _softmax(rng.normal(size=(1, 2, 5, 5)), mask[:, None, None, :])
    result = ProbeResult(
        None,
        {"mha": weights},
        key_masks={"mha": mask},
        query_masks={"mha": mask},
        self_attention={"mha"},
    )
    amap = result.sample(0, tokens=["a", "b", "c"])
    np.testing.assert_array_equal(amap.weights, weights[0][:, :3, :3])
    assert amap.query_tokens == ["a", "b", "c"]


def test_sample_cross_attention_uses_query_mask(rng):
    key_mask = np.array([[True, True, True, True, False, False, False]])
    query_mask = np.array([[False, True, True]])
    weights = _softmax(rng.normal(size=(1, 3, 7)), key_mask[:, None, :])
    result = ProbeResult(
        None,
        {"att": weights},
        key_masks={"att": key_mask},
        query_masks={"att": query_mask},
    )
    amap = result.sample(0, tokens=list("abcd"), query_tokens=["y", "z"])
    np.testing.assert_array_equal(amap.weights, weights[0][1:, :4])
    assert amap.query_tokens == ["y", "z"]
    assert amap.tokens == ["a", "b", "c", "d"]


def test_sample_errors_name_the_argument(rng):
    result = ProbeResult(None, {"a": rng.random((2, 3)), "b": rng.random((2, 3))})
    with pytest.raises(ValueError, match="pass `layer`"):
        result.sample(0)
    with pytest.raises(ValueError, match="`layer` must be one of"):
        result.sample(0, layer="c")
    with pytest.raises(ValueError, match="`i` must index"):
        result.sample(2, layer="a")
    with pytest.raises(ValueError, match="not be longer"):
        result.sample(0, layer="a", tokens=list("abcd"))
    masked = ProbeResult(
        None, {"a": np.ones((1, 3)) / 3}, key_masks={"a": np.ones((1, 3))}
    )
    with pytest.raises(ValueError, match="one token per real position"):
        masked.sample(0, tokens=["x", "y"])


def test_attention_map_validates_shapes():
    with pytest.raises(ValueError, match="1-D"):
        AttentionMap(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="one token per position"):
        AttentionMap([0.5, 0.5], tokens=["a"])
    with pytest.raises(ValueError, match="query axis"):
        AttentionMap([0.5, 0.5], query_tokens=["a"])
    with pytest.raises(TypeError, match="not one string"):
        AttentionMap([0.5, 0.5], tokens="ab")


def test_sample_rejects_one_string_of_tokens_like_attention_map(rng):
    result = ProbeResult(None, {"a": rng.random((1, 3, 3))})
    with pytest.raises(TypeError, match="`tokens` must be a sequence of strings"):
        result.sample(0, tokens="abc")
    with pytest.raises(TypeError, match="`query_tokens` must be a sequence"):
        result.sample(0, tokens=["a", "b", "c"], query_tokens="abc")


def test_empty_result_has_no_samples():
    result = ProbeResult(None, {})
    assert len(result) == 0
    assert "samples=0" in repr(result)


def test_attention_map_keeps_hostile_tokens_as_text():
    amap = AttentionMap([0.2, 0.8], tokens=["<script>", None])
    # Escaping is the renderers' job; the map keeps the text as it is.
    assert amap.tokens == ["<script>", "None"]
    assert amap.top(1) == [("None", 0.8)]
    assert "<script>" in repr(amap)


def test_attention_map_top_averages_heads():
    weights = np.array([[[0.1, 0.9]], [[0.5, 0.5]]])
    assert AttentionMap(weights).top(2) == [(1, 0.7), (0, 0.3)]


def test_result_basics(rng):
    result = ProbeResult([1, 2], {"att": rng.random((4, 3))})
    assert len(result) == 4
    assert result.layer_names == ["att"]
    assert result["att"] is result.attention["att"]
    assert "samples=4" in repr(result)


@given(
    length=st.integers(1, 12),
    real=st.integers(0, 12),
    pre=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_sample_keeps_exactly_the_real_positions(length, real, pre, seed):
    real = min(real, length)
    mask = np.zeros(length, bool)
    if pre:
        mask[length - real :] = True
    else:
        mask[:real] = True
    weights = np.random.default_rng(seed).random((1, length))
    tokens = [f"t{j}" for j in range(real)]
    result = ProbeResult(None, {"att": weights}, key_masks={"att": mask[None]})
    amap = result.sample(0, tokens=tokens)
    # Masked: same positions whatever the padding side.
    np.testing.assert_array_equal(amap.weights, weights[0][mask])
    unmasked = ProbeResult(None, {"att": weights}).sample(
        0, tokens=tokens, padding="pre" if pre else "post"
    )
    np.testing.assert_array_equal(unmasked.weights, amap.weights)
    assert len(amap.tokens) == len(amap.weights) == real
