"""Reading attention weights for the analyses, checked once.

Weights come as a `ProbeResult` (recognised by its attributes, so that Keras is
never imported), a mapping `{layer: weights}` or a sequence of per-layer
weights. Each layer is read into a `LayerWeights`: a `(B, H, Tq, Tk)` array with
its key and query masks (`True` = real position).
"""

import numbers
from collections.abc import Mapping

import numpy as np

# Softmax rows in float16 sum to 1 within about 5e-4.
ROW_SUM_TOLERANCE = 1e-3
HEAD_REDUCTIONS = ("mean", "max", "min")
_PROBE_RESULT_ATTRIBUTES = ("attention", "key_masks", "query_masks", "self_attention")
_ARRAY_SHAPES = "(B, H, Tq, Tk), (H, Tq, Tk) or (Tq, Tk)"


def is_probe_result(weights):
    """Whether `weights` is a `ProbeResult`, judged by its attributes."""
    return all(hasattr(weights, name) for name in _PROBE_RESULT_ATTRIBUTES)


class LayerWeights:
    """The weights of one attention layer, checked, with their masks.

    Args:
        weights: array `(B, H, Tq, Tk)`.
        label: how errors name the layer (`"layer 'mha'"`, `"layer 0"`).
        name: the layer's name or index, as the caller gave it.
        key_mask: optional boolean `(B, Tk)`, `True` = real key.
        query_mask: optional boolean `(B, Tq)`, `True` = real query.
        self_attention: whether the queries are the keys (same positions).

    Raises:
        ValueError: if the weights are negative, not finite, or a real query's
            row does not sum to 1 over the real keys.
    """

    def __init__(self, weights, label, name, key_mask, query_mask, self_attention):
        self.weights, self.label, self.name = weights, label, name
        batch, _, queries, keys = weights.shape
        self.key_mask = _full_mask(key_mask, batch, keys)
        self.query_mask = _full_mask(query_mask, batch, queries)
        self.self_attention = self_attention
        self._check_values()

    @property
    def shape(self):
        """The shape of `weights`, `(B, H, Tq, Tk)`."""
        return self.weights.shape

    @property
    def heads(self):
        """The number of heads."""
        return self.weights.shape[1]

    def _check_values(self):
        array = self.weights
        keys = self.key_mask.astype(array.dtype)[:, None, :, None]
        sums = np.matmul(array, keys)[..., 0]  # (B, H, Tq)
        # A NaN makes the minimum NaN, which fails `>= 0`; an inf anywhere
        # makes its row's sum inf or NaN.
        if not (array.min() >= 0 and np.isfinite(sums).all()):
            self._raise_for_bad_value()
        off = np.abs(sums - 1) > ROW_SUM_TOLERANCE
        off &= self.query_mask[:, None, :]
        if off.any():
            sample, head, query = (int(i) for i in np.argwhere(off)[0])
            raise ValueError(
                "`weights` must be attention weights, each real query's row "
                f"summing to 1 over the real keys (within {ROW_SUM_TOLERANCE}). "
                f"Received: {self.label} has a row summing to "
                f"{sums[sample, head, query]:.6g} (sample {sample}, head {head}, "
                f"query {query})"
            )

    def _raise_for_bad_value(self):
        for bad, what in (
            (~np.isfinite(self.weights), "finite"),
            (self.weights < 0, "non-negative"),
        ):
            if bad.any():
                sample, head, query, key = (int(i) for i in np.argwhere(bad)[0])
                value = self.weights[sample, head, query, key]
                raise ValueError(
                    f"`weights` must be {what}. Received: {value} in "
                    f"{self.label} (sample {sample}, head {head}, query {query}, "
                    f"key {key})"
                )


