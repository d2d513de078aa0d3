"""Runs a model with hooks on its embedding layer: where attribution meets Keras.

Every pass runs the user's model itself, in rows (a sample, or a copy of one
with some tokens removed or its embeddings moved along a path), in batches
through one compiled function per kind of pass, traced once (the backend's
own means, see `backend_functions`):

- inspect: the model's outputs and the ids its embedding layer receives,
  which define the positions that get scores;
- removal: the outputs with some positions of each row removed: their ids
  replaced (by 0, the padding id, for `"mask"`) wherever the ids are read, so
  that `Embedding(mask_zero=True)` masks them as it masks padding;
- gradients: the embedding layer's output replaced by a point on the path from
  a baseline to it, and the gradient of the target output there.

The traced passes are kept with the model (weakly: they never keep it alive),
so a second call on the same model and inputs of the same shapes does not
trace again.

Keras computes a mask from the ids in more than one place: the embedding
layer's `compute_mask` when layers run one by one (subclassed models), but a
`NotEqual` operation of its own in a Functional graph, which reads the same
ids tensor. A removal therefore edits the ids in the model input that holds
them, in the embedding layer's `call` and `compute_mask`, and in every
operation of a Functional graph that reads the embedding layer's input.

The hooks are installed only while a pass runs; outside, the model is
untouched.
"""

import contextlib
import numbers
import weakref

import keras
import numpy as np
from keras import ops

from keras_attnviz import keras_internals
from keras_attnviz.attribution import backend_functions
from keras_attnviz.attribution.attribution import Attribution
from keras_attnviz.attribution.embedding_layer import find_embedding_layer
from keras_attnviz.attribution.targets import (
    resolve_targets,
    single_output,
    target_values,
)
from keras_attnviz.probe import discovery

# Rows per model call by default: as many as hold this many embedding values
# (4096 rows of 64 tokens x 32 dimensions, 42 of BERT-base's 256 x 768), so a
# small model's calls are large enough for per-call overhead to vanish (a
# recurrent layer pays its loop's overhead once per call: half these rows made
# the demo's integrated gradients 1.3x the one-call limit, against 1.2x) and a
# large model's activations still fit; within these bounds.
_EMBEDDING_VALUES_PER_CALL = 2**23
_ROWS_PER_CALL = (16, 4096)
# The inspect pass runs before the embedding's size is known.
_INSPECT_ROWS_PER_CALL = 256
REPLACE_CHOICES = ("mask",)


