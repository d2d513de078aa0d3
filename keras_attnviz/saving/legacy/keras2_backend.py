"""Keras 2 backend functions (`K.sum`, `K.concatenate`, ...) on Keras 3 ops.

Old `Lambda` layers call the Keras 2 backend module, usually imported as `K`
(`lambda x: K.sum(x, axis=1)`). Keras 3's `keras.backend` no longer has those
functions, so `load_model(..., safe_mode=False)` gives such lambdas this module
instead: the functions whose Keras 2 signature or results differ from
`keras.ops` (`K.relu(x, alpha, max_value, threshold)`, `K.sqrt` of negative
values, `K.switch` on functions, ...) are written out here, following
`tf_keras.backend`; every other name falls through to `keras.ops`.
"""

import types

import keras
import numpy as np
from keras import ops

from keras_attnviz.saving.legacy.keras2_tf_ops import KerasOpsTensorFlow


def _concatenate(tensors, axis=-1):
    return ops.concatenate(tensors, axis=axis)


def _expand_dims(x, axis=-1):
    return ops.expand_dims(x, axis)


def _permute_dimensions(x, pattern):
    return ops.transpose(x, pattern)


def _repeat_elements(x, rep, axis):
    return ops.repeat(x, rep, axis=axis)


def _repeat(x, n):
    return ops.repeat(ops.expand_dims(x, 1), n, axis=1)


def _dot(x, y):
    # Keras 2 contracts the last axis of `x` with the second-to-last of `y`.
    return ops.tensordot(x, y, axes=[[len(x.shape) - 1], [max(len(y.shape) - 2, 0)]])


def _batch_dot(x, y, axes=None):
    # Contracts one axis of `x` with one of `y`, sample by sample (axis 0).
    x_rank, y_rank = len(x.shape), len(y.shape)
    if axes is None:
        axes = (x_rank - 1, y_rank - 2 if y_rank > 2 else 1)
    elif isinstance(axes, int):
        axes = (axes, axes)
    x_axis, y_axis = axes[0] % x_rank, axes[1] % y_rank
    letters = iter("bcdefghijklmnopqrstuvwxyz")
    x_dims = ["a"] + [next(letters) for _ in range(x_rank - 1)]
    y_dims = ["a"] + [next(letters) for _ in range(y_rank - 1)]
    y_dims[y_axis] = x_dims[x_axis]
    kept = [d for d in x_dims if d != x_dims[x_axis]] + [
        d for i, d in enumerate(y_dims[1:], 1) if i != y_axis
    ]
    result = ops.einsum(f"{''.join(x_dims)},{''.join(y_dims)}->{''.join(kept)}", x, y)
    return ops.expand_dims(result, 1) if len(kept) == 1 else result


def _argmax(x, axis=-1):
    return ops.argmax(x, axis=axis)


def _argmin(x, axis=-1):
    return ops.argmin(x, axis=axis)


def _cumsum(x, axis=0):
    return ops.cumsum(x, axis=axis)


def _cumprod(x, axis=0):
    return ops.cumprod(x, axis=axis)


def _l2_normalize(x, axis=None):
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.multiply(x, ops.rsqrt(ops.maximum(squares, 1e-12)))


