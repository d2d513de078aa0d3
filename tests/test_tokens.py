"""One token converter for results and renderers: bytes as UTF-8, tensors via NumPy."""

import numpy as np
import pytest

from keras_attnviz.probe.results import AttentionMap
from keras_attnviz.tokens import as_tokens


def test_as_tokens_decodes_bytes_as_utf8():
    tokens = np.array([b"the", b"caf\xc3\xa9", b"\xff"])
    assert as_tokens(tokens) == ["the", "caf\u00e9", "\ufffd"]
    assert as_tokens([b"a", np.bytes_(b"b"), np.str_("c"), 3]) == ["a", "b", "c", "3"]
    assert as_tokens(b"ab") == ["a", "b"]
    assert as_tokens(np.array(b"ab")) == ["a", "b"]


def test_as_tokens_reads_string_tensors():
    tf = pytest.importorskip("tensorflow")
    assert as_tokens(tf.strings.split("the caf\u00e9")) == ["the", "caf\u00e9"]
    assert as_tokens(list(tf.constant([b"a", b"b"]))) == ["a", "b"]


def test_as_tokens_keeps_strings_and_iterables():
    assert as_tokens("a b") == ["a", " ", "b"]
    assert as_tokens(token for token in ("x", "y")) == ["x", "y"]
    assert as_tokens(np.array([0.5, 1])) == ["0.5", "1.0"]


def test_as_tokens_wants_one_token_per_weight():
    with pytest.raises(ValueError, match=r"one token per weight. .* shape \(1, 2\)"):
        as_tokens(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="Received: an object of type int"):
        as_tokens(5)


def test_attention_maps_read_tokens_as_the_renderers_do():
    tokens = [b"caf\xc3\xa9", np.str_("au"), b"\xff"]
    amap = AttentionMap([0.2, 0.3, 0.5], tokens=tokens, query_tokens=None)
    assert amap.tokens == as_tokens(tokens) == ["caf\u00e9", "au", "\ufffd"]
    square = AttentionMap(np.eye(2), tokens=[b"a", b"b"], query_tokens=[b"c", 1])
    assert square.query_tokens == ["c", "1"]
