"""Plain NumPy results of a probe: `ProbeResult` for a batch, `AttentionMap` for one
sample.

This module imports NumPy only, so results can be pickled, inspected and rendered
without Keras.

Masks here are keep-masks: `True` marks a real position, `False` padding. They
are named `key_mask`/`key_masks` and `query_masks` so that they are not taken for
the `mask` of `render.heatmap`, which (as in seaborn) marks the cells to hide.
"""

import numpy as np

from keras_attnviz.tokens import as_tokens, is_text

_PADDING_CHOICES = ("pre", "post")


class AttentionMap:
    """The attention weights of one sample, restricted to its real positions.

    Renderers accept an `AttentionMap` wherever they take tokens and weights.

    Args:
        weights: array of the weights over the real positions only: `(T,)` for
            pooling or a 2-D query, `(Tq, T)` for a sequence query, `(H, Tq, T)`
            for multi-head attention.
        tokens: optional list of `T` key tokens.
        query_tokens: optional list of `Tq` query tokens, for `(Tq, T)` and
            `(H, Tq, T)` weights.
        layer: optional name of the layer the weights come from.
        key_mask: optional boolean mask over the original, padded key
            positions: `True` = real, `False` = padding.

    Raises:
        ValueError: if `weights` is not 1-D to 3-D, or the tokens do not match its
            shape.

    Example:

    ```python
    >>> from keras_attnviz import AttentionMap
    >>> amap = AttentionMap([0.1, 0.9], tokens=["good", "movie"], layer="attention")
    >>> amap.top(1)
    [('movie', 0.9)]
    ```
    """

    def __init__(
        self, weights, tokens=None, query_tokens=None, layer=None, key_mask=None
    ):
        self.weights = np.asarray(weights)
        if not 1 <= self.weights.ndim <= 3:
            raise ValueError(
                "`weights` must be 1-D (T,), 2-D (Tq, T) or 3-D (H, Tq, T). "
                f"Received: weights with shape {self.weights.shape}"
            )
        self.tokens = _as_tokens(tokens, self.weights.shape[-1], "tokens")
        if query_tokens is not None and self.weights.ndim == 1:
            raise ValueError(
                "`query_tokens` needs weights with a query axis, (Tq, T) or "
                f"(H, Tq, T). Received: weights with shape {self.weights.shape}"
            )
        query_length = self.weights.shape[-2] if self.weights.ndim > 1 else 0
        self.query_tokens = _as_tokens(query_tokens, query_length, "query_tokens")
        self.layer = layer
        self.key_mask = None if key_mask is None else np.asarray(key_mask, dtype=bool)

    @property
    def shape(self):
        """The shape of `weights`."""
        return self.weights.shape

    def top(self, k=5):
        """The `k` key positions with the largest weight.

        Multi-dimensional weights are averaged over heads and queries first.

        Args:
            k: how many positions to return.

        Returns:
            A list of `(token, weight)` pairs, largest first; the token is the
            position index when the map has no tokens.
        """
        weights = self.weights.reshape(-1, self.weights.shape[-1]).mean(axis=0)
        order = np.argsort(-weights, kind="stable")[:k]
        labels = self.tokens if self.tokens is not None else range(len(weights))
        labels = list(labels)
        return [(labels[i], float(weights[i])) for i in order]

    def __repr__(self):
        return (
            f"AttentionMap(layer={self.layer!r}, shape={self.weights.shape}, "
            f"tokens={_preview(self.tokens)})"
        )


