"""The layers an interactive view shows, read from a probe result or a mapping."""

import numbers
from collections.abc import Mapping

import numpy as np

from keras_attnviz.render.heads_grid import _head_weights, _position, _select
from keras_attnviz.render.heatmap import _labels
from keras_attnviz.render.inputs import encodable, unpack_attention_map

ROLLOUT = "rollout"
# A float32 softmax row may exceed 1 by a rounding error.
_ROUNDING = 1e-6


class ViewLayers:
    """Checks and selects the inputs of `head_view` and `model_view`.

    Args:
        weights, tokens, sample, query_tokens, layers, heads, rollout,
        rollout_kws: as in `head_view`.

    Attributes:
        names: the name of each layer shown (`list[str]`), the rollout last.
        weights: one float64 array `(H, Tq, Tk)` per layer, in [0, 1].
        heads: the model's number of each head shown, per layer (`[0]` for
            the rollout).
        head_labels: the label of each head, per layer: its number, or
            `"rollout"`.
        tokens: one label per key (`list[str]`).
        query_tokens: one label per query.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.render._view_layers import ViewLayers
    >>> weights = np.full((2, 3, 4, 4), 0.25)  # 2 layers, 3 heads, 4 tokens
    >>> layers = ViewLayers({"a": weights[0], "b": weights[1]}, "abcd", heads=[0, 2])
    >>> layers.names, layers.heads, layers.query_tokens
    (['a', 'b'], [[0, 2], [0, 2]], ['a', 'b', 'c', 'd'])
    ```
    """

    def __init__(
        self,
        weights,
        tokens=None,
        *,
        sample=None,
        query_tokens=None,
        layers=None,
        heads=None,
        rollout=False,
        rollout_kws=None,
    ):
        if not isinstance(rollout, bool):
            raise TypeError(
                f"`rollout` must be True or False. Received: rollout={rollout!r}"
            )
        if _is_probe_result(weights):
            # The result's own layer names and masks pick the layers and tokens.
            values = _probe_sample(weights, sample, layers, tokens, query_tokens)
            layers = tokens = query_tokens = None
            guess_queries = False
        elif sample is not None:
            raise TypeError(
                "`sample` picks a sample of a probe result; `weights` is one "
                f"sample already. Received: sample={sample!r} with weights of "
                f"type {type(weights).__name__}"
            )
        else:
            values, guess_queries = _as_mapping(weights), True
        names = list(values)
        names = [names[row] for row in _select(layers, names, "layers", "layer")]
        stack, map_tokens, map_queries = _stack(values, names)
        n_heads, n_queries, n_keys = stack.shape[1:]
        columns = _select(heads, list(range(n_heads)), "heads", "head")
        self.names = [encodable(str(name)) for name in names]
        self.weights = list(stack[:, columns])
        self.heads = [list(columns) for _ in names]
        self.head_labels = [[str(column) for column in columns] for _ in names]
        tokens = map_tokens if tokens is None else tokens
        query_tokens = map_queries if query_tokens is None else query_tokens
        if query_tokens is None and guess_queries and n_queries == n_keys:
            query_tokens = tokens
        self.tokens = _labels(tokens, n_keys, "tokens", "key")
        self.query_tokens = _labels(query_tokens, n_queries, "query_tokens", "query")
        if rollout:
            self._add_rollout(rollout_kws)

    def head_names(self, index):
        """The name of each head of layer `index`: `"head 3"`, or `"rollout"`."""
        if self.head_labels[index] == [ROLLOUT]:
            return [ROLLOUT]
        return [f"head {head}" for head in self.heads[index]]

    def head_titles(self, index):
        """A title for each head of layer `index`, e.g. `"encoder/att, head 3"`."""
        if self.head_labels[index] == [ROLLOUT]:
            return ["attention rollout"]
        return [f"{self.names[index]}, {head}" for head in self.head_names(index)]

    def index(self, layer):
        """The position of `layer` (a name or position; `None`: the first)."""
        return 0 if layer is None else _position(layer, self.names, "layer", "layer")

    def _add_rollout(self, rollout_kws):
        if ROLLOUT in self.names:
            raise ValueError(
                f'`rollout=True` adds a layer named "{ROLLOUT}"; the weights '
                f"have one already. Received: layers {self.names}"
            )
        n_queries, n_keys = self.weights[0].shape[1:]
        if n_queries != n_keys:
            raise ValueError(
                "`rollout=True` needs self-attention, as many queries as keys. "
                f"Received: {n_queries} queries and {n_keys} keys"
            )
        from keras_attnviz.analysis import attention_rollout

        flow = attention_rollout(self.weights, **(rollout_kws or {}))
        self.names.append(ROLLOUT)
        self.weights.append(np.clip(np.asarray(flow, dtype=np.float64), 0, 1)[None])
        self.heads.append([0])
        self.head_labels.append([ROLLOUT])


