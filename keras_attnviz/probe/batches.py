"""Splitting probe input into batches: arrays, datasets, PyDatasets, iterables."""

import math

import keras
import numpy as np

_DEFAULT_BATCH_SIZE = 32


def iter_input_batches(data, batch_size, num_inputs):
    """Yields the model inputs of each batch of `data`.

    Args:
        data: arrays (a tuple, list or dict of them for several inputs), a
            `tf.data.Dataset`, a `keras.utils.PyDataset` or an iterable of
            batches. Arrays are the inputs whole, as `model.predict` takes
            them; batches follow Keras's `(x, y, sample_weight)` rule.
        batch_size: batch size for arrays; must be `None` for batched data.
        num_inputs: how many inputs the model takes.

    Yields:
        The inputs of one batch, labels dropped.
    """
    if _is_arrays(data):
        batch_size = _DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        _check_batch_size(batch_size)
        total = len(keras.tree.flatten(data)[0])
        for start in range(0, total, batch_size):
            yield keras.tree.map_structure(
                lambda a, start=start: a[start : start + batch_size], data
            )
        return
    if batch_size is not None:
        raise ValueError(
            "`batch_size` must be `None` for a dataset, PyDataset or generator, "
            f"which yield batches already. Received: batch_size={batch_size}"
        )
    if isinstance(data, keras.utils.PyDataset):
        batches = (data[i] for i in range(len(data)))
    else:
        try:
            batches = iter(data)
        except TypeError:
            raise TypeError(
                "`data` must be arrays, a `tf.data.Dataset`, a PyDataset or an "
                f"iterable of batches. Received: data of type {type(data).__name__}"
            ) from None
    for batch in batches:
        yield _for_the_backend(model_inputs(batch, num_inputs))


def _for_the_backend(x):
    """`x` with another framework's tensors as NumPy arrays.

    A `tf.data.Dataset` yields TensorFlow tensors, which `predict` converts on
    every backend but `predict_on_batch` takes only under TensorFlow.
    """
    if keras.backend.backend() == "tensorflow":
        return x
    return keras.tree.map_structure(
        lambda a: a if keras.ops.is_tensor(a) else np.asarray(a), x
    )


def model_inputs(batch, num_inputs):
    """The `x` of a batch, by Keras's `(x, y, sample_weight)` rule.

    A tuple or list that holds exactly one array per input of a model with
    several inputs is taken as `x` whole.
    """
    if not isinstance(batch, (tuple, list)):
        return batch
    leaves = all(_is_array(part) for part in batch)
    if num_inputs > 1 and len(batch) == num_inputs and leaves:
        return tuple(batch)
    if not 1 <= len(batch) <= 3:
        raise ValueError(
            "A batch must be `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`. "
            f"Received: a {type(batch).__name__} of {len(batch)} elements"
        )
    return batch[0]


def count_batches(data, batch_size):
    """The number of batches in `data`, or `None` when it cannot be known."""
    if _is_arrays(data):
        total = len(keras.tree.flatten(data)[0])
        return math.ceil(total / (batch_size or _DEFAULT_BATCH_SIZE))
    if isinstance(data, keras.utils.PyDataset):
        return len(data)
    cardinality = getattr(data, "cardinality", None)
    if cardinality is not None:
        count = int(cardinality())
        return count if count >= 0 else None
    return None


def _is_arrays(data):
    flat = keras.tree.flatten(data) if isinstance(data, (tuple, list, dict)) else [data]
    return bool(flat) and all(_is_array(a) for a in flat)


def _is_array(x):
    return isinstance(x, np.ndarray) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__getitem__")
    )


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(
            f"`batch_size` must be an int. Received: batch_size={batch_size!r}"
        )
    if batch_size < 1:
        raise ValueError(
            f"`batch_size` must be positive. Received: batch_size={batch_size}"
        )
