"""Finding attention layers in a model, and the masks that reach them."""

import inspect
from typing import NamedTuple

import keras


def is_attention_layer(layer):
    """Whether `layer` can return its attention weights.

    That holds for Keras's `Attention`, `AdditiveAttention`, `MultiHeadAttention`
    and `GroupQueryAttention`, for keras_attnviz's layers, and for any layer whose
    `call` accepts `return_attention_scores`.
    """
    if isinstance(layer, keras.Model):
        return False
    return "return_attention_scores" in _call_parameters(layer)


def walk_layers(model, prefix=()):
    """Every layer of `model`, nested models included, as `(path, layer)`.

    `path` is the tuple of layer names from the outer model down to the layer.
    """
    for layer in model.layers:
        path = (*prefix, layer.name)
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from walk_layers(layer, path)


class AttentionCall(NamedTuple):
    """What one call of an attention layer attends with.

    Attributes:
        query_mask: the symbolic boolean query mask, or `None`.
        key_mask: the symbolic boolean key mask, or `None`.
        self_attention: whether the queries are the keys.
        query: the query tensor, or `None` for a pooling call.
        value: the value tensor, whose mask (Keras's convention) masks the keys.
    """

    query_mask: object
    key_mask: object
    self_attention: bool
    query: object
    value: object


def query_and_key_masks(layer, args, kwargs):
    """The symbolic query and key masks of one call of an attention layer.

    Args:
        layer: the attention layer.
        args: positional arguments of the call.
        kwargs: keyword arguments of the call.

    Returns:
        An `AttentionCall`.
    """
    try:
        bound = inspect.signature(layer.call).bind(*args, **kwargs).arguments
    except TypeError:
        return AttentionCall(None, None, False, None, None)
    if "value" in bound:
        # MultiHeadAttention-style: query, value, key and one mask argument each.
        query, value = bound.get("query"), bound["value"]
        key = bound.get("key")
        key = value if key is None else key
        query_mask = _mask(bound.get("query_mask"), query)
        key_mask = _mask(bound.get("key_mask"), key)
        key_mask = (
            _mask(bound.get("value_mask"), value) if key_mask is None else key_mask
        )
        self_attention = query is value and key is value
        return AttentionCall(query_mask, key_mask, self_attention, query, value)
    inputs = bound.get("inputs", next(iter(bound.values()), None))
    mask = bound.get("mask")
    if not isinstance(inputs, (list, tuple)):
        # A pooling call with a learned query: the input holds the keys. With a
        # causal mask, each key position is also a query, (N, T, T).
        key_mask = _mask(mask, inputs)
        if bound.get("use_causal_mask") is True:
            return AttentionCall(key_mask, key_mask, True, inputs, inputs)
        return AttentionCall(None, key_mask, False, None, inputs)
    masks = list(mask) if isinstance(mask, (list, tuple)) else [None] * len(inputs)
    masks += [None] * (len(inputs) - len(masks))
    query_mask = _mask(masks[0], inputs[0])
    # Keras's convention: [query, value(, key)], keys masked by the value mask.
    key_mask = _mask(masks[1], inputs[1]) if len(inputs) > 1 else None
    self_attention = len(inputs) > 1 and all(x is inputs[0] for x in inputs[1:])
    value = inputs[1] if len(inputs) > 1 else None
    return AttentionCall(query_mask, key_mask, self_attention, inputs[0], value)


def keras_mask(tensor):
    """The mask Keras propagated with `tensor`, or `None`."""
    # Keras keeps the propagated mask of a tensor in this attribute, and offers
    # no public getter for it.
    return getattr(tensor, "_keras_mask", None)


def _mask(explicit, tensor):
    return keras_mask(tensor) if explicit is None else explicit


def _call_parameters(layer):
    try:
        return inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return {}
