"""`AttentionProbe`: the attention weights of any Keras model, in one forward pass."""

import dataclasses
import difflib
import functools

import keras
import numpy as np

from keras_attnviz import keras_internals
from keras_attnviz.probe import discovery
from keras_attnviz.probe.batches import (
    are_numpy_arrays,
    count_batches,
    iter_input_batches,
    num_samples,
    predict_arrays,
)
from keras_attnviz.probe.probe_model import ProbeModel
from keras_attnviz.probe.results import ProbeResult

# Weights sum to 1 over their keys, or to 0 where every key is masked; narrow
# floats (float16) get a wider tolerance, in units of their precision.
_SUM_TOLERANCE = 1e-3
_SUM_TOLERANCE_EPS = 16
# A layer that applied its key mask puts no more than this on the padded keys
# of a query (softmax gives them exactly 0).
_PADDED_WEIGHT_TOLERANCE = 1e-5
# Weights computed beside a fused kernel must reproduce its output this well,
# relative to the output's scale.
_FUSED_TOLERANCE = 1e-3


class AttentionProbe:
    """Exposes the attention weights of a model, at any depth.

    The probe runs the model itself (not a copy) with hooks on its attention
    layers, so it always computes with the model's current weights, also after
    further training, and `ProbeResult.outputs` are exactly what
    `model.predict` gives. It finds attention wherever the model computes it:

    - Keras's `MultiHeadAttention` and `GroupQueryAttention` and their
      subclasses (keras-hub's `CachedMultiHeadAttention`), with their weights
      per head and the final mask they applied (padding, `attention_mask`,
      causal);
    - any layer whose `call` takes `return_attention_scores` (Keras's
      `Attention` and `AdditiveAttention`, keras_attnviz's layers, yours),
      whether or not the model asked for the scores;
    - layers holding a `keras.layers.Softmax` (keras-hub's Llama and Gemma
      attention), from the softmax's output;
    - a fused kernel, `keras.ops.dot_product_attention`, called inside a layer
      of your own or of keras-hub: the probe computes the weights it applies
      beside it and checks, on every batch, that they reproduce its output.

    These layers may sit anywhere: in a Functional or Sequential model, in
    nested models, inside custom layers (as attributes, in lists or dicts), or
    in a subclassed model.

    A layer's name is its path from the model down: layer names in graph
    models, attribute names inside custom layers (`"transformer_block/att"`,
    `"blocks[0]/att"`). Within a graph the path starts at the graph's layer
    (`"att"`, not `"encoder/att"`) unless that is ambiguous. A layer called
    several times appears once per call, in the order the model computes
    them: `"name"`, `"name:1"`, `"name:2"`, ...

    Masks are reported as the layer applied them: a key mask (and for
    sequence queries a query mask) where the layer received one or masked its
    softmax, and `ProbeResult.causal` names the layers that applied a causal
    mask. Keras passes a mask along with a tensor, but a layer may not apply
    it; where a layer puts weight (over 1e-5) on keys its mask calls padded,
    in any real query of a batch, the result of that batch holds no mask for
    that layer.

    Args:
        model: a built `keras.Model`: Functional, Sequential, or subclassed
            and called once on data.
        layers: optional list of the layers to expose, by name (as in
            `layer_names`, the full path, or the layer's own `name`) or as
            layer objects. Besides attention layers, any layer whose output
            *is* attention weights works, such as
            `Activation("softmax", name="attention_vec")`. Defaults to every
            attention layer.

    Attributes:
        layer_names: the names under which results hold each call's weights.
        model: the `keras.Model` that runs `model` with the probe's hooks; it
            returns the model's outputs, then one dict of tensors per call.

    Raises:
        TypeError: if `model` is not a `keras.Model`, or `layers` holds
            something other than names and layers.
        ValueError: if the model was never built or called, has no attention
            and `layers` is not given, if `layers` names an unknown layer, or
            if a named layer's output cannot be attention weights.

    Example:

    ```python
    import keras
    import numpy as np
    import keras_attnviz

    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(100, 16, mask_zero=True)(inputs)
    x = keras_attnviz.AdditiveAttention(name="attention")(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))

    probe = keras_attnviz.AttentionProbe(model)
    token_ids = np.array([[5, 8, 13, 0, 0], [7, 2, 9, 4, 1]])
    result = probe.predict(token_ids, verbose=0)
    result.attention["attention"].shape  # (2, 5)
    result.sample(0, tokens=["a", "good", "film"]).weights.shape  # (3,)
    ```
    """

    def __init__(self, model, layers=None):
        if not isinstance(model, keras.Model):
            raise TypeError(
                "`model` must be a `keras.Model`. "
                f"Received: model of type {type(model).__name__}"
            )
        if not model.built:
            raise ValueError(
                "`model` must be built: give it an `Input`, or call it once on "
                "data, so that its layers exist. Received: model "
                f"{model.name!r}, never built or called"
            )
        sites = discovery.walk(model)
        sites, selected = _select_sites(model, sites, layers)
        strategy = getattr(model, "distribute_strategy", None)
        if strategy is None:
            probe_model = ProbeModel(model, sites, selected)
        else:
            with strategy.scope():
                probe_model = ProbeModel(model, sites, selected)
        self._source = model
        self._model = probe_model
        self._named = layers is not None
        self._replicas = getattr(strategy, "num_replicas_in_sync", 1)
        self._taps_checked = False
        if discovery.is_graph_model(model) and _traced_symbolically(probe_model, model):
            # Graph models say what they take: traced once now, so names,
            # shapes and a model without attention are known at once.
            self._check_taps()

    @property
    def layer_names(self):
        """Names of the exposed calls, as keys of `ProbeResult.attention`."""
        return _display_names(self._traced_taps())

    @property
    def model(self):
        """The `keras.Model` that returns outputs, weights and masks."""
        return self._model

    def describe(self):
        """One `(name, layer class, weights shape)` triple per exposed call.

        The shape is symbolic: `None` for the batch and other free dimensions.
        """
        taps = self._traced_taps()
        return [
            (name, type(tap.site.layer).__name__, (None, *tap.shape[1:]))
            for name, tap in zip(_display_names(taps), taps, strict=True)
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
        predicted = None
        if steps is None and self._on_one_device() and are_numpy_arrays(x):
            # The same batches through the same compiled function, each
            # batch's outputs copied once into place (see `predict_arrays`).
            predicted = predict_arrays(
                functools.partial(keras_internals.predict_on_batch_views, self._model),
                x,
                batch_size,
                self._num_inputs(),
                _progbar(count_batches(x, batch_size), verbose),
            )
        if predicted is None:
            predicted = self._model.predict(
                x, batch_size=batch_size, verbose=verbose, steps=steps
            )
        return self._result(*predicted)

    def iter_batches(self, data, batch_size=None, verbose="auto"):
        """Probes `data` one batch at a time, in flat memory.

        Args:
            data: arrays (a tuple, list or dict of them for several inputs),
                the model's inputs whole, as `model.predict` takes them; or a
                `tf.data.Dataset`, a `keras.utils.PyDataset`, or any iterable of
                batches such as a generator. Batches follow Keras's rule:
                `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`, and only `x`
                is used; except that when the model has several inputs and a
                batch holds exactly one array per input, the batch is `x`.
            batch_size: the batch size for arrays (defaults to 32). Datasets and
                iterables are already batched, so it must be `None` for them.
            verbose: `"auto"` or 1 shows a progress bar, 0 is silent.

        Yields:
            One `ProbeResult` per batch.

        Raises:
            ValueError: if `batch_size` is given for batched data, or is not
                positive.
        """
        batches = iter_input_batches(data, batch_size, num_inputs=self._num_inputs())
        progbar = _progbar(count_batches(data, batch_size), verbose)
        for x in batches:
            if self._on_one_device():
                flat = self._model.predict_on_batch(x)
            else:
                flat = self._model.predict(x, batch_size=num_samples(x), verbose=0)
            yield self._result(*flat)
            if progbar is not None:
                progbar.add(1)

    def _on_one_device(self):
        # Otherwise `predict_on_batch` would run the whole batch on every
        # replica (a `tf.distribute` strategy) or leave it on one device (a
        # `keras.distribution`, under JAX): `predict` splits it.
        return self._replicas == 1 and keras.distribution.distribution() is None

    def _num_inputs(self):
        return len(getattr(self._source, "inputs", None) or [None])

    def _traced_taps(self):
        taps = self._model.taps
        if taps is None:
            raise ValueError(
                "A subclassed model (or, under JAX, a model with a layer that "
                "cannot run on sequences of unknown length) says what its calls "
                "are only when it runs: call `predict` or `iter_batches` first. "
                f"Received: model {self._source.name!r} of type "
                f"{type(self._source).__name__}, not run by this probe yet"
            )
        return taps

    def _check_taps(self):
        taps = self._model.taps
        if not taps and not self._named:
            raise ValueError(_no_attention_message(self._source))
        self._taps_checked = True
        for name, tap in zip(_display_names(taps), taps, strict=True):
            if tap.site.kind == discovery.OUTPUT:
                _check_weights_spec(name, tap.shape, tap.dtype)

    def _result(self, outputs, tensors):
        if not self._taps_checked:
            # A subclassed model's calls are known from its first run.
            self._check_taps()
        taps = self._model.taps
        attention, key_masks, query_masks = {}, {}, {}
        self_attention, causal = [], []
        for name, tap, fields in zip(_display_names(taps), taps, tensors, strict=True):
            fields = {key: np.asarray(value) for key, value in fields.items()}
            weights = attention[name] = fields["weights"]
            if tap.site.kind == discovery.OUTPUT:
                _check_weights_values(name, weights)
            if "mismatch" in fields:
                _check_fused_weights(name, fields["mismatch"])
            key_mask = fields.get("key_mask")
            query_mask = fields.get("query_mask")
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
            if tap.causal or _shows_causal_mask(fields):
                causal.append(name)
        return ProbeResult(
            outputs,
            attention,
            key_masks,
            query_masks,
            self_attention,
            causal=causal,
        )


def _traced_symbolically(probe_model, model):
    """Traces the probe of a graph model on its symbolic inputs, if it can.

    JAX traces unknown dimensions as symbols, on which a layer that compares
    a length with a number (keras-hub's `PositionEmbedding`) cannot decide;
    such a model is traced on small sizes instead, and where that fails too,
    says what its calls are when it first runs, as a subclassed model does.

    Returns:
        Whether the probe was traced.
    """
    # A Sequential's `input` is that of its first call as a layer.
    inputs = model.inputs[0] if isinstance(model, keras.Sequential) else model.input
    try:
        probe_model.compute_output_spec(inputs)
    except Exception as error:
        if not _undecidable_on_symbols(error):
            raise
        return _traced_on_small_sizes(probe_model, inputs)
    return True


def _traced_on_small_sizes(probe_model, inputs):
    """Traces with every unknown dimension 2, then 3 (shapes only, no maths).

    A dimension of the weights that changes with them is unknown.
    """
    traced = []
    for size in (2, 3):
        concrete = keras.tree.map_structure(
            lambda t, size=size: keras.KerasTensor(
                tuple(size if d is None else d for d in t.shape), t.dtype
            ),
            inputs,
        )
        try:
            probe_model.compute_output_spec(concrete)
        except Exception:  # a model that takes no such sizes: run it first
            probe_model.taps = None
            return False
        traced.append(probe_model.taps)
    probe_model.taps = [
        dataclasses.replace(
            small,
            shape=tuple(
                a if a == b else None
                for a, b in zip(small.shape, larger.shape, strict=True)
            ),
        )
        for small, larger in zip(*traced, strict=True)
    ]
    return True


def _undecidable_on_symbols(error):
    backend = keras.backend.backend()
    if backend == "torch":
        # PyTorch traces unknown dimensions at one placeholder size, which a
        # layer may refuse: its error says no more than any other.
        return True
    if backend != "jax":
        return False
    import jax

    return isinstance(
        error,
        (
            jax.errors.InconclusiveDimensionOperation,
            jax.errors.ConcretizationTypeError,
        ),
    )


def _no_attention_message(model):
    names = [site.name for site in discovery.walk(model)]
    return (
        f"Model {model.name!r} has no attention layer. Name the layer whose "
        "output is the attention weights, e.g. "
        "`AttentionProbe(model, layers=['attention_vec'])`. "
        f"Received: a model with layers {names}"
    )


def _select_sites(model, sites, layers):
    """The sites to hook, and the `id`s of those whose captures to keep.

    A named layer that is no attention layer gets an `"output"` site, so that
    its output is taken as the weights.
    """
    if layers is None:
        selected = {id(s) for s in sites if s.kind in discovery.ATTENTION_KINDS}
        selected |= {id(s) for s in sites if s.kind == discovery.FRAME}
        if not selected:
            raise ValueError(_no_attention_message(model))
        return sites, selected
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    by_name = {}
    for site in sites:
        for name in (site.short_name, site.name, site.layer.name):
            by_name.setdefault(name, site)
    chosen = []
    for entry in layers:
        if isinstance(entry, keras.layers.Layer):
            site = next((s for s in sites if s.layer is entry), None)
            if site is None:
                raise ValueError(
                    f"`layers` holds layer {entry.name!r}, which is not part of "
                    f"model {model.name!r}. Received: layers={layers}"
                )
        elif isinstance(entry, str):
            if entry not in by_name:
                raise ValueError(_unknown_name_message(entry, sites))
            site = by_name[entry]
        else:
            raise TypeError(
                "`layers` must hold layer names or layer objects. "
                f"Received: {entry!r} of type {type(entry).__name__}"
            )
        if isinstance(site.layer, keras.Model):
            raise ValueError(
                "`layers` must name the layers inside a nested model, not the "
                f"nested model itself. Received: {site.name!r}"
            )
        if isinstance(site.layer, keras.layers.InputLayer):
            raise ValueError(
                "`layers` must name layers that output attention weights. "
                f"Received: {site.name!r}, an input of the model"
            )
        chosen.append(site)
    replaced = {}
    for site in chosen:
        if site.kind not in discovery.ATTENTION_KINDS + (discovery.FRAME,):
            replaced[id(site)] = dataclasses.replace(site, kind=discovery.OUTPUT)
    sites = [replaced.get(id(site), site) for site in sites]
    selected = {id(replaced.get(id(site), site)) for site in chosen}
    return sites, selected


def _unknown_name_message(name, sites):
    available = list(dict.fromkeys(site.short_name for site in sites))
    closest = difflib.get_close_matches(name, available, n=len(available), cutoff=0)
    return (
        f"`layers` names no layer of the model: {name!r}. Available layers, "
        f"closest first: {closest}. Received: {name!r}"
    )


def _display_names(taps):
    """Short names where they are unambiguous, full paths otherwise."""
    users = {}
    for tap in taps:
        users.setdefault(tap.site.short_name, set()).add(tap.site.path)
    names, seen = [], {}
    for tap in taps:
        site = tap.site
        name = site.short_name if len(users[site.short_name]) == 1 else site.name
        calls = seen[name] = seen.get(name, -1) + 1
        names.append(name if calls == 0 else f"{name}:{calls}")
    return names


def _shows_causal_mask(fields):
    """Whether a batch's mask kept every query from every later key."""
    if "upper_allowed" not in fields:
        return False
    return not fields["upper_allowed"].any() and bool(fields["upper_blocked"].any())


def _check_fused_weights(name, mismatch):
    worst = float(np.max(mismatch, initial=0.0))
    if not worst <= _FUSED_TOLERANCE:
        raise ValueError(
            f"Layer {name!r} computes attention with a fused kernel, and the "
            "weights the probe computed beside it do not reproduce its output, "
            "so they are not shown. Turn the fused path off for probing (for "
            "keras-hub layers, `keras.config.disable_flash_attention()`), or "
            "name another layer in `layers`. Received: a relative difference "
            f"of {worst:.3g} (at most {_FUSED_TOLERANCE} expected)"
        )


def _check_weights_spec(name, shape, dtype):
    if "float" not in dtype or not 2 <= len(shape) <= 4:
        raise ValueError(
            f"Layer {name!r} must output attention weights: floats of shape "
            "(N, T), (N, Tq, T) or (N, heads, Tq, T). "
            f"Received: output of shape {tuple(shape)} and dtype {dtype}"
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
    on_padded = _weight_on_padded_keys(weights, ~key_mask)
    counted = key_mask.any(axis=-1).reshape(n, *(1,) * extra)
    if query_mask is not None and extra > 0:
        if query_mask.shape[-1] != weights.shape[-2]:
            return True
        counted = counted & query_mask.reshape(n, *(1,) * (extra - 1), -1)
    counted = np.broadcast_to(counted, on_padded.shape)
    return bool(np.any(on_padded[counted] > _PADDED_WEIGHT_TOLERANCE))


def _weight_on_padded_keys(weights, padded):
    """Each query row's total weight on the keys `padded` `(N, Tk)` marks.

    One matrix product per sample (several times faster than summing a
    masked copy). A NaN anywhere in a row makes its product NaN; those rows
    are summed over their padded keys alone, so a NaN on a real key does not
    hide weight on the padding.
    """
    n, n_keys = len(weights), weights.shape[-1]
    dtype = np.result_type(weights.dtype, np.float32)
    rows = weights.reshape(n, -1, n_keys)
    sums = np.matmul(rows, padded.astype(dtype)[:, :, np.newaxis])[..., 0]
    unknown = np.isnan(sums)
    if unknown.any():
        samples = np.nonzero(unknown)[0]
        sums[unknown] = np.where(padded[samples], rows[unknown], 0).sum(axis=-1)
    return sums.reshape(weights.shape[:-1])


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


def _progbar(batches, verbose):
    """A progress bar over `batches` as `model.predict` shows it, or `None`."""
    if verbose == 0:
        return None
    return keras.utils.Progbar(batches, verbose=1 if verbose == "auto" else verbose)
