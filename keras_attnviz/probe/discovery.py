"""Finding the attention in a model: at any depth, in any kind of layer.

A model is walked as a tree: a Functional or Sequential model by its graph's
layers (named by layer name), every other layer or model by the attributes
that hold its sublayers (named by attribute, `blocks[0]` for a list, `heads[q]`
for a dict; a private attribute, `_self_attention_layer`, gives way to the
layer's own name). Each layer gets a `Site` saying how its weights can be taken:

- `"multi_head"`: Keras's `MultiHeadAttention`, `GroupQueryAttention` and
  their subclasses (keras-hub's `CachedMultiHeadAttention`): the weights and
  the final attention mask, from `_compute_attention`.
- `"scores"`: a layer whose `call` takes `return_attention_scores` and holds no
  other attention (Keras's `Attention`, `AdditiveAttention`, ours, a user's).
- `"softmax"`: a layer that holds a `keras.layers.Softmax` (keras-hub's
  Llama, Gemma and Mistral attention): the softmax's output and mask.
- `"output"`: a layer named by the user whose output is the weights.
- `"frame"`: any other layer not from Keras itself; a call of
  `keras.ops.dot_product_attention` inside it (a fused kernel) is taken as its
  attention.
"""

import dataclasses
import inspect

import keras

from keras_attnviz import keras_internals

MULTI_HEAD, SCORES, SOFTMAX, OUTPUT, FRAME = (
    "multi_head",
    "scores",
    "softmax",
    "output",
    "frame",
)
ATTENTION_KINDS = (MULTI_HEAD, SCORES, SOFTMAX)


@dataclasses.dataclass(eq=False)
class Site:
    """One layer of the model tree.

    Attributes:
        path: tuple of names from the model down to the layer.
        layer: the layer.
        kind: how its weights are taken (see the module docstring).
        anchor: index in `path` of the first name below the graph models, so
            that `"/".join(path[anchor:])` names the layer within its graph.
    """

    path: tuple
    layer: object
    kind: str
    anchor: int

    @property
    def name(self):
        return "/".join(self.path)

    @property
    def short_name(self):
        return "/".join(self.path[self.anchor :])


def is_graph_model(model):
    """Whether `model` is Functional or Sequential (its layers form a graph)."""
    return keras_internals.is_functional(model) or isinstance(model, keras.Sequential)


def walk(model):
    """Every layer of `model` below it, as `Site`s, outer layers first.

    A layer held in several places (shared weights) is one site, at the first
    place it is found.
    """
    sites = []
    _walk(model, (), 0, sites, set(), outer_graph=True)
    return sites


def _walk(layer, path, anchor, sites, seen, outer_graph):
    # Names stay short inside graphs: below a graph model reached through
    # graph models only (not a Sequential held by a custom layer), a layer is
    # named from the layer that is a node of the innermost graph.
    graph = outer_graph and is_graph_model(layer)
    for name, child in _children(layer):
        if id(child) in seen:
            continue
        seen.add(id(child))
        child_path = (*path, name)
        child_anchor = len(path) if graph else anchor
        kind = _kind(child)
        sites.append(Site(child_path, child, kind, child_anchor))
        if kind in (FRAME, None):
            _walk(child, child_path, child_anchor, sites, seen, graph)


def _children(layer):
    """`(name, sublayer)` pairs of `layer`, in the order they were made."""
    if is_graph_model(layer):
        return [(child.name, child) for child in layer.layers]
    named = {}
    attributes = dict(vars(layer))
    if keras.backend.backend() == "torch":
        # A PyTorch module keeps its sublayers out of its `__dict__`; its
        # public `named_children` lists them by attribute.
        attributes.update(layer.named_children())
    for attribute, value in attributes.items():
        if attribute.startswith("_"):
            continue
        if isinstance(value, keras.layers.Layer):
            named.setdefault(id(value), attribute)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, keras.layers.Layer):
                    named.setdefault(id(item), f"{attribute}[{i}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, keras.layers.Layer):
                    named.setdefault(id(item), f"{attribute}[{key}]")
    return [
        (named.get(id(child), child.name), child)
        for child in keras_internals.direct_sublayers(layer)
    ]


def _kind(layer):
    if isinstance(layer, keras.Model) or isinstance(layer, keras.layers.InputLayer):
        return None
    if keras_internals.is_multi_head_attention(layer):
        return MULTI_HEAD
    if takes_scores_argument(layer) and not _holds_attention(layer):
        return SCORES
    if any(
        isinstance(child, keras.layers.Softmax)
        for child in keras_internals.direct_sublayers(layer)
    ):
        return SOFTMAX
    if type(layer).__module__.startswith("keras."):
        return None
    return FRAME


def _holds_attention(layer):
    return any(site.kind in ATTENTION_KINDS for site in walk_layer(layer))


def walk_layer(layer):
    """The `Site`s below one layer (as `walk`, for a layer that is no model)."""
    sites = []
    _walk(layer, (), 0, sites, set(), outer_graph=False)
    return sites


def takes_scores_argument(layer):
    """Whether `layer.call` accepts `return_attention_scores`."""
    return "return_attention_scores" in call_parameters(layer)


def call_parameters(layer):
    try:
        return inspect.signature(type(layer).call).parameters
    except (TypeError, ValueError):
        return {}


class AttentionCall:
    """What one call of a `"scores"` layer attends with: masks and queries.

    Keras fills a layer's `mask` (or `query_mask`/`value_mask`/`key_mask`)
    argument from its inputs' masks before `call` runs, so the bound arguments
    of the call are the masks the layer applies.

    Args:
        bound: the arguments of the call, bound to the names of `call`.

    Attributes:
        query_mask: the boolean `(B, Tq)` query mask, or `None`.
        key_mask: the boolean `(B, Tk)` key mask, or `None`.
        self_attention: whether the queries are the keys.
        causal: whether the call asked for a causal mask.
    """

    def __init__(self, bound):
        self.query_mask = self.key_mask = None
        self.self_attention = self.causal = False
        self.causal = bound.get("use_causal_mask") is True
        if "value" in bound:
            # MultiHeadAttention-style: query, value, key and a mask each.
            query, value = bound.get("query"), bound["value"]
            key = value if bound.get("key") is None else bound["key"]
            self.query_mask = _mask(bound.get("query_mask"), query)
            self.key_mask = _mask(bound.get("key_mask"), key)
            if self.key_mask is None:
                self.key_mask = _mask(bound.get("value_mask"), value)
            self.self_attention = query is value and key is value
            return
        inputs = bound.get("inputs", next(iter(bound.values()), None))
        mask = bound.get("mask")
        if not isinstance(inputs, (list, tuple)):
            # Pooling with a learned query: the input holds the keys. With a
            # causal mask, each key position is also a query, (B, T, T).
            self.key_mask = _mask(mask, inputs)
            if self.causal:
                self.query_mask = self.key_mask
                self.self_attention = True
            return
        masks = list(mask) if isinstance(mask, (list, tuple)) else [None] * len(inputs)
        masks += [None] * (len(inputs) - len(masks))
        self.query_mask = _mask(masks[0], inputs[0])
        # Keras's convention: [query, value(, key)], keys masked by the value's.
        if len(inputs) > 1:
            self.key_mask = _mask(masks[1], inputs[1])
        self.self_attention = len(inputs) > 1 and all(
            x is inputs[0] for x in inputs[1:]
        )


def _mask(explicit, tensor):
    if explicit is not None:
        return explicit
    return None if tensor is None else keras_internals.keras_mask(tensor)
