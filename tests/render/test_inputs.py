import ast
import pathlib
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras_attnviz.render
from keras_attnviz.render.inputs import (
    align,
    as_weights,
    merge_subwords,
    token_weights,
    unpack_attention_map,
)


def test_as_weights_converts_lists_and_ints_to_float64():
    weights = as_weights([1, 2, 3])
    assert weights.dtype == np.float64
    np.testing.assert_array_equal(weights, [1.0, 2.0, 3.0])


def test_as_weights_reads_tensors():
    import keras

    tensor = keras.ops.convert_to_tensor([[0.25, 0.75]], dtype="float32")
    np.testing.assert_array_equal(as_weights(tensor), [[0.25, 0.75]])


@pytest.mark.parametrize(
    "weights, label, position",
    [
        ([0.1, 0.2, 0.3, np.nan], "NaN", "3"),
        ([0.1, np.inf], "inf", "1"),
        ([-np.inf, 0.1], "-inf", "0"),
        ([[0.1, 0.2], [0.3, np.nan]], "NaN", r"\(1, 1\)"),
    ],
)
def test_as_weights_names_non_finite_values_and_where(weights, label, position):
    with pytest.raises(
        ValueError, match=rf"finite. Received: {label} at position {position}"
    ):
        as_weights(weights)


def test_as_weights_rejects_non_numeric_with_type_error():
    with pytest.raises(TypeError, match="`scores` must be numeric"):
        as_weights(["a", "b"], name="scores")
    with pytest.raises(TypeError, match="Received: None"):
        as_weights(None)


def test_as_weights_rejects_ragged_input():
    with pytest.raises(ValueError, match="rectangular"):
        as_weights([[1.0], [1.0, 2.0]])


def test_as_weights_checks_rank():
    assert as_weights([[1.0]], ndim=(1, 2)).shape == (1, 1)
    with pytest.raises(
        ValueError, match=r"must be 1-D. Received: an array of shape \(2, 1\)"
    ):
        as_weights([[1.0], [2.0]], ndim=1)
    with pytest.raises(ValueError, match="must be 2-D or 3-D"):
        as_weights([1.0], ndim=(2, 3))


def test_unpack_attention_map_takes_fields_from_a_duck_typed_map():
    amap = SimpleNamespace(weights=[[0.5, 0.5]], tokens=["a", "b"], query_tokens=["q"])
    assert unpack_attention_map(amap, None) == (["a", "b"], [[0.5, 0.5]], ["q"])
    without_queries = SimpleNamespace(weights=[1.0], tokens=["a"])
    assert unpack_attention_map(without_queries, None) == (["a"], [1.0], None)


def test_unpack_attention_map_passes_plain_inputs_through():
    assert unpack_attention_map(["a"], [1.0]) == (["a"], [1.0], None)
    amap = SimpleNamespace(weights=[1.0], tokens=["a"])
    # Explicit weights win: the object is then just an iterable of tokens.
    assert unpack_attention_map(amap, [2.0]) == (amap, [2.0], None)


def test_align_splits_a_string_into_characters():
    tokens, weights = align("a b", [0.1, 0.2, 0.7])
    assert tokens == ["a", " ", "b"]
    np.testing.assert_array_equal(weights, [0.1, 0.2, 0.7])


def test_align_reports_both_lengths_on_mismatch():
    with pytest.raises(
        ValueError,
        match="one value per token. Received: 3 tokens and 5 weights.",
    ):
        align(["a", "b", "c"], [0.1] * 5)


@pytest.mark.parametrize(
    "padding, expected", [("pre", [0.3, 0.4, 0.5]), ("post", [0.1, 0.2, 0.3])]
)
def test_align_trims_padding_on_the_given_side(padding, expected):
    tokens, weights = align("abc", [0.1, 0.2, 0.3, 0.4, 0.5], padding=padding)
    assert tokens == ["a", "b", "c"]
    np.testing.assert_array_equal(weights, expected)


def test_align_trims_the_last_axis_of_2d_weights():
    _, weights = align(["a"], [[0.0, 1.0], [0.0, 2.0]], padding="pre")
    np.testing.assert_array_equal(weights, [[1.0], [2.0]])


def test_align_with_padding_still_rejects_too_few_weights():
    with pytest.raises(ValueError, match='padding="pre".*3 tokens and 2 weights'):
        align("abc", [0.5, 0.5], padding="pre")


def test_align_rejects_unknown_padding():
    with pytest.raises(ValueError, match="padding='left'"):
        align("ab", [0.5, 0.5], padding="left")


