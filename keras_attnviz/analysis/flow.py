"""Attention flow: the maximum flow from each input position to each output."""

import numbers

import numpy as np

from keras_attnviz.analysis._attention_weights import SelfAttentionStack
from keras_attnviz.analysis._layered_max_flow import layered_max_flow

# Layers x positions^4, summed over samples: about 0.2-1.2 microseconds each on
# one core here (benchmarks/bench_analysis.py), so at most about 20 s.
DEFAULT_MAX_COST = 2**24


def attention_flow(
    weights,
    *,
    residual=0.5,
    head_reduction="mean",
    key_mask=None,
    max_cost=DEFAULT_MAX_COST,
):
    """Attention flow (Abnar & Zuidema, 2020, "Quantifying Attention Flow in
    Transformers", section 3).

    The layers make a graph: one node per position and layer (the input below
    the first), and an edge from position `j` of each layer to position `i`
    of the next whose capacity is the weight row `i` puts on `j`, after the
    heads are reduced and the residual mixed in as in `attention_rollout`.
    Entry `(i, j)` of the result is the maximum flow from input position `j`
    to top-layer position `i`; each row is then normalised to sum to 1.
    Where rollout multiplies weights along paths, flow takes the capacity of
    all paths together, so one strong path does not count for many.

    Flow is far costlier than rollout: one maximum-flow problem per pair of
    positions, `T^2` problems on a graph of `L * T^2` edges (`O(L^2 T^4)` in
    the paper's form). Here they are solved together by push-relabel in NumPy,
    at a cost that grows as `L * T^4` per sample; `max_cost` refuses, before
    any work, inputs that would take minutes.

    Padded positions take no part: their rows and columns are dropped before,
    and are 0 in the result.

    Args:
        weights: the self-attention weights of a stack of layers, from the input
            upwards, as for `attention_rollout`: a `ProbeResult`, a mapping
            `{layer: weights}` or a sequence of arrays, each `(B, H, T, T)`,
            `(H, T, T)` or `(T, T)`.
        residual: the share of the residual connection, in [0, 1].
        head_reduction: how heads are combined: `"mean"`, `"max"` or `"min"`.
        key_mask: for arrays only, an optional boolean `(B, T)` (`(T,)` for
            unbatched weights), `True` = real position.
        max_cost: the largest cost accepted: layers times the fourth power of
            the number of real positions, summed over samples. The default,
            `2**24`, admits for example one sample of 12 layers and 32
            positions (1.3e7) and takes at most about 20 s on one CPU core.

    Returns:
        A float64 array `(B, T, T)`, or `(T, T)` for unbatched weights, with
        values in [0, 1] and real rows summing to 1.

    Raises:
        TypeError: as `attention_rollout` does, or if `max_cost` is not a
            number.
        ValueError: as `attention_rollout` does, or if the cost exceeds
            `max_cost`.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.analysis import attention_flow
    >>> # Two layers over two positions; each query looks only at position 0.
    >>> to_first = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> # Top position 1 takes a flow of 1.0 from input 0 and 0.5 from input
    >>> # 1, normalised to [2/3, 1/3] (rollout's row is [0.75, 0.25]).
    >>> attention_flow([to_first, to_first], residual=0.5)
    array([[1.        , 0.        ],
           [0.66666667, 0.33333333]])
    ```
    """
    stack = SelfAttentionStack(weights, key_mask, residual, head_reduction)
    lengths = stack.key_mask.sum(axis=1)
    _check_cost(len(stack.layers), lengths, max_cost)
    capacities = np.stack(list(stack.mixed()), axis=1)
    flow = np.zeros(capacities.shape[:1] + capacities.shape[2:])
    for length in np.unique(lengths[lengths > 0]):
        samples = np.flatnonzero(lengths == length)
        real = np.stack([np.flatnonzero(stack.key_mask[b]) for b in samples])
        rows, cols = real[:, :, None], real[:, None, :]
        graphs = capacities[samples[:, None, None], :, rows, cols]
        graphs = graphs.transpose(0, 3, 1, 2)  # indexing put the layers last
        sample, sink, source = np.indices((len(samples), length, length))
        values = layered_max_flow(graphs, sample.ravel(), source.ravel(), sink.ravel())
        values = values.reshape(len(samples), length, length)
        values /= values.sum(axis=2, keepdims=True)
        flow[samples[:, None, None], rows, cols] = values
    return stack.restore(flow)


def _check_cost(n_layers, lengths, max_cost):
    if isinstance(max_cost, bool) or not isinstance(max_cost, numbers.Real):
        raise TypeError(f"`max_cost` must be a number. Received: max_cost={max_cost!r}")
    if not max_cost > 0:
        raise ValueError(
            f"`max_cost` must be positive. Received: max_cost={max_cost!r}"
        )
    cost = n_layers * int((lengths.astype(np.int64) ** 4).sum())
    if cost > max_cost:
        raise ValueError(
            "The cost of `attention_flow` (layers x real positions^4, summed over "
            f"samples) must be at most `max_cost={max_cost:.3g}`. Received: "
            f"{int((lengths.astype(np.int64) ** 2).sum())} maximum-flow problems "
            f"on {n_layers} layers of up to {lengths.max()} positions, a cost of "
            f"{cost:.3g}. Pass a larger `max_cost` (the default, 2**24, takes at "
            "most about 20 s; time grows in proportion), fewer samples or "
            "positions, or use `attention_rollout`."
        )
