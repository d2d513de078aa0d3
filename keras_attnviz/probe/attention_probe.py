"""`AttentionProbe`: the attention weights of any Keras model, in one forward pass."""

import difflib

import keras
import numpy as np

from keras_attnviz.probe.discovery import is_attention_layer, walk_layers
from keras_attnviz.probe.results import ProbeResult
from keras_attnviz.probe.batches import count_batches, iter_input_batches
from keras_attnviz.probe.graph import build_probe_graph

# Weights sum to 1 over their keys, or to 0 where every key is masked; narrow
# floats (float16) get a wider tolerance, in units of their precision.
_SUM_TOLERANCE = 1e-3
_SUM_TOLERANCE_EPS = 16
# A layer that applied its key mask puts no more than this on the padded keys
# of a query (softmax gives them exactly 0).
_PADDED_WEIGHT_TOLERANCE = 1e-5


class AttentionProbe:
    """Exposes the attention weights of a model, nested models included.

    The probe rebuilds the model's graph on the model's own layers, so it always
    computes with the model's current weights, also after further training. It
    finds every layer that can return attention scores: Keras's `Attention`,
    `AdditiveAttention`, `MultiHeadAttention` and `GroupQueryAttention`,
    keras_attnviz's `AdditiveAttention` and `DotProductAttention`, and any layer
    whose `call` accepts `return_attention_scores`, whether or not the model
    asked for the scores.

    Keras's `MultiHeadAttention` and `GroupQueryAttention` leave their fused
    kernel for an explicit softmax when asked for scores, and the two differ at
    fully masked (padded) queries: the mean of the values against zeros. Where a
    mask can reach such a layer, the probe takes its scores from the explicit
    call and its outputs from a plain one, so `ProbeResult.outputs` stay exactly
    `model.predict`'s (at the cost of a second attention computation there).

    A result reports a layer's mask only where the layer's weights agree with
    it. Keras passes a mask along with a tensor, but a layer may not apply it:
    Keras's `MultiHeadAttention`, for one, removes the masks of its inputs when
    it runs, so another layer that attends over the same tensor afterwards sees
    none. Where a layer puts weight (over 1e-5) on keys its mask calls padded,
    in any real query of any sample of a batch, the result of that batch holds
    no key or query mask for that layer, and `ProbeResult.sample` keeps every
    position unless told by `tokens` and `padding`. Inside a nested model, a
    layer reports the mask of the nested model's masked input where its length
    fits the weights: mask-carrying layers (a GRU, a Dense) pass it on, and
    where a layer in between dropped it (a Conv1D), the weight check above
    removes it.

    Args:
        model: a built Functional or Sequential `keras.Model`.
        layers: optional list of the layers to expose, by name (the plain layer
            name, or `"outer/inner"` for a layer of a nested model) or as layer
            objects. Besides attention layers, any layer whose output *is*
            attention weights works, such as
            `Activation("softmax", name="attention_vec")`. Defaults to every
            attention layer.

    Attributes:
        layer_names: the names under which results hold each layer's weights.
            A layer called several times appears once per call, in the order the
            model computes them: `"name"`, `"name:1"`, `"name:2"`, ...
        model: the rebuilt `keras.Model`; it returns the model's outputs, then
            the weights and masks of each layer.

    Raises:
        TypeError: if `model` is not a `keras.Model`.
        ValueError: if the model has no attention layer and `layers` is not
            given, if `layers` names an unknown layer, or if a named layer's
            output cannot be attention weights.

    Example:

    ```python
    probe = keras_attnviz.AttentionProbe(model)
    result = probe.predict(token_ids)
    result.attention["attention"]  # (N, T)
    result.sample(0, tokens=words)  # AttentionMap over the real tokens
    ```
    """

    def __init__(self, model, layers=None):
        if not isinstance(model, keras.Model):
            raise TypeError(
                "`model` must be a `keras.Model`. "
                f"Received: model of type {type(model).__name__}"
            )
        if not model.built or not _has_graph(model):
            raise ValueError(
                "`model` must be a built Functional or Sequential model, so that "
                "its layers can be rewired. Build it with an `Input` or call it "
                f"once on data. Received: model {model.name!r} of type "
                f"{type(model).__name__}"
            )
        selected = _select_layers(model, layers)
        strategy = getattr(model, "distribute_strategy", None)
        if strategy is None:
            graph = build_probe_graph(model, selected)
        else:
            with strategy.scope():
                graph = build_probe_graph(model, selected)
        self._source = model
        self._graph = graph
        self._names = _display_names([tap.path for tap in graph.taps])
        for name, tap in zip(self._names, graph.taps, strict=True):
            if not tap.is_attention_layer:
                _check_weights_spec(name, tap.weights)
        self._replicas = getattr(strategy, "num_replicas_in_sync", 1)

    @property
    def layer_names(self):
        """Names of the exposed layers, as keys of `ProbeResult.attention`."""
        return list(self._names)

    @property
    def model(self):
        """The rebuilt `keras.Model` that returns outputs, weights and masks."""
        return self._graph.model

    def describe(self):
        """One `(name, layer class, weights shape)` triple per exposed layer.

        The shape is symbolic: `None` for the batch and other free dimensions.
        """
        layers = {path: layer for path, layer in walk_layers(self._source)}
        return [
            (name, type(layers[tap.path]).__name__, tuple(tap.weights.shape))
            for name, tap in zip(self._names, self._graph.taps, strict=True)
        ]

    def predict(self, x, batch_size=None, verbose="auto", steps=None):
        """Runs the model once over `x`; returns outputs, weights and masks.

        Args:
            x: what `model.predict` takes: arrays (a list or dict of them for
                several inputs), a `tf.data.Dataset`, a generator or a
                `keras.utils.PyDataset`.
            batch_size: as in `model.predict`; defaults to 32 for arrays.
            verbose: `"auto"`, 0 (silent), 1 (progress bar) or 2 (one line).
            steps: as in `model.predict`, the number of batches to draw from a
                dataset or generator.

        Returns:
            A `ProbeResult` for all of `x`.

        Raises:
            ValueError: if a named layer's output is not attention weights.
        """
        flat = self._graph.model.predict(
            x, batch_size=batch_size, verbose=verbose, steps=steps
        )
        return self._result(flat)

    def iter_batches(self, data, batch_size=None, verbose="auto"):
        """Probes `data` one batch at a time, in flat memory.

        Args:
            data: arrays (a tuple, list or dict of them for several inputs), a
                `tf.data.Dataset`, a `keras.utils.PyDataset`, or any iterable of
                batches such as a generator. Tuples follow Keras's rule: `(x,)`,
                `(x, y)` or `(x, y, sample_weight)`, and only `x` is used;
                except that when the model has several inputs and the tuple
                holds exactly one array per input, the tuple is `x`.
            batch_size: the batch size for arrays (defaults to 32). Datasets and
                iterables are already batched, so it must be `None` for them.
            verbose: `"auto"` or 1 shows a progress bar, 0 is silent.

        Yields:
            One `ProbeResult` per batch.

        Raises:
            ValueError: if `batch_size` is given for batched data, or is not
                positive.
        """
        model = self._graph.model
        batches = iter_input_batches(data, batch_size, num_inputs=len(model.inputs))
        progbar = None
        if verbose != 0:
            progbar = keras.utils.Progbar(count_batches(data, batch_size))
        for x in batches:
            if self._replicas > 1:
                # `predict_on_batch` would run the whole batch on every replica.
                flat = model.predict(x, batch_size=_num_samples(x), verbose=0)
            else:
                flat = model.predict_on_batch(x)
            yield self._result(flat)
            if progbar is not None:
                progbar.add(1)

    def _result(self, flat):
        flat = [np.asarray(array) for array in keras.tree.flatten(flat)]
        structure = self._graph.output_structure
        num_outputs = len(keras.tree.flatten(structure))
        outputs = keras.tree.pack_sequence_as(structure, flat[:num_outputs])
        if isinstance(structure, (list, tuple)) and len(structure) == 1:
            # `predict` unwraps a model's single output from its list.
            outputs = outputs[0]
        extra = iter(flat[num_outputs:])
        attention, key_masks, query_masks, self_attention = {}, {}, {}, []
        for name, tap in zip(self._names, self._graph.taps, strict=True):
            weights = attention[name] = next(extra)
            key_mask = query_mask = None
            if tap.key_mask is not None:
                key_mask = next(extra).astype(bool)
            if tap.query_mask is not None:
                query_mask = next(extra).astype(bool)
            if key_mask is not None and _padded_keys_weighted(
                weights, key_mask, query_mask
            ):
                key_mask = query_mask = None
            if key_mask is not None:
                key_masks[name] = key_mask
            if query_mask is not None:
                query_masks[name] = query_mask
            if tap.self_attention:
                self_attention.append(name)
            if not tap.is_attention_layer:
                _check_weights_values(name, weights)
        return ProbeResult(outputs, attention, key_masks, query_masks, self_attention)


