"""Rebuilding a model's graph so that it also returns attention weights and masks.

The rebuilt graph reuses the model's own layers, so it always computes with the
model's current weights. An attention layer is called through `AttentionScores`,
a fresh operation that shares the layer and asks it for its scores: calling the
already-used layer itself with `return_attention_scores=True` would add a node
with more outputs than its first one, which Keras then reports as disconnected.
"""

import warnings
from dataclasses import dataclass, replace

import keras

from keras_attnviz.probe.discovery import (
    is_attention_layer,
    keras_mask,
    query_and_key_masks,
    walk_layers,
)


@keras.saving.register_keras_serializable(package="keras_attnviz")
class AttentionScores(keras.layers.Layer):
    """Calls `layer` with `return_attention_scores=True`, sharing its weights.

    Args:
        layer: a built attention layer.

    Call arguments:
        inputs, *args, **kwargs: what `layer` is called with.
        plain_outputs: whether to take the outputs from a second, plain call of
            `layer`. Keras's `MultiHeadAttention` and `GroupQueryAttention` leave
            their fused kernel for an explicit softmax when asked for scores,
            and the two differ at fully masked queries (the fused kernel gives
            the mean of the values, the softmax zeros); the plain call keeps the
            outputs exactly those of the model.

    Returns:
        `(outputs, scores)`, as `layer` returns them.
    """

    def __init__(self, layer, **kwargs):
        kwargs.setdefault("name", f"{layer.name}_scores")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = layer.supports_masking
        self.built = layer.built

    def call(self, inputs, *args, plain_outputs=False, **kwargs):
        tensors = keras.tree.flatten((inputs, args, kwargs))
        masks = [keras_mask(x) for x in tensors]
        outputs, scores = self.layer(
            inputs, *args, return_attention_scores=True, **kwargs
        )
        if plain_outputs:
            # `MultiHeadAttention` removes the masks of its inputs when it runs;
            # the plain call must see them as the first one did.
            for x, mask in zip(tensors, masks, strict=True):
                if mask is not None:
                    x._keras_mask = mask
            outputs = self.layer(inputs, *args, **kwargs)
        return outputs, scores

    def compute_mask(self, inputs, previous_mask):
        # The scores carry no mask; the outputs carry the layer's own.
        return self.layer.compute_mask(inputs, previous_mask), None

    def get_config(self):
        layer = keras.saving.serialize_keras_object(self.layer)
        return {**super().get_config(), "layer": layer}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = keras.saving.deserialize_keras_object(config.pop("layer"))
        return cls(layer, **config)


@dataclass
class Tap:
    """One exposed tensor: the layer path it comes from and its symbolic values."""

    path: tuple
    weights: object
    key_mask: object = None
    query_mask: object = None
    self_attention: bool = False
    is_attention_layer: bool = True
    # The tensors whose masks would mask the queries and keys, in the graph
    # that holds the tap: a nested model's taps take the caller's mask only
    # where these are the nested model's own inputs.
    query: object = None
    value: object = None

    def tensors(self):
        return [self.weights, self.key_mask, self.query_mask]


@dataclass
class ProbeGraph:
    """A model that returns the original outputs followed by every tap.

    Attributes:
        model: the `keras.Model`; its flat outputs are the original model's
            flat outputs, then per tap its weights, key mask and query mask
            (the masks only where they exist).
        output_structure: the structure of the original model's outputs.
        taps: the `Tap`s, in the order of the outputs.
    """

    model: keras.Model
    output_structure: object
    taps: list


def build_probe_graph(model, selected):
    """Rebuild `model` so that it also returns what the `selected` layers give.

    Args:
        model: a Functional or Sequential model; nested models are rebuilt too.
        selected: set of `id`s of the layers to expose.

    Returns:
        A `ProbeGraph`.
    """
    with warnings.catch_warnings():
        # Keras warned about lost masks when the model was built; once is enough.
        warnings.filterwarnings("ignore", message=".*does not support masking")
        nested = _NestedProbe(*_rebuild(model, selected))
    return ProbeGraph(nested.model, nested.structure, nested.taps)


