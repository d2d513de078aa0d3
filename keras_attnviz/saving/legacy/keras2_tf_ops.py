"""Keras 2's TF-op layers (`TFOpLambda`, `SlicingOpLambda`) for Keras 3.

In a Keras 2 functional model, calling a TensorFlow function on a symbolic
tensor (`tf.reduce_mean(x, axis=1)`, `x[:, -1]`, `a * 2 + b`) added a layer
that records the function's name, e.g. `"math.reduce_mean"`; the call's
arguments sit in the model's nodes. Keras 3 has no such layer, so
`load_model` builds these as `TFOpLambda` below. Only side-effect-free
TensorFlow functions are looked up by name (no file or print ops), so a file
cannot make the loader call anything else.
"""

import keras

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


def _tf_function(name):
    check_function(name)
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
    """Calls the TensorFlow function `tf.<function>` (TensorFlow backend).

    Args:
        function: str, the function's name under `tf`, as Keras 2 saved it
            (e.g. `"math.reduce_mean"`, `"__operators__.getitem"`).
        **kwargs: Base layer keyword arguments, such as `name`.

    Raises:
        ValueError: if `function` is not a side-effect-free TensorFlow
            function.
    """

    def __init__(self, function, **kwargs):
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        self.function = function
        self._function = _tf_function(function)

    def call(self, *args, **kwargs):
        kwargs.pop("name", None)
        if "slice_spec" in kwargs:
            kwargs["slice_spec"] = _revive_slices(kwargs["slice_spec"])
        return self._function(*args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "function": self.function}
