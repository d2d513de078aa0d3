"""Keras 2's TF-op layers (`TFOpLambda`, `SlicingOpLambda`) for Keras 3.

In a Keras 2 functional model, calling a TensorFlow function on a symbolic
tensor (`tf.reduce_mean(x, axis=1)`, `x[:, -1]`, `a * 2 + b`) added a layer
that records the function's name, e.g. `"math.reduce_mean"`; the call's
arguments sit in the model's nodes. Keras 3 has no such layer, so
`load_model` builds these as `TFOpLambda` below. Only side-effect-free
TensorFlow functions are looked up by name (no file or print ops), so a file
cannot make the loader call anything else.

The functions that have a `keras.ops` equivalent (reductions, elementwise
maths, slicing, reshapes, concatenation: `KERAS_OPS`) run as that op, on every
backend; any other one needs TensorFlow's own function, and so the TensorFlow
backend.
"""

import types

import keras
from keras import ops

# Namespaces and functions of pure tensor maths, the ones Keras 2 models use.
_PURE_NAMESPACES = ("math.", "nn.", "linalg.", "signal.", "__operators__.")
_PURE_FUNCTIONS = frozenset(
    """
    argsort boolean_mask broadcast_to cast clip_by_value concat cumsum einsum
    expand_dims eye fill gather gather_nd identity matmul maximum minimum norm
    one_hot ones ones_like pad range rank repeat reshape reverse roll
    sequence_mask shape size slice sort split squeeze stack strided_slice tile
    transpose unstack where zeros zeros_like
    """.split()
)


def check_function(name):
    """Raises unless `tf.<name>` is a side-effect-free TensorFlow function.

    Only looks at the name: nothing is imported or called.

    Raises:
        ValueError: if `name` is not a str naming such a function.
    """
    # TF 1 names (`tf.compat.v1.squeeze`) are as pure as the names they carry.
    bare = name.removeprefix("compat.v1.") if isinstance(name, str) else ""
    parts = bare.split(".")
    # Exactly `namespace.function` or a listed function: any longer chain or
    # private part could walk from a module to its loader or globals.
    pure = (len(parts) == 1 and bare in _PURE_FUNCTIONS) or (
        len(parts) == 2
        and f"{parts[0]}." in _PURE_NAMESPACES
        and parts[1].isidentifier()
        and not parts[1].startswith("_")
    )
    if not pure:
        raise ValueError(
            "A Keras 2 `TFOpLambda` layer must call a side-effect-free "
            "TensorFlow function (`tf.math.*`, `tf.nn.*`, `tf.concat`, ...). "
            f"Received: function={name!r}"
        )


def _reduction(op):
    def reduce(
        input_tensor,
        axis=None,
        keepdims=False,
        name=None,
        reduction_indices=None,
        keep_dims=None,
    ):
        # `reduction_indices` and `keep_dims` are TensorFlow 1's names.
        axis = reduction_indices if axis is None else axis
        keepdims = keepdims if keep_dims is None else keep_dims
        return op(input_tensor, axis=_axis(axis), keepdims=bool(keepdims))

    return reduce


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _unary(op):
    def unary(x, name=None):
        return op(x)

    return unary


def _binary(op):
    def binary(x, y, name=None):
        return op(x, y)

    return binary


def _softmax(op):
    def softmax(logits, axis=None, name=None, dim=None):
        axis = dim if axis is None else axis
        return op(logits, axis=-1 if axis is None else axis)

    return softmax


def _squeeze(input, axis=None, name=None, squeeze_dims=None):  # noqa: A002
    axis = squeeze_dims if axis is None else axis
    return ops.squeeze(input, axis=_axis(axis))


def _concat(values, axis, name="concat"):
    return ops.concatenate(values, axis=axis)


def _stack(values, axis=0, name="stack"):
    return ops.stack(values, axis=axis)


def _reshape(tensor, shape, name=None):
    return ops.reshape(tensor, _axis(shape))


def _expand_dims(input, axis, name=None):  # noqa: A002
    return ops.expand_dims(input, axis)


def _transpose(a, perm=None, conjugate=False, name="transpose"):
    return ops.transpose(a, axes=perm)


def _tile(input, multiples, name=None):  # noqa: A002
    return ops.tile(input, multiples)


def _cast(x, dtype, name=None):
    return ops.cast(x, dtype)