def _has_graph(model):
    # Subclassed models compute in Python; only graph models can be rewired.
    return isinstance(model, keras.Sequential) or hasattr(model, "_nodes_by_depth")


def _select_layers(model, layers):
    """`id`s of the layers to expose: the named ones, or every attention layer."""
    found = list(walk_layers(model))
    if layers is None:
        selected = {id(layer) for _, layer in found if is_attention_layer(layer)}
        if not selected:
            raise ValueError(
                f"Model {model.name!r} has no attention layer. Name the layer whose "
                "output is the attention weights, e.g. "
                "`AttentionProbe(model, layers=['attention_vec'])`. "
                f"Received: a model with layers {[layer.name for _, layer in found]}"
            )
        return selected
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    by_name = {}
    for path, layer in found:
        by_name.setdefault(layer.name, layer)
        by_name["/".join(path)] = layer
    selected = set()
    for entry in layers:
        if isinstance(entry, keras.layers.Layer):
            if all(layer is not entry for _, layer in found):
                raise ValueError(
                    f"`layers` holds layer {entry.name!r}, which is not part of "
                    f"model {model.name!r}. Received: layers={layers}"
                )
            selected.add(id(entry))
        elif isinstance(entry, str):
            if entry not in by_name:
                raise ValueError(_unknown_name_message(entry, list(by_name)))
            selected.add(id(by_name[entry]))
        else:
            raise TypeError(
                "`layers` must hold layer names or layer objects. "
                f"Received: {entry!r} of type {type(entry).__name__}"
            )
    for _, layer in found:
        if id(layer) in selected and isinstance(layer, keras.Model):
            raise ValueError(
                "`layers` must name the layers inside a nested model, not the "
                f"nested model itself. Received: {layer.name!r}"
            )
        if id(layer) in selected and isinstance(layer, keras.layers.InputLayer):
            raise ValueError(
                "`layers` must name layers that output attention weights. "
                f"Received: {layer.name!r}, an input of the model"
            )
    return selected