class _NestedProbe:
    """A rebuilt model that returns its taps after its own outputs."""

    def __init__(self, model, taps):
        self.structure = model.output
        outputs = keras.tree.flatten(model.output)
        self.num_outputs = len(outputs)
        self.taps = taps
        self.query_inputs = [_input_index(model.inputs, tap.query) for tap in taps]
        self.value_inputs = [_input_index(model.inputs, tap.value) for tap in taps]
        # Missing masks stay `None` slots in `layout`, and out of the model.
        extra = [t for tap in taps for t in tap.tensors()]
        self.layout = [t is not None for t in extra]
        self.model = keras.Model(
            model.input,
            outputs + [t for t in extra if t is not None],
            name=f"{model.name}_probe",
        )

    def call(self, args, kwargs):
        """Call the rebuilt model; returns its outputs and its taps, rewired."""
        flat = keras.tree.flatten(self.model(*args, **kwargs))
        extra = iter(flat[self.num_outputs :])
        slots = [next(extra) if present else None for present in self.layout]
        # Inside the nested graph the inputs carry no mask; the caller's do. A
        # layer attending over an input itself sees its mask. Deeper layers
        # may see the caller's mask too, carried on by mask-propagating layers
        # (a GRU, a Dense), or may not (a Conv1D drops it): where it fits it is
        # reported, and the probe's results drop it for any batch whose
        # weights show that the layer did not apply it.
        outer = _call_inputs(args, kwargs, len(self.model.inputs))
        caller_mask = _only_mask(outer)
        taps = []
        for k, tap in enumerate(self.taps):
            weights, key_mask, query_mask = slots[3 * k : 3 * k + 3]
            query = _at(outer, self.query_inputs[k])
            value = _at(outer, self.value_inputs[k])
            if key_mask is None:
                key_mask = _fitting_mask(keras_mask(value), weights, -1)
            if key_mask is None and value is None:
                key_mask = _fitting_mask(caller_mask, weights, -1)
            if query_mask is None and tap.self_attention:
                query_mask = key_mask
            if query_mask is None and len(weights.shape) > 2:
                query_mask = _fitting_mask(keras_mask(query), weights, -2)
            taps.append(
                replace(
                    tap,
                    weights=weights,
                    key_mask=key_mask,
                    query_mask=query_mask,
                    query=query,
                    value=value,
                )
            )
        outputs = keras.tree.pack_sequence_as(self.structure, flat[: self.num_outputs])
        return outputs, taps


def _rebuild(model, selected, prefix=()):
    """Rebuild one (possibly nested) model; returns the rebuilt model and taps."""
    # A fresh view of the same graph: no compile state to clone, and Sequential
    # models get a Functional graph to walk.
    if isinstance(model, keras.Sequential):
        # Its `input` and `output` would be those of its first call as a layer.
        view = keras.Model(model.inputs[0], model.outputs[0], name=model.name)
    else:
        view = keras.Model(model.input, model.output, name=model.name)
    taps = []
    nested = {}

    def clone_function(layer):
        if isinstance(layer, keras.Model) and _holds_selected(layer, selected):
            probe = _NestedProbe(*_rebuild(layer, selected, (*prefix, layer.name)))
            nested[id(probe.model)] = probe
            return probe.model
        if id(layer) in selected and is_attention_layer(layer):
            return AttentionScores(layer)
        return layer

    def call_function(operation, *args, **kwargs):
        if isinstance(operation, AttentionScores):
            wants_scores = kwargs.pop("return_attention_scores", False)
            found = query_and_key_masks(operation.layer, args, kwargs)
            # Only a mask can leave a query with no key to attend to (a causal
            # mask alone cannot); elsewhere both kernels agree.
            plain_outputs = _has_fused_kernel(operation.layer) and (
                found.query_mask is not None
                or found.key_mask is not None
                or kwargs.get("attention_mask") is not None
            )
            outputs, scores = operation(*args, plain_outputs=plain_outputs, **kwargs)
            path = (*prefix, operation.layer.name)
            taps.append(
                Tap(
                    path,
                    scores,
                    key_mask=_fitting_mask(found.key_mask, scores, -1),
                    query_mask=_fitting_mask(found.query_mask, scores, -2),
                    self_attention=found.self_attention,
                    query=found.query,
                    value=found.value,
                )
            )
            return (outputs, scores) if wants_scores else outputs
        if id(operation) in nested:
            outputs, inner_taps = nested[id(operation)].call(args, kwargs)
            taps.extend(inner_taps)
            return outputs
        outputs = operation(*args, **kwargs)
        if id(operation) in selected:
            path = (*prefix, operation.name)
            taps.append(Tap(path, outputs, is_attention_layer=False))
        return outputs

    clone = keras.models.clone_model(
        view, clone_function=clone_function, call_function=call_function
    )
    return clone, taps


def _has_fused_kernel(layer):
    return isinstance(
        layer, (keras.layers.MultiHeadAttention, keras.layers.GroupQueryAttention)
    )


def _input_index(inputs, tensor):
    """Which of a model's `inputs` `tensor` is, or `None`."""
    return next((k for k, x in enumerate(inputs) if x is tensor), None)


def _call_inputs(args, kwargs, num_inputs):
    """The flat input tensors of a call of a nested model, or `None`."""
    inputs = args[0] if args else kwargs.get("inputs")
    flat = keras.tree.flatten(inputs) if inputs is not None else []
    return flat if len(flat) == num_inputs else None


def _only_mask(tensors):
    """The mask of the one masked tensor among `tensors`, or `None`."""
    masks = [keras_mask(t) for t in tensors or []]
    masks = [mask for mask in masks if mask is not None]
    return masks[0] if len(masks) == 1 else None


def _at(tensors, index):
    return None if tensors is None or index is None else tensors[index]


def _fitting_mask(mask, weights, axis):
    """`mask`, or `None` where its length is not that of the weights' `axis`."""
    if mask is None or len(weights.shape) < 1 - axis:
        return None
    length, expected = mask.shape[-1], weights.shape[axis]
    if length is not None and expected is not None and length != expected:
        return None
    return mask


def _holds_selected(model, selected):
    return any(id(layer) in selected for _, layer in walk_layers(model))