def _is_probe_result(value):
    return hasattr(value, "attention") and callable(getattr(value, "sample", None))


def _probe_sample(result, sample, layers, tokens, query_tokens):
    """The attention maps of one sample of a probe result, by layer name."""
    names = list(result.attention)
    if not names:
        raise ValueError("`weights` must hold at least one layer. Received: none")
    sample = _sample_index(sample, len(result))
    names = [names[row] for row in _select(layers, names, "layers", "layer")]
    if len({name in result.self_attention for name in names}) > 1:
        mixed = {name: name in result.self_attention for name in names}
        raise ValueError(
            "The layers of one view must be all self-attention or all "
            "cross-attention, whose queries are other tokens; pick them with "
            f"`layers=`. Received: self-attention {mixed}"
        )
    return {
        name: result.sample(sample, name, tokens=tokens, query_tokens=query_tokens)
        for name in names
    }


def _sample_index(sample, n_samples):
    if sample is None and n_samples != 1:
        raise ValueError(
            f"`sample` must say which of the {n_samples} samples to show. "
            "Received: sample=None"
        )
    return 0 if sample is None else position(sample, n_samples, "sample", "samples")


def position(value, count, name, items):
    """`value` checked as the position of one of `count` `items`, made >= 0.

    Example:

    ```python
    >>> from keras_attnviz.render._view_layers import position
    >>> position(-1, 5, "query", "queries")
    4
    ```
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be an int, a position among the {items}. "
            f"Received: {name}={value!r}"
        )
    if not -count <= value < count:
        raise ValueError(
            f"`{name}` must be the position of one of the {count} {items}. "
            f"Received: {name}={value}"
        )
    return int(value) % count


def _as_mapping(weights):
    if isinstance(weights, Mapping):
        if not weights:
            raise ValueError(
                "`weights` must hold at least one layer. Received: an empty dict"
            )
        return weights
    if unpack_attention_map(weights, None)[1] is not None:
        layer = getattr(weights, "layer", None)
        return {0 if layer is None else layer: weights}
    raise TypeError(
        "`weights` must be a probe result, an attention map or a dict mapping "
        "layer names to (heads, queries, keys) weights. Received: an object of "
        f"type {type(weights).__name__}"
    )


def _stack(values, names):
    """Weights `(L, H, Tq, Tk)` of the layers `names`, and any tokens they carry."""
    arrays, tokens, queries = {}, None, None
    for name in names:
        map_tokens, array, map_queries = unpack_attention_map(values[name], None)
        if array is None:  # an array, not an attention map
            array, map_tokens = map_tokens, None
        array = _head_weights(array, f"weights[{name!r}]", ranks=(2, 3))[0]
        arrays[name] = array if array.ndim == 3 else array[np.newaxis]
        tokens = map_tokens if tokens is None else tokens
        queries = map_queries if queries is None else queries
    shapes = {name: array.shape for name, array in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            "The layers of one view must share one (heads, queries, keys) shape; "
            f"pick them with `layers=`. Received: {shapes}"
        )
    stack = np.stack(list(arrays.values()))
    low, high = stack.min(), stack.max()
    if low < 0 or high > 1 + _ROUNDING:
        raise ValueError(
            "`weights` must be attention weights, between 0 and 1: the views "
            f"draw them as opacities. Received: values from {low:.6g} to {high:.6g}"
        )
    return np.minimum(stack, 1.0), tokens, queries