def _unknown_name_message(name, available):
    closest = difflib.get_close_matches(name, available, n=len(available), cutoff=0)
    return (
        f"`layers` names no layer of the model: {name!r}. Available layers, "
        f"closest first: {closest}. Received: {name!r}"
    )


def _display_names(paths):
    """Plain layer names where they are unambiguous, `outer/inner` otherwise."""
    plain_users = {}
    for path in paths:
        plain_users.setdefault(path[-1], set()).add(path)
    names, seen = [], {}
    for path in paths:
        name = path[-1] if len(plain_users[path[-1]]) == 1 else "/".join(path)
        calls = seen[name] = seen.get(name, -1) + 1
        names.append(name if calls == 0 else f"{name}:{calls}")
    return names


def _check_weights_spec(name, tensor):
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if "float" not in dtype or not 2 <= len(tensor.shape) <= 4:
        raise ValueError(
            f"Layer {name!r} must output attention weights: floats of shape "
            "(N, T), (N, Tq, T) or (N, heads, Tq, T). "
            f"Received: output of shape {tuple(tensor.shape)} and dtype {dtype}"
        )


def _padded_keys_weighted(weights, key_mask, query_mask):
    """Whether `weights` put weight on keys `key_mask` calls padded.

    Only real queries of samples with a real key count: a fully masked query
    row may spread its weight anywhere.
    """
    if key_mask.shape[-1] != weights.shape[-1]:
        return True
    if key_mask.all():
        return False
    n, extra = len(weights), weights.ndim - 2
    padded = ~key_mask.reshape(n, *(1,) * extra, -1)
    on_padded = np.where(padded, weights, 0).sum(axis=-1, dtype="float64")
    counted = key_mask.any(axis=-1).reshape(n, *(1,) * extra)
    if query_mask is not None and extra > 0:
        if query_mask.shape[-1] != weights.shape[-2]:
            return True
        counted = counted & query_mask.reshape(n, *(1,) * (extra - 1), -1)
    counted = np.broadcast_to(counted, on_padded.shape)
    return bool(np.any(on_padded[counted] > _PADDED_WEIGHT_TOLERANCE))


def _sum_tolerance(dtype):
    try:
        eps = float(np.finfo(dtype).eps)
    except (TypeError, ValueError):
        # Floats NumPy does not describe, such as bfloat16 (8 bits of mantissa).
        eps = 2.0**-7
    return max(_SUM_TOLERANCE, _SUM_TOLERANCE_EPS * eps)


def _check_weights_values(name, weights):
    if weights.size == 0:
        return
    tolerance = _sum_tolerance(weights.dtype)
    sums = [
        np.abs(weights.sum(axis=axis, dtype="float64"))
        for axis in range(1, weights.ndim)
    ]
    summing_to_one = any(
        np.all((np.abs(s - 1) < tolerance) | (s < tolerance)) for s in sums
    )
    if weights.min() < -tolerance or not summing_to_one:
        raise ValueError(
            f"Layer {name!r} must output attention weights: values >= 0 that sum "
            "to 1 over the keys, such as a softmax. Received: values from "
            f"{weights.min():.3g} to {weights.max():.3g} that do not sum to 1 "
            "along any axis"
        )


def _num_samples(x):
    return len(keras.tree.flatten(x)[0])
