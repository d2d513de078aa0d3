"""Per-head statistics of attention weights, one DataFrame row per head."""

import numpy as np

from keras_attnviz.analysis._attention_weights import read_layers

COLUMNS = (
    "layer",
    "head",
    "entropy",
    "mean_distance",
    "max_weight",
    "self_weight",
    "previous_token_weight",
    "first_token_weight",
)
# The columns that compare a query's position with the keys'.
_POSITIONAL = ("mean_distance", "self_weight", "previous_token_weight")


def head_summary(weights, *, key_mask=None):
    """What each attention head does, in numbers: one row per (layer, head).

    Every statistic is a mean over the real queries of all samples, and
    positions are counted over real tokens only:

    - `entropy`: the entropy of the query's row, in nats (`log T` for a head
      that spreads its weight evenly over `T` keys, 0 for one that looks at a
      single key);
    - `mean_distance`: the mean `|i - j|` between query `i` and key `j`,
      weighted by the attention;
    - `max_weight`: the row's largest weight;
    - `self_weight`: the weight on the query's own position;
    - `previous_token_weight`: the weight on the position just before the
      query's (over the queries that have one);
    - `first_token_weight`: the weight on the first real key (a `[CLS]` or
      `<s>` token, or a head's resting place).

    `mean_distance`, `self_weight` and `previous_token_weight` compare query and
    key positions, so they are NaN for cross-attention and pooling layers,
    whose queries are not the keys. In a `ProbeResult` that is every layer not
    in its `self_attention`; with arrays, every layer whose queries are not as
    many as its keys.

    Args:
        weights: a `ProbeResult` (every layer, with its masks), a mapping
            `{layer: weights}` or a sequence of arrays, each `(B, H, Tq, Tk)`,
            `(H, Tq, Tk)` or `(Tq, Tk)`. Rows must sum to 1 over the real keys.
        key_mask: for arrays only, an optional boolean `(B, Tk)` (`(Tk,)` for
            unbatched weights), `True` = real key, for every layer; in a layer
            whose queries are as many as its keys, it masks the queries too.

    Returns:
        A pandas `DataFrame` with the columns `layer` (the name, or the index
        in a sequence), `head` and the statistics above, in layer order.

    Raises:
        TypeError: if `weights` is not one of the above or holds non-numeric
            arrays.
        ValueError: for weights that are negative or not finite, whose rows do
            not sum to 1 over the real keys (the error names the layer), or a
            `key_mask` that does not fit.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.analysis import head_summary
    >>> previous = np.eye(4, k=-1)  # each query looks at the one before
    >>> previous[0, 0] = 1.0  # the first query has no previous token
    >>> uniform = np.full((4, 4), 0.25)
    >>> summary = head_summary({"block": np.stack([previous, uniform])})
    >>> summary.nlargest(1, "previous_token_weight")[["layer", "head"]]
       layer  head
    0  block     0
    >>> print(f"{summary.loc[1, 'entropy']:.4f}")  # log 4
    1.3863
    ```
    """
    import pandas as pd

    layers, _ = read_layers(weights, key_mask)
    rows = []
    for layer in layers:
        statistics = _statistics(layer)
        for head in range(layer.heads):
            values = [statistics[column][head] for column in COLUMNS[2:]]
            rows.append([layer.name, head, *values])
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _statistics(layer):
    """Each column's `(H,)` values for one layer."""
    weights = layer.weights.astype(np.float64)
    weights = weights * layer.key_mask[:, None, None, :]
    queries = np.broadcast_to(layer.query_mask[:, None, :], weights.shape[:3])
    logs = np.log(weights, out=np.zeros_like(weights), where=weights > 0)
    first = np.argmax(layer.key_mask, axis=1)[:, None, None, None]
    statistics = {
        "entropy": _mean(-(weights * logs).sum(axis=3), queries),
        "max_weight": _mean(weights.max(axis=3), queries),
        "first_token_weight": _mean(
            np.take_along_axis(weights, first, axis=3)[..., 0], queries
        ),
    }
    if not layer.self_attention:
        return {
            **statistics,
            **dict.fromkeys(_POSITIONAL, np.full(layer.heads, np.nan)),
        }
    position = np.cumsum(layer.key_mask, axis=1) - 1  # among real tokens
    distance = np.abs(position[:, :, None] - position[:, None, :])
    previous = _previous_real(layer.key_mask)
    has_previous = queries & (previous >= 0)[:, None, :]
    on_previous = np.take_along_axis(
        weights, np.maximum(previous, 0)[:, None, :, None], axis=3
    )[..., 0]
    return {
        **statistics,
        "mean_distance": _mean((weights * distance[:, None]).sum(axis=3), queries),
        "self_weight": _mean(np.diagonal(weights, axis1=2, axis2=3), queries),
        "previous_token_weight": _mean(on_previous, has_previous),
    }


def _previous_real(key_mask):
    """For each position, the index of the real position before it, or -1."""
    index = np.where(key_mask, np.arange(key_mask.shape[1]), -1)
    last_real = np.maximum.accumulate(index, axis=1)  # at or before each
    return np.concatenate([np.full((len(index), 1), -1), last_real[:, :-1]], axis=1)


def _mean(values, where):
    """The mean of `(B, H, Tq)` values over the queries in `where`, per head."""
    count = where.sum(axis=(0, 2))
    total = np.where(where, values, 0.0).sum(axis=(0, 2))
    return np.divide(total, count, out=np.full(len(total), np.nan), where=count > 0)