def _clip_by_value(t, clip_value_min, clip_value_max, name=None):
    return ops.clip(t, clip_value_min, clip_value_max)


def _leaky_relu(features, alpha=0.2, name=None):
    return ops.leaky_relu(features, negative_slope=alpha)


def _matmul(a, b, transpose_a=False, transpose_b=False, name=None):
    if transpose_a:
        a = ops.swapaxes(a, -1, -2)
    if transpose_b:
        b = ops.swapaxes(b, -1, -2)
    return ops.matmul(a, b)


def _getitem(tensor, slice_spec, var=None):
    # `slice_spec` as `TFOpLambda.call` revives it: slices, ints, None.
    return tensor[tuple(slice_spec) if isinstance(slice_spec, list) else slice_spec]


_UNARY = {
    "math.abs": ops.abs,
    "math.ceil": ops.ceil,
    "math.cos": ops.cos,
    "math.exp": ops.exp,
    "math.expm1": ops.expm1,
    "math.floor": ops.floor,
    "math.log": ops.log,
    "math.log1p": ops.log1p,
    "math.logical_not": ops.logical_not,
    "math.negative": ops.negative,
    "math.reciprocal": ops.reciprocal,
    "math.round": ops.round,
    "math.rsqrt": ops.rsqrt,
    "math.sigmoid": ops.sigmoid,
    "math.sign": ops.sign,
    "math.sin": ops.sin,
    "math.softplus": ops.softplus,
    "math.sqrt": ops.sqrt,
    "math.square": ops.square,
    "math.tanh": ops.tanh,
    "nn.relu": ops.relu,
    "nn.relu6": ops.relu6,
    "nn.elu": ops.elu,
    "nn.selu": ops.selu,
    "nn.silu": ops.silu,
    "nn.sigmoid": ops.sigmoid,
    "nn.tanh": ops.tanh,
}
_BINARY = {
    "math.add": ops.add,
    "__operators__.add": ops.add,
    "math.subtract": ops.subtract,
    "math.multiply": ops.multiply,
    "math.divide": ops.divide,
    "math.truediv": ops.true_divide,
    "math.floordiv": ops.floor_divide,
    "math.maximum": ops.maximum,
    "math.minimum": ops.minimum,
    "math.pow": ops.power,
    "math.equal": ops.equal,
    "math.not_equal": ops.not_equal,
    "math.greater": ops.greater,
    "math.greater_equal": ops.greater_equal,
    "math.less": ops.less,
    "math.less_equal": ops.less_equal,
    "math.logical_and": ops.logical_and,
    "math.logical_or": ops.logical_or,
}
_REDUCTIONS = {
    "math.reduce_sum": ops.sum,
    "math.reduce_mean": ops.mean,
    "math.reduce_max": ops.max,
    "math.reduce_min": ops.min,
    "math.reduce_prod": ops.prod,
    "math.reduce_any": ops.any,
    "math.reduce_all": ops.all,
    "math.reduce_logsumexp": ops.logsumexp,
}

# TensorFlow function name -> the same computation on `keras.ops`, taking
# TensorFlow's arguments.
KERAS_OPS = {
    **{name: _unary(op) for name, op in _UNARY.items()},
    **{name: _binary(op) for name, op in _BINARY.items()},
    **{name: _reduction(op) for name, op in _REDUCTIONS.items()},
    "nn.softmax": _softmax(ops.softmax),
    "nn.log_softmax": _softmax(ops.log_softmax),
    "nn.leaky_relu": _leaky_relu,
    "squeeze": _squeeze,
    "concat": _concat,
    "stack": _stack,
    "reshape": _reshape,
    "expand_dims": _expand_dims,
    "transpose": _transpose,
    "tile": _tile,
    "cast": _cast,
    "clip_by_value": _clip_by_value,
    "matmul": _matmul,
    "linalg.matmul": _matmul,
    "__operators__.getitem": _getitem,
}


def keras_op(name):
    """The `keras.ops` version of `tf.<name>`, or `None` if there is none.

    TensorFlow 1 names (`compat.v1.squeeze`) and the top-level aliases of
    `tf.math` (`tf.reduce_sum`, `tf.exp`) are the functions they name.
    """
    bare = name.removeprefix("compat.v1.")
    return KERAS_OPS.get(bare) or KERAS_OPS.get(f"math.{bare}")