def read_layers(weights, key_mask=None, *, only_self_attention=False):
    """Reads the layers of `weights`, in order.

    Args:
        weights: a `ProbeResult`, a mapping `{layer: array}` or a sequence of
            arrays. Arrays are `(B, H, Tq, Tk)`, `(H, Tq, Tk)` or `(Tq, Tk)`;
            a `ProbeResult`'s are batched as it documents: `(N, H, Tq, Tk)`,
            `(N, Tq, Tk)` or `(N, T)` for pooling (one query).
        key_mask: for arrays only, an optional boolean `(B, Tk)` (`(Tk,)` for
            unbatched weights), `True` = real key, used for every layer; a
            layer whose queries are as many as its keys is taken as
            self-attention, its queries masked the same way.
        only_self_attention: whether to read, from a `ProbeResult`, only the
            layers it names in `self_attention`.

    Returns:
        A tuple `(layers, batched)`: a list of `LayerWeights` and whether the
        weights had a batch axis.

    Raises:
        TypeError: for weights of the wrong type.
        ValueError: for bad shapes or values, or a mask that does not fit.
    """
    if is_probe_result(weights):
        if key_mask is not None:
            raise ValueError(
                "`key_mask` is read from the `ProbeResult` itself; pass it only "
                "with arrays. Received: a ProbeResult and a key_mask"
            )
        names = [
            name
            for name in weights.attention
            if name in weights.self_attention or not only_self_attention
        ]
        return [_probe_layer(weights, name) for name in names], True
    named = _named_arrays(weights)
    arrays = [(name, label, _as_array(array, label)) for name, label, array in named]
    batched = {array.ndim == 4 for _, _, array in arrays}
    if len(batched) > 1:
        shapes = ", ".join(f"{label} {array.shape}" for _, label, array in arrays)
        raise ValueError(
            "`weights` must be all batched (B, H, Tq, Tk) or all unbatched "
            f"(H, Tq, Tk) or (Tq, Tk). Received: {shapes}"
        )
    batched = batched.pop()
    layers = []
    for name, label, array in arrays:
        array = (
            array if batched else array.reshape((1,) * (4 - array.ndim) + array.shape)
        )
        mask = _as_key_mask(key_mask, array.shape, batched, label)
        square = array.shape[2] == array.shape[3]
        query_mask = mask if square else None
        layers.append(LayerWeights(array, label, name, mask, query_mask, square))
    return layers, batched


class SelfAttentionStack:
    """Self-attention layers from the input upwards, sharing one key mask.

    Args:
        weights: a `ProbeResult` (its self-attention layers, in the order the
            model computes them), a mapping or a sequence of `(B, H, T, T)`,
            `(H, T, T)` or `(T, T)` arrays.
        key_mask: for arrays only, an optional boolean `(B, T)` (`(T,)` for
            unbatched weights), `True` = real position.
        residual: the share of the identity, a number in [0, 1].
        head_reduction: one of `HEAD_REDUCTIONS`.

    Raises:
        TypeError: for weights of the wrong type, or a `residual` that is not
            a number.
        ValueError: for no self-attention layer, weights that are not square,
            layers of different sizes, key masks that disagree, bad values, a
            `residual` outside [0, 1] or an unknown `head_reduction`.
    """

    def __init__(self, weights, key_mask, residual, head_reduction):
        self.residual = _check_residual(residual)
        self.head_reduction = _check_head_reduction(head_reduction)
        self.layers, self.batched = read_layers(
            weights, key_mask, only_self_attention=True
        )
        if not self.layers:
            raise ValueError(
                "`weights` must hold at least one self-attention layer. Received: "
                f"a ProbeResult none of whose layers {list(weights.attention)} is "
                "in its `self_attention`"
            )
        first = self.layers[0]
        for layer in self.layers:
            batch, _, queries, keys = layer.shape
            if queries != keys:
                raise ValueError(
                    "`weights` must be self-attention weights, square (T x T). "
                    f"Received: {layer.label} with {queries} queries and {keys} keys"
                )
            if (batch, keys) != (first.shape[0], first.shape[3]):
                raise ValueError(
                    "`weights` must have the same batch size and sequence length "
                    f"in every layer. Received: {first.label} of shape "
                    f"{first.shape} and {layer.label} of shape {layer.shape}"
                )
            if not np.array_equal(layer.key_mask, first.key_mask):
                raise ValueError(
                    "The self-attention layers of `weights` must share one key "
                    f"mask. Received: {first.label} and {layer.label} mask "
                    "different positions"
                )
        self.key_mask = first.key_mask

    def mixed(self):
        """Yields each layer's head-reduced weights, mixed with the residual.

        Each is `residual * I + (1 - residual) * W` with padded rows and columns
        zeroed, its real rows renormalised to sum to 1.

        Yields:
            float64 arrays `(B, T, T)`, from the input upwards.

        Raises:
            ValueError: when a real row is left with no weight to renormalise
                (`"min"` over heads that look at different keys, with
                `residual=0`).
        """
        residual, head_reduction = self.residual, self.head_reduction
        length = self.key_mask.shape[1]
        padded = not self.key_mask.all()
        real = self.key_mask[:, :, None] & self.key_mask[:, None, :]
        for layer in self.layers:
            reduced = getattr(layer.weights, head_reduction)(axis=1)
            mixed = reduced.astype(np.float64)
            mixed *= 1 - residual
            mixed.reshape(len(mixed), -1)[:, :: length + 1] += residual
            if padded:
                mixed *= real
            sums = mixed.sum(axis=2, keepdims=True)
            if np.any((sums[..., 0] == 0) & self.key_mask):
                raise ValueError(
                    f"`head_reduction={head_reduction!r}` with `residual=0` leaves "
                    f"a real query of {layer.label} with no weight on any real "
                    "key, so its row cannot be renormalised. Received: "
                    f"head_reduction={head_reduction!r}, residual={residual}. "
                    "Pass `residual > 0` or another `head_reduction`."
                )
            yield np.divide(mixed, sums, out=mixed, where=sums > 0)

    def restore(self, array):
        """Drops the batch axis again when the weights had none."""
        return array if self.batched else array[0]


