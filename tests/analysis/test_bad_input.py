"""Bad input: each error says what was expected and what was received."""

import numpy as np
import pytest

from keras_attnviz.analysis import attention_flow, attention_rollout, head_summary
from keras_attnviz.probe.results import ProbeResult

W = np.array([[0.5, 0.5], [0.2, 0.8]])
SWAP = np.array([np.eye(2), np.eye(2)[::-1]])  # two heads on different keys


def probe_result(attention, key_masks=None, self_attention=()):
    return ProbeResult(np.zeros(1), attention, key_masks, None, self_attention)


ANALYSES = [attention_rollout, attention_flow]

# (weights, keyword arguments, error, message); each runs through rollout and flow.
STACK_CASES = {
    "nan": (
        [W, [[np.nan, 1], [0.5, 0.5]]],
        {},
        ValueError,
        "must be finite.*nan in layer 1",
    ),
    "inf": (
        [W, [[0.5, 0.5], [np.inf, 0]]],
        {},
        ValueError,
        "must be finite.*inf in layer 1",
    ),
    "negative": ([[[-0.5, 1.5], [0.5, 0.5]]], {}, ValueError, "non-negative.*-0.5"),
    "row sum": (
        [W, [[0.5, 0.4], [0.5, 0.5]]],
        {},
        ValueError,
        r"summing to 1 over the real keys.*layer 1 has a row summing to 0\.9 "
        r"\(sample 0, head 0, query 0\)",
    ),
    "not square": (
        [np.full((2, 3), 1 / 3)],
        {},
        ValueError,
        "square.*2 queries and 3 keys",
    ),
    "lengths differ": (
        [W, np.full((3, 3), 1 / 3)],
        {},
        ValueError,
        "same batch size and sequence",
    ),
    "batches differ": (
        [np.stack([W[None]] * 2), W[None, None]],
        {},
        ValueError,
        "same batch size",
    ),
    "batched and not": (
        [W, W[None, None]],
        {},
        ValueError,
        "all batched.*or all unbatched",
    ),
    "rank 1": ([[0.5, 0.5]], {}, ValueError, r"Received: layer 0 of shape \(2,\)"),
    "rank 5": ([np.zeros((1, 1, 1, 2, 2))], {}, ValueError, "of shape"),
    "ragged": ([[[0.5, 0.5], [1.0]]], {}, ValueError, "rectangular.*ragged"),
    "strings": ([[["a", "b"], ["c", "d"]]], {}, TypeError, "numeric.*dtype <U1"),
    "one array": (np.stack([W, W]), {}, TypeError, r"list\(array\).*shape \(2, 2, 2\)"),
    "a string": ("weights", {}, TypeError, "sequence of per-layer weights"),
    "a number": (3, {}, TypeError, "sequence of per-layer weights. Received: 3"),
    "no layer": ([], {}, ValueError, "at least one layer"),
    "residual too big": (
        [W],
        {"residual": 1.5},
        ValueError,
        r"in \[0, 1\]. Received: residual=1.5",
    ),
    "residual nan": ([W], {"residual": float("nan")}, ValueError, "residual=nan"),
    "residual string": ([W], {"residual": "0.5"}, TypeError, "must be a number"),
    "residual bool": ([W], {"residual": True}, TypeError, "must be a number"),
    "head reduction": (
        [W],
        {"head_reduction": "median"},
        ValueError,
        "one of.*'median'",
    ),
    "mask shape": (
        [W],
        {"key_mask": np.ones(3, bool)},
        ValueError,
        r"key_mask. must be \(Tk,\)",
    ),
    "mask dtype": ([W], {"key_mask": np.ones(2)}, TypeError, "boolean.*float64"),
    "min without residual": (
        [SWAP],
        {"residual": 0, "head_reduction": "min"},
        ValueError,
        "no weight on any real key.*residual > 0",
    ),
    "probe result and mask": (
        probe_result({"a": W[None]}, self_attention={"a"}),
        {"key_mask": np.ones((1, 2), bool)},
        ValueError,
        "read from the `ProbeResult`",
    ),
    "no self-attention": (
        probe_result({"pool": np.array([[0.5, 0.5]])}),
        {},
        ValueError,
        r"at least one self-attention layer.*\['pool'\]",
    ),
    "masks disagree": (
        probe_result(
            {"a": np.array([[[1.0, 0], [1, 0]]]), "b": W[None]},
            {"a": np.array([[True, False]]), "b": np.array([[True, True]])},
            {"a", "b"},
        ),
        {},
        ValueError,
        "share one key mask.*layer 'a' and layer 'b'",
    ),
    "padding weighted": (
        probe_result({"a": W[None]}, {"a": np.array([[True, False]])}, {"a"}),
        {},
        ValueError,
        "layer 'a' has a row summing to 0.5",
    ),
}


@pytest.mark.parametrize("analysis", ANALYSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("weights", "kwargs", "error", "message"),
    list(STACK_CASES.values()),
    ids=list(STACK_CASES),
)
def test_rollout_and_flow_refuse(analysis, weights, kwargs, error, message):
    with pytest.raises(error, match=message) as raised:
        analysis(weights, **kwargs)
    assert "Received:" in str(raised.value)


def test_rows_within_the_tolerance_are_accepted():
    nearly = np.array([[0.5, 0.5004], [0.2, 0.8]])  # float16 rounding is smaller
    np.testing.assert_allclose(attention_rollout([nearly]).sum(axis=1), 1)


@pytest.mark.parametrize(
    ("max_cost", "error", "message"),
    [
        ("big", TypeError, "must be a number. Received: max_cost='big'"),
        (0, ValueError, "must be positive"),
        (4 * 16**4 - 1, ValueError, "4 layers of up to 16 positions, a cost of 2.62e"),
    ],
)
def test_flow_refuses_a_bad_max_cost(max_cost, error, message):
    layers = [np.full((16, 16), 1 / 16)] * 4
    with pytest.raises(error, match=message):
        attention_flow(layers, max_cost=max_cost)


@pytest.mark.parametrize(
    ("weights", "kwargs", "error", "message"),
    [
        (
            {"x": [[0.5, 0.4], [0.5, 0.5]]},
            {},
            ValueError,
            "layer 'x' has a row summing",
        ),
        ({"x": [[-1.0, 2.0]]}, {}, ValueError, "non-negative"),
        ({"x": W}, {"key_mask": np.ones((1, 2), bool)}, ValueError, "to fit layer 'x'"),
        (
            [W, np.full((2, 3), 1 / 3)],
            {"key_mask": np.ones(2, bool)},
            ValueError,
            r"must be \(Tk,\) \(3,\), to fit layer 1",
        ),
        ({"x": [["a"]]}, {}, TypeError, "numeric"),
    ],
    ids=["row sum", "negative", "mask shape", "mask does not fit a layer", "strings"],
)
def test_head_summary_refuses(weights, kwargs, error, message):
    with pytest.raises(error, match=message):
        head_summary(weights, **kwargs)