def needs_tensorflow(what):
    """The message for `what` (a layer, a call) that only TensorFlow runs."""
    return (
        f"{what}: it needs TensorFlow, so load the model with the TensorFlow "
        "backend (KERAS_BACKEND=tensorflow). Received: the "
        f"{keras.backend.backend()!r} backend"
    )


def check_runnable(name, layer_name):
    """Raises unless `tf.<name>` is pure and can run on this backend.

    Only looks at the name: nothing is imported or called.

    Raises:
        ValueError: if `name` is no side-effect-free TensorFlow function
            (`check_function`), or has no `keras.ops` equivalent and the
            backend is not TensorFlow.
    """
    check_function(name)
    if keras_op(name) is None and keras.backend.backend() != "tensorflow":
        raise ValueError(
            needs_tensorflow(
                f"Layer {layer_name!r} of this Keras 2 model calls the "
                f"TensorFlow function `tf.{name}`, which has no `keras.ops` "
                "equivalent"
            )
        )


def _tf_function(name, layer_name):
    check_runnable(name, layer_name)
    function = keras_op(name)
    if function is not None:
        return function
    import tensorflow as tf

    function = tf
    for part in name.split("."):
        function = getattr(function, part, None)
    if not callable(function):
        raise ValueError(
            f"Expected a TensorFlow function `tf.{name}`. Received: "
            f"function={name!r}, which this TensorFlow does not have."
        )
    return function


def _revive_slices(value):
    # Keras 2 writes `x[1:, ...]` as `[{"start": 1, "stop": None, ...}, ...]`.
    if isinstance(value, dict) and set(value) == {"start", "stop", "step"}:
        return slice(value["start"], value["stop"], value["step"])
    if isinstance(value, dict) and value.get("class_name") == "__ellipsis__":
        return Ellipsis
    if isinstance(value, list):
        return [_revive_slices(item) for item in value]
    return value


@keras.saving.register_keras_serializable(package="keras_attnviz")
class TFOpLambda(keras.layers.Layer):
    """Calls `tf.<function>`: as its `keras.ops` equivalent, or TensorFlow's own.

    Args:
        function: str, the function's name under `tf`, as Keras 2 saved it
            (e.g. `"math.reduce_mean"`, `"__operators__.getitem"`).
        **kwargs: Base layer keyword arguments, such as `name`.

    Raises:
        ValueError: if `function` is not a side-effect-free TensorFlow
            function, or has no `keras.ops` equivalent and the backend is not
            TensorFlow.
    """

    def __init__(self, function, **kwargs):
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        self.function = function
        self._function = _tf_function(function, self.name)

    def call(self, *args, **kwargs):
        kwargs.pop("name", None)
        if "slice_spec" in kwargs:
            kwargs["slice_spec"] = _revive_slices(kwargs["slice_spec"])
        return self._function(*args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "function": self.function}


_NAMESPACES = ("math", "nn", "linalg")
_DTYPES = ("bfloat16", "float16", "float32", "float64", "int8", "int32", "int64")


class KerasOpsTensorFlow(types.ModuleType):
    """`tf` as old `Lambda` functions use it, on `keras.ops`.

    For backends other than TensorFlow, where TensorFlow's functions cannot
    run on the backend's tensors: `tf.reduce_sum`, `tf.math.exp`,
    `tf.nn.softmax`, `tf.concat`, ... are the functions of `KERAS_OPS`,
    `tf.newaxis` and the dtypes (`tf.float32`) are there, and any other name
    raises an error that says TensorFlow is needed.

    Args:
        keras_module: what `tf.keras` is.
        prefix: the namespace, e.g. `"nn."`; `""` for `tf` itself.
    """

    def __init__(self, keras_module, prefix=""):
        super().__init__(f"tensorflow.{prefix}".rstrip("."))
        self._keras_module, self._prefix = keras_module, prefix
        if not prefix:
            self.keras, self.newaxis, self.bool = keras_module, None, "bool"
            self.__dict__.update({dtype: dtype for dtype in _DTYPES})

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        full = self._prefix + name
        bare = full.removeprefix("compat.v1.")
        if full in ("compat", "compat.v1") or bare in _NAMESPACES:
            return KerasOpsTensorFlow(self._keras_module, f"{full}.")
        function = keras_op(full)
        if function is None:
            raise AttributeError(
                needs_tensorflow(
                    f"A Keras 2 lambda calls `tf.{full}`, which has no "
                    "`keras.ops` equivalent"
                )
            )
        return function