class AttributionRunner:
    """A model, a batch of inputs and a target: the passes every method needs.

    Creating one runs the inspect pass: it finds the embedding layer, the ids
    it receives, the real positions and the class each sample explains.

    Args:
        caller: the public function's name, for error messages.
        model: a built `keras.Model` with one output.
        inputs: what `model.predict` takes: an array, or a list or dict of
            arrays for a model with several inputs.
        layer: the embedding layer or its name (see `find_embedding_layer`).
        target: `None` (the predicted class), a class, or one per sample.
        key_mask: optional boolean `(N, T)`, `True` = real position; combined
            with the embedding layer's own mask.
        batch_size: rows per model call; by default, as many as hold about
            8M embedding values (4096 rows of 64 tokens x 32 dimensions),
            from 16 to 4096.

    Attributes:
        layer: the embedding layer.
        ids: `(N, T)` NumPy array of the ids the embedding layer receives.
        key_mask: `(N, T)` boolean, `True` = real position.
        target: `(N,)` int, the class each sample explains.
        target_output: `(N,)` float, the target output at the inputs.
        batch_size: the rows per model call.
    """

    def __init__(
        self,
        caller,
        model,
        inputs,
        layer=None,
        target=None,
        key_mask=None,
        batch_size=None,
    ):
        self.layer = find_embedding_layer(model, layer)
        self.model = model
        self.inputs, self.n_samples = _as_inputs(inputs)
        self.batch_size = (
            None if batch_size is None else check_positive_int(batch_size, "batch_size")
        )
        self._passes = _traced_passes(model, self.layer)
        outputs, self.ids = self._run(("inspect", None), np.arange(self.n_samples))
        # One sample's embeddings: their shape and dtype, for the gradients.
        self._vectors = self._passes.hook.call(self.ids[:1])
        if self.batch_size is None:
            self.batch_size = self._rows_per_call()
        self._ids_input = _input_holding(self.inputs, self.ids)
        self.key_mask = self._key_mask(key_mask)
        self.target = resolve_targets(outputs, target)
        self.target_output = _numpy(target_values(outputs, self.target))

    @property
    def n_positions(self):
        return self.ids.shape[1]

    def attribution(self, scores, method, **kwargs):
        """An `Attribution` of `scores`, with 0 at padding."""
        return Attribution(
            np.where(self.key_mask, scores, 0.0),
            self.key_mask,
            method=method,
            target=self.target,
            target_output=self.target_output,
            layer=self.layer.name,
            **kwargs,
        )

    def replacement_id(self, replace_with):
        """The id that stands for a removed token: 0 for `"mask"`, or the id given."""
        if isinstance(replace_with, str):
            if replace_with not in REPLACE_CHOICES:
                raise ValueError(
                    '`replace_with` must be "mask" or a token id. Received: '
                    f"replace_with={replace_with!r}"
                )
            return 0
        return self.token_id(replace_with, "replace_with", '"mask"')

    def token_id(self, value, name, alternative):
        """`value` checked to be an id the embedding layer can look up."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(
                f"`{name}` must be {alternative} or an int token id. Received: "
                f"{name}={value!r} of type {type(value).__name__}"
            )
        size = getattr(self.layer, "input_dim", None)
        if value < 0 or (size is not None and value >= size):
            limit = f" below {size}, the size of the embedding" if size else ""
            raise ValueError(
                f"`{name}` must be a token id from 0{limit}. Received: {name}={value}"
            )
        return int(value)

    def target_after_removal(self, sample_index, remove, replacement):
        """The target output of each row once its `remove` positions are removed.

        Args:
            sample_index: `(R,)` the sample each row copies.
            remove: `(R, T)` boolean, `True` = remove this position.
            replacement: the id put in their place.

        Returns:
            A `(R,)` float array.
        """
        outputs, _ = self._run(
            ("removal", self._ids_input),
            sample_index,
            remove,
            np.full(len(sample_index), replacement),
        )
        return _numpy(target_values(outputs, self.target[sample_index]))

    def path_gradients(self, sample_index, alphas, baseline_id):
        """Gradients of the target output on the path from a baseline.

        Row r is sample `sample_index[r]` with its real positions' embeddings
        `e` moved to `b + alphas[r] * (e - b)`, where `b` is zeros or the
        embedding of `baseline_id`.

        Returns:
            `(values, step_dot_gradient, gradient_norm)`: the `(R,)` target
            outputs on the path, and `(R, T)` arrays: the gradient times
            `e - b` summed over the embedding axis, and the gradient's L2 norm.
        """
        vectors = (
            tuple(self._vectors.shape[1:]),
            keras.backend.standardize_dtype(self._vectors.dtype),
        )
        return self._run(
            ("gradients", (baseline_id, vectors)),
            sample_index,
            self.key_mask[sample_index],
            np.asarray(alphas, dtype=np.float32),
            self.target[sample_index],
        )

    def _run(self, key, sample_index, *row_arrays):
        """Runs a pass over the rows in batches and joins what it returns."""
        rows_per_call = self.batch_size or _INSPECT_ROWS_PER_CALL
        parts = []
        for start in range(0, len(sample_index), rows_per_call):
            end = start + rows_per_call
            chunk = sample_index[start:end]
            args = backend_functions.to_tensors(
                (
                    keras.tree.map_structure(
                        lambda array, rows=chunk: array[rows], self.inputs
                    ),
                    *(array[start:end] for array in row_arrays),
                )
            )
            function = self._passes.function(key, args)
            with self._passes.hook.installed():
                parts.append([_numpy(t) for t in function(*args)])
        return [np.concatenate(arrays) for arrays in zip(*parts, strict=True)]

    def _rows_per_call(self):
        values_per_row = int(np.prod(self._vectors.shape[1:]))
        low, high = _ROWS_PER_CALL
        return int(np.clip(_EMBEDDING_VALUES_PER_CALL // values_per_row, low, high))

    def _key_mask(self, given):
        own = self._passes.hook.compute_mask(self.ids, None)
        mask = np.ones(self.ids.shape, bool) if own is None else _numpy(own)
        mask = mask.astype(bool)
        if mask.shape != self.ids.shape:
            raise ValueError(
                "The embedding layer's mask must have one value per id. "
                f"Received: a mask of shape {mask.shape} for ids of shape "
                f"{self.ids.shape}"
            )
        if given is not None:
            given = np.asarray(given)
            if given.dtype != np.bool_:
                raise TypeError(
                    "`key_mask` must be a boolean array, True = real position. "
                    f"Received: an array of dtype {given.dtype}"
                )
            if given.shape != self.ids.shape:
                raise ValueError(
                    "`key_mask` must have one value per id the embedding layer "
                    f"receives, {self.ids.shape}. Received: shape {given.shape}"
                )
            mask &= given
        empty = np.flatnonzero(~mask.any(axis=1))
        if empty.size:
            raise ValueError(
                "Every sample must hold at least one real token (not padding). "
                f"Received: sample {int(empty[0])} is all padding"
            )
        return mask


# Model -> {embedding layer id: _TracedPasses}.
_TRACED = weakref.WeakKeyDictionary()


def _traced_passes(model, layer):
    by_layer = _TRACED.setdefault(model, {})
    if id(layer) not in by_layer:
        by_layer[id(layer)] = _TracedPasses(model, layer)
    return by_layer[id(layer)]


class _TracedPasses:
    """The hook and the traced passes of one model through one embedding layer.

    It holds the model weakly: its functions are traced from bodies that look
    the model up when they trace, and keep only its variables once traced.
    """

    def __init__(self, model, layer):
        self._model = weakref.ref(model)
        self.hook = _EmbeddingHook(layer, _readers_of_ids(model, layer))
        self._functions = {}

    def function(self, key, args):
        """The compiled pass `key` for arguments like `args`."""
        full_key = (*key, backend_functions.signature(args))
        if full_key not in self._functions:
            kind, option = key
            bodies = {
                "inspect": self._inspect_body,
                "removal": self._removal_body,
                "gradients": self._gradient_body,
            }
            self._functions[full_key] = backend_functions.compile_pass(
                bodies[kind](option),
                self._model(),
                args,
                gradients=kind == "gradients",
            )
        return self._functions[full_key]

    def _outputs(self, inputs):
        model = self._model()
        outputs = single_output(model(inputs, training=False), model.name)
        return outputs, self.hook.ids()

    def _inspect_body(self, _):
        """`inputs -> (outputs, ids)`."""

        def body(inputs):
            self.hook.reset()
            return self._outputs(inputs)

        return body

    def _removal_body(self, ids_input):
        """`(inputs, remove, replacement) -> (outputs, ids)`, with `remove`d ids
        replaced, also in the input `ids_input` when the ids are one."""

        def body(inputs, remove, replacement):
            def edit(ids):
                return ops.where(remove, ops.cast(replacement, ids.dtype)[:, None], ids)

            if ids_input is not None:
                flat = keras.tree.flatten(inputs)
                flat[ids_input] = edit(flat[ids_input])
                inputs = keras.tree.pack_sequence_as(inputs, flat)
            self.hook.reset(edit=edit)
            return self._outputs(inputs)

        return body

    def _gradient_body(self, option):
        """`(inputs, real, alphas, targets) -> (values, step.gradient, |gradient|)`.

        `option` is `(baseline_id, (vector_shape, dtype))`: the baseline, and
        the shape (past the batch axis) and dtype of the embeddings.
        """
        baseline_id, (vector_shape, dtype) = option
        hook = self.hook

        def body(inputs, real, alphas, targets):
            def forward(delta):
                taken = {}

                def move_along_path(ids, embeddings):
                    if baseline_id is None:
                        baseline = ops.zeros_like(embeddings)
                    else:
                        baseline = hook.call(ops.full_like(ids, baseline_id))
                    real_rows = real[:, :, None]
                    step = ops.where(real_rows, embeddings - baseline, 0.0)
                    fraction = ops.cast(alphas, embeddings.dtype)[:, None, None]
                    path = ops.where(real_rows, baseline + fraction * step, embeddings)
                    taken["step"] = step
                    return path + delta

                hook.reset(transform=move_along_path)
                values = target_values(self._outputs(inputs)[0], targets)
                return values, taken["step"]

            delta = ops.zeros((ops.shape(real)[0], *vector_shape), dtype)
            values, step, gradients = backend_functions.value_and_gradient(
                forward, delta
            )
            gradients = ops.cast(gradients, "float32")
            step = ops.cast(step, "float32")
            return (
                values,
                ops.sum(gradients * step, axis=-1),
                ops.sqrt(ops.sum(ops.square(gradients), axis=-1)),
            )

        return body


class _EmbeddingHook:
    """Replaces the `call` of the embedding layer and of its ids' readers.

    What the replacements do is set for each trace by `reset`: `edit` changes
    the ids the embedding layer reads (for its output and its mask alike) and
    the first argument of each reader; `transform` changes the embeddings the
    layer returns.

    Args:
        layer: the embedding layer.
        readers: operations that read the same ids tensor (a Functional
            graph's `NotEqual` mask).
    """

    def __init__(self, layer, readers):
        self.layer = layer
        self.readers = readers
        self.call = layer.call
        self.compute_mask = layer.compute_mask
        self.reset()

    def reset(self, *, edit=None, transform=None):
        self.edit, self.transform, self.received = edit, transform, []

    @contextlib.contextmanager
    def installed(self):
        hooks = [
            (self.layer, "call", self._call),
            (self.layer, "compute_mask", self._compute_mask),
            *((reader, "call", self._reader_call(reader)) for reader in self.readers),
        ]
        with contextlib.ExitStack() as stack:
            for operation, name, replacement in hooks:
                stack.enter_context(
                    keras_internals.replaced_method(operation, name, replacement)
                )
            yield

    def ids(self):
        """The ids the layer received in this trace, checked to be `(batch, T)`."""
        if len(self.received) != 1:
            raise ValueError(
                "The embedding layer must run exactly once per forward pass "
                "for its positions to be the tokens; pass `layer` to choose "
                f"another. Received: layer {self.layer.name!r}, which ran "
                f"{len(self.received)} times"
            )
        ids = self.received[0]
        if len(ids.shape) != 2:
            raise ValueError(
                "The embedding layer must receive token ids of shape (batch, T). "
                f"Received: layer {self.layer.name!r} with input of shape "
                f"{tuple(ids.shape)}"
            )
        return ids

    def _call(self, inputs, *args, **kwargs):
        self.received.append(inputs)
        ids = self._edited(inputs)
        embeddings = self.call(ids, *args, **kwargs)
        if self.transform is None:
            return embeddings
        return self.transform(ids, embeddings)

    def _compute_mask(self, inputs, mask=None):
        return self.compute_mask(self._edited(inputs), mask)

    def _reader_call(self, reader):
        call = reader.call

        def hooked(ids, *args, **kwargs):
            return call(self._edited(ids), *args, **kwargs)

        return hooked

    def _edited(self, ids):
        return ids if self.edit is None else self.edit(ids)


def _readers_of_ids(model, layer):
    """The operations of the model's Functional graphs that read `layer`'s input."""
    ids = _symbolic_input(layer)
    if ids is None:
        return []
    graphs = [model, *(s.layer for s in discovery.walk(model))]
    return [
        operation
        for graph in graphs
        for operation in getattr(graph, "operations", ())
        if operation is not layer and _symbolic_input(operation) is ids
    ]


def _symbolic_input(operation):
    """The tensor an operation was first called on in a graph, or `None`."""
    try:
        return operation.input
    except (AttributeError, ValueError):  # never called on symbolic tensors
        return None


def _input_holding(inputs, ids):
    """Which of the flattened `inputs` holds the ids, or `None` if none does."""
    for index, leaf in enumerate(keras.tree.flatten(inputs)):
        if leaf.shape == ids.shape and np.array_equal(leaf, ids):
            return index
    return None


def _as_inputs(inputs):
    """The inputs as NumPy arrays (same structure) and their number of samples."""
    arrays = keras.tree.map_structure(np.asarray, inputs)
    leaves = keras.tree.flatten(arrays)
    lengths = {len(leaf) if leaf.ndim else None for leaf in leaves}
    if not leaves or None in lengths:
        raise ValueError(
            "`inputs` must be an array with a batch axis, or a list or dict of "
            f"them. Received: {type(inputs).__name__} {_shapes(leaves)}"
        )
    if len(lengths) > 1:
        raise ValueError(
            "Every array in `inputs` must hold the same number of samples. "
            f"Received: arrays of shapes {_shapes(leaves)}"
        )
    (n_samples,) = lengths
    if n_samples == 0:
        raise ValueError(
            f"`inputs` must hold at least one sample. Received: {_shapes(leaves)}"
        )
    return arrays, n_samples


def _shapes(leaves):
    return ", ".join(str(leaf.shape) for leaf in leaves) or "nothing"


def check_positive_int(value, name):
    """`value` as an int, checked to be one and at least 1.

    Raises:
        TypeError: if `value` is not an int (bools are not).
        ValueError: if `value` is below 1.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be a positive int. Received: {name}={value!r} of "
            f"type {type(value).__name__}"
        )
    if value < 1:
        raise ValueError(f"`{name}` must be at least 1. Received: {name}={value}")
    return int(value)


def _numpy(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor))
