"""Which output an attribution explains: one class per sample, and its value.

A model's output is read as it is computed: a probability for sigmoid and
softmax outputs (the activation is not stripped), a logit for a linear one.
A single output unit is the output of class 1 (a sigmoid's probability); class
0 is `1 - output`, which for a logit gives the same gradients and the same
changes as `-logit`.
"""

import keras
import numpy as np
from keras import ops


def single_output(outputs, model_name):
    """The one output of a model as `(batch, classes)`: `(batch,)` gains an axis.

    Works on NumPy arrays and tensors, symbolic ones included.
    """
    flat = keras.tree.flatten(outputs)
    if len(flat) != 1:
        raise ValueError(
            "`model` must have one output to explain; wrap the one you want, "
            "as `keras.Model(model.inputs, model.outputs[k])`. Received: model "
            f"{model_name!r} with {len(flat)} outputs"
        )
    (output,) = flat
    if len(output.shape) == 1:
        output = ops.expand_dims(output, -1)
    if len(output.shape) != 2:
        raise ValueError(
            "`model` must output one vector per sample, (batch, classes), to "
            f"explain. Received: model {model_name!r} with outputs of shape "
            f"{tuple(output.shape)}"
        )
    return output


def resolve_targets(outputs, target):
    """The class each sample explains: `target`, or the predicted class.

    Args:
        outputs: `(N, C)` array of the model's outputs.
        target: `None`, an int, or one int per sample.

    Returns:
        An int array `(N,)`.
    """
    n_samples, n_units = outputs.shape
    n_classes = 2 if n_units == 1 else n_units
    if target is None:
        if n_units == 1:
            return (outputs[:, 0] > 0.5).astype(np.int64)
        return outputs.argmax(axis=1).astype(np.int64)
    targets = np.asarray(target)
    if targets.dtype.kind not in "iu" or targets.ndim > 1:
        raise TypeError(
            "`target` must be None, an int or one int per sample. Received: "
            f"target={_shorten(target)}"
        )
    targets = np.broadcast_to(targets, (n_samples,)) if targets.ndim == 0 else targets
    if targets.shape != (n_samples,):
        raise ValueError(
            f"`target` must hold one class per sample ({n_samples}). Received: "
            f"{targets.shape[0]} targets"
        )
    bad = (targets < 0) | (targets >= n_classes)
    if bad.any():
        what = "a single output unit" if n_units == 1 else f"{n_units} outputs"
        raise ValueError(
            f"`target` must be a class from 0 to {n_classes - 1} ({what}). "
            f"Received: {int(targets[bad][0])}"
        )
    return targets.astype(np.int64)


def target_values(outputs, targets):
    """The output of each row's target class: a `(B,)` float32 tensor.

    Args:
        outputs: `(B, C)` model outputs, as `single_output` gives them.
        targets: `(B,)` int classes.
    """
    outputs = ops.cast(outputs, "float32")
    if outputs.shape[-1] == 1:
        positive = outputs[:, 0]
        return ops.where(ops.equal(targets, 1), positive, 1.0 - positive)
    picked = ops.take_along_axis(outputs, ops.cast(targets, "int32")[:, None], axis=1)
    return picked[:, 0]


def _shorten(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