def _batch_flatten(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


def _flatten(x):
    return ops.reshape(x, (-1,))


def _gather(reference, indices):
    return ops.take(reference, indices, axis=0)


def _switch(condition, then_expression, else_expression):
    # Keras 2 picks a branch, which may be a function that builds it, for a
    # scalar condition, and lines a condition of rank > 1 up with the leading
    # axes of the branches (`ops.where` broadcasts from the trailing ones).
    condition = ops.cast(condition, "bool")
    if ops.ndim(condition) == 0:
        return ops.cond(
            condition, _as_function(then_expression), _as_function(else_expression)
        )
    if callable(then_expression):
        then_expression = then_expression()
    if callable(else_expression):
        else_expression = else_expression()
    rank, condition_rank = ops.ndim(then_expression), ops.ndim(condition)
    if condition_rank > rank:
        raise ValueError(
            "The rank of `condition` must be at most the rank of "
            f"`then_expression`. Received: condition of rank {condition_rank}, "
            f"then_expression of rank {rank}."
        )
    if condition_rank > 1:
        for _ in range(rank - condition_rank):
            condition = ops.expand_dims(condition, -1)
    return ops.where(condition, then_expression, else_expression)


def _as_function(expression):
    return expression if callable(expression) else lambda: expression


def _sqrt(x):
    # Keras 2 takes the root of negative values as 0, not NaN.
    return ops.sqrt(ops.maximum(x, 0.0))


def _relu(x, alpha=0.0, max_value=None, threshold=0.0):
    # Keras 2's relu: slope `alpha` below `threshold`, capped at `max_value`.
    x = ops.convert_to_tensor(x)
    if alpha != 0.0 and max_value is None and threshold == 0:
        return ops.leaky_relu(x, negative_slope=alpha)
    if threshold != 0:
        y = x * ops.cast(ops.greater(x, threshold), x.dtype)
    else:
        y = ops.relu(x)
    if max_value is not None:
        y = ops.clip(y, 0, max_value)
    if alpha != 0.0:
        y = y - alpha * ops.relu(threshold - x)
    return y


def _hard_sigmoid(x):
    # Keras 2's slope is 0.2; Keras 3's `ops.hard_sigmoid` has 1/6.
    return ops.clip(ops.convert_to_tensor(x) * 0.2 + 0.5, 0.0, 1.0)


def _clip(x, min_value, max_value):
    # Keras 2 takes None for no bound, and a `max_value` below `min_value` as
    # `min_value`.
    if isinstance(min_value, (int, float)) and isinstance(max_value, (int, float)):
        max_value = max(max_value, min_value)
    return ops.clip(
        x,
        -np.inf if min_value is None else min_value,
        np.inf if max_value is None else max_value,
    )


def _int_shape(x):
    return tuple(x.shape)


def _constant(value, dtype=None, shape=None, name=None):
    tensor = ops.convert_to_tensor(value, dtype=dtype or keras.config.floatx())
    return tensor if shape is None else ops.broadcast_to(tensor, shape)


_KERAS2_ONLY = {
    "concatenate": _concatenate,
    "expand_dims": _expand_dims,
    "permute_dimensions": _permute_dimensions,
    "repeat_elements": _repeat_elements,
    "repeat": _repeat,
    "dot": _dot,
    "batch_dot": _batch_dot,
    "argmax": _argmax,
    "argmin": _argmin,
    "cumsum": _cumsum,
    "cumprod": _cumprod,
    "l2_normalize": _l2_normalize,
    "batch_flatten": _batch_flatten,
    "flatten": _flatten,
    "gather": _gather,
    "switch": _switch,
    "sqrt": _sqrt,
    "relu": _relu,
    "hard_sigmoid": _hard_sigmoid,
    "clip": _clip,
    "int_shape": _int_shape,
    "constant": _constant,
    "pow": ops.power,
    "epsilon": keras.config.epsilon,
    "floatx": keras.config.floatx,
    "backend": keras.config.backend,
}


class Keras2Backend(types.ModuleType):
    """The Keras 2 `keras.backend` module, as far as Keras 3 can provide it."""

    def __init__(self):
        super().__init__("keras.backend", __doc__)
        self.__dict__.update(_KERAS2_ONLY)

    def __getattr__(self, name):
        if not name.startswith("_") and hasattr(ops, name):
            return getattr(ops, name)
        raise AttributeError(
            f"The Keras 2 backend function `K.{name}` has no Keras 3 equivalent "
            "that keras_attnviz knows of. Rebuild that layer in code with "
            "`keras.ops` and load the weights into the model. Received: a "
            f"lambda that calls `{name}`."
        )


class _Overlay(types.ModuleType):
    """A module as old lambdas saw it: `module`, with some names replaced."""

    def __init__(self, module, **replaced):
        super().__init__(module.__name__, module.__doc__)
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(self._module, name)


def lambda_globals():
    """The global names that old `Lambda` functions commonly use.

    Returns:
        A dict for the globals of a rebuilt lambda: `K` and `backend` (the
        Keras 2 backend functions), `keras` (Keras 3 with that backend), `ops`
        (`keras.ops`), `np` and `tf`, whose `tf.keras` is that `keras`: on
        the TensorFlow backend TensorFlow itself, on any other one the
        TensorFlow functions that `keras.ops` has (see
        `keras2_tf_ops.KerasOpsTensorFlow`).
    """
    backend = Keras2Backend()
    keras2 = _Overlay(keras, backend=backend)
    names = {"K": backend, "backend": backend, "keras": keras2, "ops": ops, "np": np}
    if keras.backend.backend() != "tensorflow":
        names["tf"] = KerasOpsTensorFlow(keras2)
        return names
    import tensorflow as tf

    names["tf"] = _Overlay(tf, keras=keras2)
    return names
