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
        total = num_samples(data)
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


def predict_arrays(predict_batch, x, batch_size, num_inputs, progbar=None):
    """`model.predict(x)` over NumPy arrays, each batch written into place.

    The same compiled function as `model.predict` runs on the same batches,
    with floats cast to `floatx` as Keras's data adapter casts them. Keras's
    own loop keeps every batch's outputs, joins them (`tf.concat` under
    TensorFlow) and copies the join into NumPy, three copies of the outputs
    at its peak; here each batch's outputs are copied once, into arrays made
    at the first batch (with `keras_internals.predict_on_batch_views` as
    `predict_batch`, from the tensors themselves). For the probe's weights
    that matters: BERT's 4 layers of 4 heads at T=128 give 1 MiB a sample.
    (Keeping the batches and joining them at the end with `np.concatenate`
    holds two copies at the peak, and was no faster: 1.032 against 1.029
    times `model.predict`, 512 samples, 24 rounds in every order.)

    Args:
        predict_batch: a function from one batch of `x` to the model's outputs
            as NumPy arrays, such as `model.predict_on_batch`.
        x: NumPy arrays, see `are_numpy_arrays`.
        batch_size: as in `model.predict` (32 when `None`).
        num_inputs: how many inputs the model takes.
        progbar: a `keras.utils.Progbar` to advance by one per batch, or `None`.

    Returns:
        What `model.predict` returns; or `None` when a batch's outputs do not
        match the first batch's (shapes that change from batch to batch):
        Keras's own loop, which joins those, must predict them instead.
    """
    total = num_samples(x)
    structure, joined, start = None, None, 0
    for batch in iter_input_batches(x, batch_size, num_inputs):
        batch = keras.tree.map_structure(_as_floatx, batch)
        outputs = predict_batch(batch)
        flat = keras.tree.flatten(outputs)
        size = num_samples(batch)
        if joined is None:
            structure = outputs
            joined = [_empty_like_batch(a, total) for a in flat]
        if len(flat) != len(joined) or not all(
            _fits(a, into, size) for a, into in zip(flat, joined, strict=True)
        ):
            return None
        for a, into in zip(flat, joined, strict=True):
            into[start : start + size] = a
        start += size
        if progbar is not None:
            progbar.add(1)
    return keras.tree.pack_sequence_as(structure, joined)


def num_samples(x):
    """The length of the first array of `x`: its number of samples."""
    return len(keras.tree.flatten(x)[0])


def are_numpy_arrays(x):
    """Whether `x` is NumPy arrays of numbers or booleans (alone, or a tuple,
    list or dict of them) of one length above 0, along their first axis.

    Strings (a `TextVectorization` model's input) are not: Keras's data
    adapter turns them into the backend's string tensors.
    """
    flat = keras.tree.flatten(x) if isinstance(x, (tuple, list, dict)) else [x]
    if not flat or not all(_is_numeric_array(a) for a in flat):
        return False
    return len({len(a) for a in flat}) == 1 and len(flat[0]) > 0


def _is_numeric_array(x):
    return isinstance(x, np.ndarray) and x.ndim > 0 and x.dtype.kind in "biuf"


def _as_floatx(array):
    floatx = keras.backend.floatx()
    if array.dtype.kind == "f" and array.dtype != np.dtype(floatx):
        return array.astype(floatx)
    return array


def _empty_like_batch(array, total):
    shape = getattr(array, "shape", ())
    if not isinstance(array, np.ndarray) or not shape:
        return None
    return np.empty((total, *shape[1:]), array.dtype)


def _fits(array, into, size):
    return (
        into is not None
        and isinstance(array, np.ndarray)
        and array.shape == (size, *into.shape[1:])
        and array.dtype == into.dtype
    )


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
        total = num_samples(data)
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
