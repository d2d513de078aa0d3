"""Keras 2 `TFOpLambda` layers: TensorFlow functions rebuilt on `keras.ops` (or
TensorFlow's own), side effects refused."""

import keras
import numpy as np
import pytest

from keras_attnviz.saving.legacy import keras2_tf_ops
from keras_attnviz.saving.load import load_model

from ..file_edits import rewrite_h5
from ..predictions import expect_keras2_numbers, expect_same


def test_keras2_tf_ops_reload_and_resave(legacy_dir, tmp_path):
    model = load_model(legacy_dir / "tf_ops.h5")
    model.save(tmp_path / "again.keras")
    expect_same(
        load_model(tmp_path / "again.keras"), model, np.load(legacy_dir / "inputs.npy")
    )


@pytest.mark.parametrize(
    "function",
    [
        "io.write_file",
        "print",
        "raw_ops.WriteFile",
        # Attribute chains past a pure namespace reach loaders and file readers.
        "math.__spec__.loader.get_data",
        "nn.__loader__.load_module",
        "compat.v1.math.__spec__.loader.get_data",
        "math.reduce_sum.__call__",
        "squeeze.__globals__",
    ],
)
def test_keras2_tf_ops_with_side_effects_are_refused(legacy_dir, tmp_path, function):
    def swap_function(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "TFOpLambda":
                layer["config"]["function"] = function
        return config

    path = tmp_path / "hostile.h5"
    rewrite_h5(legacy_dir / "tf_ops.h5", path, swap_function)
    with pytest.raises(ValueError, match="side-effect-free") as error:
        load_model(path)
    assert repr(function) in str(error.value)


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_keras2_tf_ops_give_keras2_numbers_on_every_backend(legacy_dir, extension):
    # squeeze, nn.softmax, getitem (with tf.newaxis), multiply, reduce_sum,
    # add and concat run as keras.ops, whatever the backend.
    model = load_model(legacy_dir / f"tf_ops{extension}")
    expect_keras2_numbers(model, legacy_dir, "tf_ops")


def test_a_tf_op_without_keras_ops_equivalent_needs_tensorflow(legacy_dir, tmp_path):
    def swap_function(config):
        for layer in config["config"]["layers"]:
            if layer["config"].get("function") == "math.reduce_sum":
                layer["config"]["function"] = "math.reduce_euclidean_norm"
        return config

    path = tmp_path / "norm.h5"
    rewrite_h5(legacy_dir / "tf_ops.h5", path, swap_function)
    if keras.backend.backend() == "tensorflow":
        assert isinstance(load_model(path), keras.Model)  # TensorFlow's own
        return
    with pytest.raises(ValueError, match="needs TensorFlow") as error:
        load_model(path)
    assert "'tf.math.reduce_sum'" in str(error.value)  # the layer's name
    assert "tf.math.reduce_euclidean_norm" in str(error.value)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_tf_functions_on_keras_ops_take_tensorflow_arguments():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    cases = [
        ("math.reduce_mean", (x,), {"axis": 1}, x.mean(axis=1)),
        ("reduce_sum", (x,), {"axis": [0, 2]}, x.sum((0, 2))),
        (
            "compat.v1.reduce_max",
            (x,),
            {"reduction_indices": 2, "keep_dims": True},
            x.max(2, keepdims=True),
        ),
        ("compat.v1.squeeze", (x[:, :1],), {"squeeze_dims": [1]}, x[:, 0]),
        ("nn.softmax", (x,), {}, np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
        ("math.multiply", (x,), {"y": 2.0}, x * 2.0),
        ("__operators__.add", (x,), {"y": x}, x + x),
        ("concat", ([x, x],), {"axis": -1}, np.concatenate([x, x], -1)),
        ("reshape", (x,), {"shape": [6, 4]}, x.reshape(6, 4)),
        ("transpose", (x,), {"perm": [0, 2, 1]}, x.transpose(0, 2, 1)),
        ("matmul", (x, x), {"transpose_b": True}, x @ x.transpose(0, 2, 1)),
        ("exp", (x / 24,), {}, np.exp(x / 24)),
        (
            "__operators__.getitem",
            (x,),
            {"slice_spec": [slice(None), -1, None]},
            x[:, -1, None],
        ),
    ]
    for name, args, kwargs, expected in cases:
        got = keras2_tf_ops.keras_op(name)(*args, **kwargs)
        np.testing.assert_allclose(_numpy(got), expected, rtol=1e-6, err_msg=name)
    assert keras2_tf_ops.keras_op("io.write_file") is None
    assert keras2_tf_ops.keras_op("math.bessel_i0") is None


def test_lambdas_off_tensorflow_get_a_tf_of_keras_ops():
    tf = keras2_tf_ops.KerasOpsTensorFlow(keras)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(_numpy(tf.reduce_sum(x, axis=1)), x.sum(1))
    np.testing.assert_allclose(_numpy(tf.compat.v1.math.reduce_sum(x, 0)), x.sum(0))
    np.testing.assert_allclose(_numpy(tf.cast(x, tf.int32)), x.astype("int32"))
    assert x[:, tf.newaxis].shape == (2, 1, 3)
    assert tf.keras is keras
    with pytest.raises(AttributeError, match="`tf.signal`.*needs TensorFlow"):
        tf.signal.fft  # noqa: B018
    with pytest.raises(AttributeError, match="`tf.math.bessel_i0`.*needs TensorFlow"):
        tf.math.bessel_i0  # noqa: B018
