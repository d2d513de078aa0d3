"""Keras 2 `TFOpLambda` layers: TensorFlow functions rebuilt, side effects refused."""

import numpy as np
import pytest

from keras_attnviz.saving.load import load_model

from ..file_edits import rewrite_h5
from ..predictions import expect_same


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
