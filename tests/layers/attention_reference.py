"""NumPy (float64) reference of the attention layers, read off their weights."""

import keras
import numpy as np

from keras_attnviz.layers import AdditiveAttention, DotProductAttention


def as_numpy(x, dtype=None):
    """`x` (a tensor of any backend, or an array) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x), dtype)


def weights_of(layer):
    return {w.name: as_numpy(w, "float64") for w in layer.weights}


def reference_scores(layer, query, keys):
    """Scores `(B, Tq, T)`, or `(B, 1, T)` when `query` is None (pooling)."""
    w = weights_of(layer)
    keys = as_numpy(keys, "float64")
    if isinstance(layer, AdditiveAttention):
        hidden = keys @ w["key_kernel"] + w["bias"]
        if query is None:
            return np.tanh(hidden)[:, None] @ w["score_vector"]
        projected = as_numpy(query, "float64") @ w["query_kernel"]
        return np.tanh(projected[:, :, None] + hidden[:, None]) @ w["score_vector"]
    if isinstance(layer, DotProductAttention):
        if query is None:
            query = np.broadcast_to(w["pooling_query"], (len(keys), 1, keys.shape[-1]))
        query = as_numpy(query, "float64")
        if layer.score == "general":
            query = query @ w["kernel"]
        scores = query @ keys.transpose(0, 2, 1)
        if layer.scale is True:
            return scores / np.sqrt(keys.shape[-1])
        return scores * layer.scale if layer.scale else scores
    raise TypeError(f"No reference for {type(layer).__name__}")


def reference_attention(
    layer, values, query=None, keys=None, value_mask=None, query_mask=None, causal=False
):
    """`(context, weights)` as the layer should return them, in float64."""
    values = as_numpy(values, "float64")
    keys = values if keys is None else keys
    single_query = query is not None and np.ndim(query) == 2
    if single_query:
        query = as_numpy(query)[:, None]
    scores = reference_scores(layer, query, keys)
    batch, steps = values.shape[:2]
    mask = np.ones((batch, 1, steps), bool)
    if value_mask is not None:
        mask = mask & as_numpy(value_mask, bool)[:, None]
    if causal:
        rows = steps if query is None else query.shape[1]
        mask = mask & np.tril(np.ones((rows, steps), bool))[None]
    scores, mask = np.broadcast_arrays(scores, mask)
    weights = np.zeros(scores.shape)
    scores = np.where(mask, scores, -np.inf)
    row_max = scores.max(-1, keepdims=True)
    shifted = np.exp(scores - np.where(np.isfinite(row_max), row_max, 0.0))
    total = shifted.sum(-1, keepdims=True)
    np.divide(shifted, total, out=weights, where=total > 0)
    context = weights @ values
    if query_mask is not None:
        context = context * as_numpy(query_mask, bool).reshape(*context.shape[:-1], 1)
    if single_query or (query is None and not causal):
        return context[:, 0], weights[:, 0]
    return context, weights


def assert_outputs_close(actual, expected, atol=1e-6):
    """Compares two `(context, weights)` pairs element by element."""
    for a, b in zip(actual, expected, strict=True):
        np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=1e-5, atol=atol)
