"""Attention rollout: how much each output position draws on each input."""

import functools

import numpy as np

from keras_attnviz.analysis._attention_weights import SelfAttentionStack


def attention_rollout(weights, *, residual=0.5, head_reduction="mean", key_mask=None):
    """Attention rollout (Abnar & Zuidema, 2020, "Quantifying Attention Flow in
    Transformers", section 3).

    Each layer's heads are reduced to one matrix `W`, mixed with the identity
    for the residual stream (`residual * I + (1 - residual) * W`, rows
    renormalised to sum to 1), and the layers are multiplied from the input
    upwards. Row `i` of the result says how much the top layer's position `i`
    draws on input position `j`, through every path the attention opens.

    With `"max"` or `"min"`, `W`'s rows no longer sum to 1, so the
    renormalisation changes the residual's share, as in the usual
    implementations of these head fusions.

    Padded positions take no part: their rows and columns are dropped before,
    and are 0 in the result.

    Args:
        weights: the self-attention weights of a stack of layers, from the input
            upwards: a `ProbeResult` (its `self_attention` layers, in the order
            the model computes them, with its key masks), a mapping
            `{layer: weights}` or a sequence of arrays, each `(B, H, T, T)`,
            `(H, T, T)` or `(T, T)`. Rows must sum to 1 over the real keys.
        residual: the share of the residual connection, in [0, 1]. `1` gives
            the identity, `0` the plain product of the attention matrices.
        head_reduction: how heads are combined: `"mean"`, `"max"` or `"min"`.
        key_mask: for arrays only, an optional boolean `(B, T)` (`(T,)` for
            unbatched weights), `True` = real position.

    Returns:
        A float64 array `(B, T, T)`, or `(T, T)` for unbatched weights. Real
        rows sum to 1.

    Raises:
        TypeError: if `weights` is not one of the above, holds non-numeric
            arrays, or `residual` is not a number.
        ValueError: for weights that are not square, differ in size between
            layers, are negative or not finite, or whose rows do not sum to 1
            over the real keys (the error names the layer); for a `residual`
            outside [0, 1] or an unknown `head_reduction`.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.analysis import attention_rollout
    >>> # Two layers over two positions; each query looks only at position 0.
    >>> to_first = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> attention_rollout([to_first, to_first], residual=0.5)
    array([[1.  , 0.  ],
           [0.75, 0.25]])
    ```
    """
    stack = SelfAttentionStack(weights, key_mask, residual, head_reduction)
    layers = stack.mixed()
    rollout = functools.reduce(lambda below, above: np.matmul(above, below), layers)
    return stack.restore(rollout)
