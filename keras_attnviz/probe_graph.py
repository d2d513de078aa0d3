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

from keras_attnviz.attention_layers import (
    is_attention_layer,
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

    Returns:
        `(outputs, scores)`, as `layer` returns them.
    """

    def __init__(self, layer, **kwargs):
        kwargs.setdefault("name", f"{layer.name}_scores")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = layer.supports_masking
        self.built = layer.built

    def call(self, inputs, *args, **kwargs):
        return self.layer(inputs, *args, return_attention_scores=True, **kwargs)

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
        # Inside the nested graph the inputs carry no mask; the caller's do.
        outer_mask = _single_mask(args, kwargs)
        taps = []
        for k, tap in enumerate(self.taps):
            weights, key_mask, query_mask = slots[3 * k : 3 * k + 3]
            if key_mask is None and tap.is_attention_layer:
                key_mask = outer_mask
            if query_mask is None and tap.self_attention:
                query_mask = key_mask
            taps.append(
                replace(tap, weights=weights, key_mask=key_mask, query_mask=query_mask)
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
            outputs, scores = operation(*args, **kwargs)
            query_mask, key_mask, self_attention = query_and_key_masks(
                operation.layer, args, kwargs
            )
            path = (*prefix, operation.layer.name)
            taps.append(Tap(path, scores, key_mask, query_mask, self_attention))
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


def _single_mask(args, kwargs):
    """The mask of the call's only masked input, if exactly one has a mask."""
    masks = [
        m
        for m in (
            getattr(x, "_keras_mask", None) for x in keras.tree.flatten((args, kwargs))
        )
        if m is not None
    ]
    return masks[0] if len(masks) == 1 else None


def _holds_selected(model, selected):
    return any(id(layer) in selected for _, layer in walk_layers(model))