class ProbeResult:
    """What a probe returns for a batch of inputs.

    Attributes:
        outputs: the model's outputs, with the structure and values that
            `model.predict` gives.
        attention: dict from layer name to a NumPy array of weights: `(N, T)`
            for pooling or a 2-D query, `(N, Tq, T)`, `(N, H, Tq, T)` for
            multi-head attention.
        key_masks: dict from layer name to the boolean `(N, T)` key mask that
            Keras passed to the layer (for example from
            `Embedding(mask_zero=True)`), `True` = real key, for layers that
            received one and whose weights agree with it (no weight on padded
            keys).
        query_masks: dict from layer name to the boolean `(N, Tq)` query mask,
            `True` = real query, for layers that received one.
        self_attention: set of the layer names whose queries are their keys, so
            that queries and keys share tokens and padding.
        causal: set of the layer names that applied a causal mask (no query
            sees a later key).

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz import ProbeResult
    >>> # What `AttentionProbe.predict` returns, here made by hand: one layer,
    >>> # two samples, the second post-padded (key mask: True = real).
    >>> weights = np.array([[0.2, 0.3, 0.5], [0.4, 0.6, 0.0]])
    >>> result = ProbeResult(
    ...     np.zeros((2, 1)),
    ...     {"attention": weights},
    ...     key_masks={"attention": weights > 0},
    ... )
    >>> result.attention["attention"].shape
    (2, 3)
    >>> result.sample(1, tokens=["a", "film"]).weights
    array([0.4, 0.6])
    ```
    """

    def __init__(
        self,
        outputs,
        attention,
        key_masks=None,
        query_masks=None,
        self_attention=(),
        *,
        causal=(),
    ):
        self.outputs = outputs
        self.attention = dict(attention)
        self.key_masks = dict(key_masks or {})
        self.query_masks = dict(query_masks or {})
        self.self_attention = set(self_attention)
        self.causal = set(causal)

    @property
    def layer_names(self):
        """The names of the layers whose weights this result holds."""
        return list(self.attention)

    def __len__(self):
        """The number of samples; 0 for a result that holds no layer."""
        return len(next(iter(self.attention.values()), ()))

    def __getitem__(self, layer):
        return self.attention[self._layer_name(layer)]

    def sample(self, i, layer=None, tokens=None, *, query_tokens=None, padding=None):
        """The attention map of sample `i`, over its real positions only.

        Padded positions are dropped using the key mask when the model has one
        (pre- or post-padding alike). Without a mask, `tokens` tells how many
        positions are real and `padding` on which side the rest lies.

        Args:
            i: index of the sample in the batch.
            layer: name of the layer; may be left out when the result holds a
                single layer.
            tokens: optional key tokens, either one per real position or one per
                padded position (padding tokens are then dropped too).
            query_tokens: optional query tokens, the same way; for
                self-attention the queries take the keys' tokens and padding.
            padding: `"pre"` or `"post"`, where the padding lies when the model
                has no mask and `tokens` is shorter than the sequence.

        Returns:
            An `AttentionMap`.

        Raises:
            ValueError: for an unknown layer, an index out of range, tokens that
                do not fit the sequence, or a missing `padding` when it is needed.
            TypeError: if `tokens` or `query_tokens` is one string.
        """
        name = self._layer_name(layer)
        weights = self.attention[name]
        if not -len(weights) <= i < len(weights):
            raise ValueError(
                f"`i` must index one of the {len(weights)} samples. Received: i={i}"
            )
        weights = weights[i]
        key_mask = self.key_masks.get(name)
        key_mask = None if key_mask is None else key_mask[i]
        keep, tokens = _real_positions(
            key_mask, tokens, weights.shape[-1], padding, "tokens"
        )
        weights = weights[..., keep]
        if weights.ndim > 1 and name in self.self_attention:
            weights = weights[..., keep, :]
            query_tokens = tokens if query_tokens is None else query_tokens
        elif weights.ndim > 1:
            query_mask = self.query_masks.get(name)
            query_mask = None if query_mask is None else query_mask[i]
            query_keep, query_tokens = _real_positions(
                query_mask, query_tokens, weights.shape[-2], padding, "query_tokens"
            )
            weights = weights[..., query_keep, :]
        return AttentionMap(
            weights,
            tokens=tokens,
            query_tokens=query_tokens,
            layer=name,
            key_mask=key_mask,
        )

    def _layer_name(self, layer):
        if layer is None:
            if len(self.attention) == 1:
                return next(iter(self.attention))
            raise ValueError(
                "This result holds several layers; pass `layer`, one of "
                f"{list(self.attention)}. Received: layer=None"
            )
        if layer not in self.attention:
            raise ValueError(
                f"`layer` must be one of {list(self.attention)}. Received: "
                f"layer={layer!r}"
            )
        return layer

    def __repr__(self):
        shapes = {name: w.shape for name, w in self.attention.items()}
        return f"ProbeResult(samples={len(self)}, attention={shapes})"


def _real_positions(mask, tokens, length, padding, argument):
    """Index of the real positions of one axis, and the tokens for them."""
    if tokens is not None:
        _check_not_string(tokens, argument)
        tokens = as_tokens(tokens, name=argument)
    if mask is not None:
        keep = np.flatnonzero(mask)
        if tokens is not None and len(tokens) == length != len(keep):
            tokens = [tokens[j] for j in keep]
        if tokens is not None and len(tokens) != len(keep):
            raise ValueError(
                f"`{argument}` must hold one token per real position ({len(keep)}) "
                f"or per padded position ({length}). Received: {len(tokens)} tokens"
            )
        return keep, tokens
    if tokens is None or len(tokens) == length:
        return np.arange(length), tokens
    if len(tokens) > length:
        raise ValueError(
            f"`{argument}` must not be longer than the sequence ({length}). "
            f"Received: {len(tokens)} tokens"
        )
    if padding not in _PADDING_CHOICES:
        raise ValueError(
            f"The model has no mask and `{argument}` is shorter than the sequence "
            f"({len(tokens)} < {length}): pass `padding='pre'` or `padding='post'` "
            f"to say where the padding lies. Received: padding={padding!r}"
        )
    start = length - len(tokens) if padding == "pre" else 0
    return np.arange(start, start + len(tokens)), tokens


def _as_tokens(tokens, length, argument):
    if tokens is None:
        return None
    _check_not_string(tokens, argument)
    tokens = as_tokens(tokens, name=argument)
    if len(tokens) != length:
        raise ValueError(
            f"`{argument}` must hold one token per position ({length}). "
            f"Received: {len(tokens)} tokens"
        )
    return tokens


def _check_not_string(tokens, argument):
    if is_text(tokens):
        raise TypeError(
            f"`{argument}` must be a sequence of strings, not one string. "
            f"Received: {argument}={tokens!r}"
        )


def _preview(tokens, limit=6):
    if tokens is None:
        return None
    shown = ", ".join(repr(token) for token in tokens[:limit])
    more = ", ..." if len(tokens) > limit else ""
    return f"[{shown}{more}]"