def test_merge_subwords_wordpiece():
    words, weights = merge_subwords(
        ["[CLS]", "un", "##aff", "##able", "film", "[SEP]"],
        np.array([0.05, 0.1, 0.2, 0.3, 0.25, 0.1]),
    )
    assert words == ["[CLS]", "unaffable", "film", "[SEP]"]
    np.testing.assert_allclose(weights, [0.05, 0.6, 0.25, 0.1])


def test_merge_subwords_sentencepiece_keeps_special_tokens_apart():
    words, weights = merge_subwords(
        ["<s>", "the", "\u2581mo", "vie", "s", "\u2581rock", "</s>"],
        np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
    )
    assert words == ["<s>", "the", "movies", "rock", "</s>"]
    np.testing.assert_array_equal(weights, [1.0, 2.0, 12.0, 6.0, 7.0])


def test_merge_subwords_byte_level_bpe():
    words, _ = merge_subwords(["\u0120good", "ness", "\u0120me"], np.ones(3))
    assert words == ["goodness", "me"]


def test_merge_subwords_wordpiece_wins_over_a_letter_like_a_bpe_marker():
    # "\u0120" (Ġ) is a Maltese letter; a "##" piece shows this is WordPiece.
    words, weights = merge_subwords(
        ["il", "\u0120gurnata", "kienet", "sabi", "##\u0127a"],
        np.array([0.1, 0.2, 0.3, 0.2, 0.2]),
    )
    assert words == ["il", "\u0120gurnata", "kienet", "sabi\u0127a"]
    np.testing.assert_allclose(weights, [0.1, 0.2, 0.3, 0.4])


def test_merge_subwords_sentencepiece_wins_over_a_bpe_marker():
    words, _ = merge_subwords(["\u2581il", "\u2581", "\u0120", "urnata"], np.ones(4))
    assert words == ["il", "\u0120urnata"]


@pytest.mark.parametrize(
    "scheme, words",
    [
        ("wordpiece", ["\u0120ew", "\u2581a", "b"]),
        ("sentencepiece", ["\u0120ew", "ab"]),
        ("bpe", ["ew\u2581ab"]),
    ],
)
def test_merge_subwords_follows_an_explicit_scheme(scheme, words):
    tokens = ["\u0120ew", "\u2581a", "b"]
    assert merge_subwords(tokens, np.ones(3), scheme=scheme)[0] == words


def test_merge_subwords_rejects_an_unknown_scheme():
    with pytest.raises(ValueError, match="scheme='bert'"):
        merge_subwords(["a"], np.ones(1), scheme="bert")


def test_merge_subwords_refuses_sums_that_overflow():
    with pytest.raises(ValueError, match="finite once summed per word. Received: inf"):
        merge_subwords(["a", "##b"], np.array([1e308, 1e308]))
    with pytest.raises(ValueError, match="Received: -inf at position 1"):
        merge_subwords(["a", "b", "##c"], np.array([0.0, -1e308, -1e308]))


pieces = st.lists(
    st.one_of(
        st.text(alphabet="abc", min_size=1, max_size=3),
        st.text(alphabet="abc", min_size=1, max_size=3).map("##".__add__),
    ),
    max_size=12,
)


@given(pieces, st.data())
def test_merge_subwords_keeps_text_and_total_weight(tokens, data):
    weights = np.array(
        data.draw(st.lists(st.floats(0, 1), min_size=len(tokens), max_size=len(tokens)))
    )
    words, merged = merge_subwords(tokens, weights)
    assert "".join(words) == "".join(token.removeprefix("##") for token in tokens)
    assert len(merged) == len(words)
    np.testing.assert_allclose(merged.sum(), weights.sum(), atol=1e-9)


def test_token_weights_takes_an_attention_map():
    amap = SimpleNamespace(weights=np.array([0.2, 0.8]), tokens=["hi", "there"])
    tokens, weights = token_weights(amap, None)
    assert tokens == ["hi", "there"]
    np.testing.assert_array_equal(weights, [0.2, 0.8])


def test_token_weights_needs_1d_weights_and_tokens():
    with pytest.raises(ValueError, match="must be 1-D"):
        token_weights(["a"], [[1.0]])
    with pytest.raises(TypeError, match="`tokens` must be"):
        token_weights(None, [1.0])


def test_token_weights_refuses_to_merge_a_string():
    with pytest.raises(ValueError, match="needs a list of tokens"):
        token_weights("##ab", [1.0] * 4, merge=True)


def _import_roots(path):
    """The top-level package of every import in a module, at any depth."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    return roots


def test_render_never_imports_keras():
    # Lazy imports of matplotlib and pandas are checked for the whole package
    # in tests/test_light_import.py.
    package = pathlib.Path(keras_attnviz.render.__file__).parent
    paths = list(package.glob("*.py"))
    assert len(paths) > 5
    for path in paths:
        assert not _import_roots(path) & {"keras", "tensorflow"}, path.name