def _check_residual(residual):
    if isinstance(residual, bool) or not isinstance(residual, numbers.Real):
        raise TypeError(
            f"`residual` must be a number in [0, 1]. Received: residual={residual!r}"
        )
    if not 0 <= residual <= 1:
        raise ValueError(
            f"`residual` must be in [0, 1]. Received: residual={residual!r}"
        )
    return float(residual)


def _check_head_reduction(head_reduction):
    if not isinstance(head_reduction, str) or head_reduction not in HEAD_REDUCTIONS:
        raise ValueError(
            f"`head_reduction` must be one of {HEAD_REDUCTIONS}. Received: "
            f"head_reduction={head_reduction!r}"
        )
    return head_reduction


def _named_arrays(weights):
    if isinstance(weights, Mapping):
        return [(name, f"layer {name!r}", array) for name, array in weights.items()]
    if isinstance(weights, (str, bytes)) or hasattr(weights, "shape"):
        what = (
            f"an array of shape {weights.shape}"
            if hasattr(weights, "shape")
            else repr(weights)
        )
        raise TypeError(
            "`weights` must be a ProbeResult, a mapping {layer: weights} or a "
            "sequence of per-layer weights (pass `list(array)` if an array's "
            f"first axis runs over layers). Received: {what}"
        )
    try:
        arrays = list(weights)
    except TypeError:
        raise TypeError(
            "`weights` must be a ProbeResult, a mapping {layer: weights} or a "
            f"sequence of per-layer weights. Received: {weights!r}"
        ) from None
    if not arrays:
        raise ValueError("`weights` must hold at least one layer. Received: none")
    return [(i, f"layer {i}", array) for i, array in enumerate(arrays)]


def _as_array(weights, label, shapes=_ARRAY_SHAPES):
    try:
        array = np.asarray(weights)
    except ValueError:
        raise ValueError(
            f"`weights` must be rectangular arrays of numbers. Received: {label} "
            "is ragged"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"`weights` must be numeric. Received: {label} of dtype {array.dtype}"
        )
    if not 2 <= array.ndim <= 4:
        raise ValueError(
            f"`weights` must be arrays {shapes}. Received: {label} of shape "
            f"{array.shape}"
        )
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def _probe_layer(result, name):
    label = f"layer {name!r}"
    array = _as_array(
        result.attention[name], label, shapes="(N, H, Tq, Tk), (N, Tq, Tk) or (N, T)"
    )
    if array.ndim == 2:  # pooling: one query per sample
        array = array[:, None, None, :]
    elif array.ndim == 3:
        array = array[:, None]
    key_mask = result.key_masks.get(name)
    self_attention = name in result.self_attention
    query_mask = key_mask if self_attention else result.query_masks.get(name)
    return LayerWeights(array, label, name, key_mask, query_mask, self_attention)


def _as_key_mask(key_mask, shape, batched, label):
    if key_mask is None:
        return None
    mask = np.asarray(key_mask)
    expected = (shape[0], shape[3]) if batched else (shape[3],)
    if mask.shape != expected:
        layout = "(B, Tk)" if batched else "(Tk,)"
        raise ValueError(
            f"`key_mask` must be {layout} {expected}, to fit {label}. Received: "
            f"key_mask of shape {mask.shape}"
        )
    if mask.dtype != bool and not (
        mask.dtype.kind in "iu" and np.isin(mask, (0, 1)).all()
    ):
        raise TypeError(
            "`key_mask` must be boolean (True = real position). Received: "
            f"key_mask of dtype {mask.dtype}"
        )
    return mask.astype(bool).reshape(shape[0], shape[3])


def _full_mask(mask, batch, length):
    if mask is None:
        return np.ones((batch, length), dtype=bool)
    return np.asarray(mask, dtype=bool)
