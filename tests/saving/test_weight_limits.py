"""`load_model(..., max_weight_bytes=...)`: weights measured before they exist.

Configs that ask for terabytes (`Dense.units=2**40`, `GRU.units=10**9`,
`Embedding.input_dim=10**10`) and weights files that declare a 40000 x 25000
tensor while storing nothing are refused with a `ValueError` that names the
largest weight; before, TensorFlow tried to allocate them.
"""

import io
import re
import subprocess
import sys
import textwrap
import zipfile

import h5py
import keras
import numpy as np
import pytest

from keras_attnviz.saving import weight_limits
from keras_attnviz.saving.load import load_model

from .file_edits import copy_archive, rewrite_h5


def _set(class_name, key, value):
    def edit(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == class_name:
                layer["config"][key] = value
            # Else the next layer, built for the old size, refuses the new one.
            layer.pop("build_config", None)
        return config

    return edit


def _edited_copy(source, target, edit):
    if target.suffix == ".keras":
        copy_archive(source, target, edit=edit)
    else:
        rewrite_h5(source, target, edit)
    return target


@pytest.mark.parametrize("extension", [".keras", ".h5"])
@pytest.mark.parametrize(
    "class_name, key, value, largest",
    [
        (
            "Dense",
            "units",
            2**40,
            r"dense(_\d+)?/kernel` of shape \(6, 1099511627776\)",
        ),
        ("GRU", "units", 10**9, r"gru_cell/recurrent_kernel` of shape"),
        ("Embedding", "input_dim", 10**10, r"embeddings` of shape \(10000000000, 8\)"),
    ],
)
def test_huge_config_is_refused_naming_the_largest_weight(
    tmp_path, make_masked_model, extension, class_name, key, value, largest
):
    source = tmp_path / f"model{extension}"
    make_masked_model().save(source)
    path = _edited_copy(
        source, tmp_path / f"huge{extension}", _set(class_name, key, value)
    )
    with pytest.raises(ValueError, match=rf"(?s)max_weight_bytes.*{largest}") as error:
        load_model(path)
    assert str(path) in str(error.value)
    assert "by its config" in str(error.value)


def test_refusal_leaves_no_deferred_variable_behind(tmp_path, make_masked_model):
    # Keras initializes deferred variables when a later stateless scope ends
    # (every symbolic call opens one): the refused model's must be gone.
    make_masked_model().save(tmp_path / "model.keras")
    path = _edited_copy(
        tmp_path / "model.keras", tmp_path / "huge.keras", _set("Dense", "units", 2**40)
    )
    with pytest.raises(ValueError, match="max_weight_bytes"):
        load_model(path)
    model = make_masked_model()  # symbolic calls, then eager initialization
    assert all(variable.numpy().size < 10**6 for variable in model.variables)


def _bomb(weights, shape):
    """Replaces the Dense kernel in the h5py file `weights` by a declared giant."""
    names = []
    weights.visit(names.append)
    name = next(n for n in names if n.endswith(("dense/vars/0", "/kernel")))
    del weights[name]
    # Chunked and gzip-compressed with nothing written: it stores almost nothing.
    weights.create_dataset(
        name, shape=shape, dtype="float32", chunks=True, compression="gzip"
    )


def _bombed_keras(source, target, shape=(40000, 25000)):
    with (
        zipfile.ZipFile(source) as old,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        for entry in old.infolist():
            data = old.read(entry)
            if entry.filename == "model.weights.h5":
                buffer = io.BytesIO(data)
                with h5py.File(buffer, "r+") as f:
                    _bomb(f, shape)
                data = buffer.getvalue()
            new.writestr(entry.filename, data)
    return target


def _bombed_h5(source, target, shape=(40000, 25000)):
    rewrite_h5(source, target)
    with h5py.File(target, "r+") as f:
        _bomb(f["model_weights"], shape)
    return target


@pytest.mark.parametrize("extension", [".keras", ".h5"])
@pytest.mark.parametrize("shape", [(40000, 25000), (3, 7)])
def test_declared_shapes_must_agree_with_the_config(
    tmp_path, make_masked_model, extension, shape
):
    source = tmp_path / f"model{extension}"
    make_masked_model().save(source)
    bomb = _bombed_keras if extension == ".keras" else _bombed_h5
    path = bomb(source, tmp_path / f"bomb{extension}", shape)
    if shape == (40000, 25000):
        assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match="does not match its model config") as error:
        load_model(path)
    message = str(error.value)
    assert str(path) in message
    assert f"has shape {shape}" in message
    # The layer, and what the config says its weights are.
    assert re.search(
        r"layer 'dense(_\d+)?' weights of shapes \[\(6, 2\), \(2,\)\]", message
    )


def test_declared_bomb_beyond_the_limit_is_refused_by_its_weights_file(
    tmp_path, make_masked_model
):
    make_masked_model().save(tmp_path / "model.h5")
    path = _bombed_h5(tmp_path / "model.h5", tmp_path / "bomb.h5")
    with pytest.raises(ValueError, match=r"by its weights file.*\(40000, 25000\)"):
        load_model(path, max_weight_bytes=2**30)


def test_refusing_a_declared_bomb_allocates_nothing(tmp_path, make_masked_model):
    # Peak memory of a fresh process that refuses a 3.7 GiB declared tensor.
    make_masked_model().save(tmp_path / "model.keras")
    path = _bombed_keras(tmp_path / "model.keras", tmp_path / "bomb.keras")
    script = textwrap.dedent(
        """
        import sys
        import keras_attnviz

        def peak():
            with open("/proc/self/status") as f:
                line = next(l for l in f if l.startswith("VmHWM:"))
            return int(line.split()[1]) * 1024

        keras_attnviz.load_model(sys.argv[1])  # TensorFlow started
        before = peak()
        try:
            keras_attnviz.load_model(sys.argv[2])
        except ValueError as error:
            print("refused" if sys.argv[2] in str(error) else error)
        print(peak() - before)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "model.keras"), str(path)],
        capture_output=True,
        text=True,
    )
    refused, grown = result.stdout.split()
    assert refused == "refused", result.stdout + result.stderr[-2000:]
    assert int(grown) < 500 * 2**20


def test_model_within_the_limit_loads_and_beyond_is_refused(
    tmp_path, make_masked_model
):
    model = make_masked_model()
    model.save(tmp_path / "model.keras")
    size = sum(v.numpy().nbytes for v in model.weights)
    assert load_model(tmp_path / "model.keras", max_weight_bytes=size + 1024)
    with pytest.raises(
        ValueError, match=r"embedding(_\d+)?/embeddings` of shape \(30, 8\)"
    ):
        load_model(tmp_path / "model.keras", max_weight_bytes=size // 2)


@pytest.mark.parametrize(
    "value, error",
    [(1.5e9, TypeError), (True, TypeError), ("1G", TypeError), (0, ValueError)],
)
def test_max_weight_bytes_is_checked(tmp_path, value, error):
    with pytest.raises(error, match="max_weight_bytes"):
        load_model(tmp_path / "model.keras", max_weight_bytes=value)


def test_default_limit_is_half_the_memory():
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if "MemTotal" in line)
    default = weight_limits.default_max_weight_bytes()
    assert 0 < default <= total // 2 + 1
    assert default == int(weight_limits.available_memory_bytes() * 0.5)


def test_sizes_are_readable():
    assert weight_limits.readable_size(100) == "100 bytes"
    assert weight_limits.readable_size(40000 * 25000 * 4) == "3.7 GiB"
    assert weight_limits.readable_size(2**40 * 4) == "4.0 TiB"


def test_npz_weights_are_measured_from_their_headers(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, a=np.zeros((3, 4), "float32"), b=np.zeros(5, "int64"))
    weights = weight_limits.npz_arrays(io.BytesIO(buffer.getvalue()))
    assert [(w.shape, w.nbytes) for w in weights] == [((3, 4), 48), ((5,), 40)]


def test_config_weights_are_not_allocated():
    def build():
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(2**40)(inputs))

    weights = weight_limits.config_weights(build)
    assert [w.shape for w in weights] == [(4, 2**40), (2**40,)]
    assert weights[0].nbytes == 4 * 2**40 * 4


@pytest.mark.parametrize("extension", [".keras", ".h5"])
def test_stateful_rnn_states_count_against_the_limit(tmp_path, extension):
    inputs = keras.Input(batch_shape=(4, 7, 8))
    model = keras.Model(inputs, keras.layers.LSTM(5, stateful=True)(inputs))
    model.save(tmp_path / f"stateful{extension}")
    assert load_model(tmp_path / f"stateful{extension}").layers[-1].stateful

    def grow(config):
        config = _set("LSTM", "units", 10**4)(config)
        config["config"]["layers"][0]["config"]["batch_shape"][0] = 10**7
        return config

    path = _edited_copy(
        tmp_path / f"stateful{extension}", tmp_path / f"huge{extension}", grow
    )
    with pytest.raises(ValueError, match=r"rnn_state` of shape \(10000000, 10000\)"):
        load_model(path)


@keras.saving.register_keras_serializable(package="tests_weight_limits")
class ScaleFromValues(keras.layers.Layer):
    """Makes its variable from a concrete value, which cannot be deferred."""

    def build(self, input_shape):
        self.scale = keras.Variable(np.arange(1, input_shape[-1] + 1, dtype="float32"))

    def call(self, x):
        return x * self.scale


@pytest.mark.parametrize("extension", [".keras", ".h5"])
def test_unmeasurable_config_is_refused_in_safe_mode_and_loads_trusted(
    tmp_path, extension
):
    model = keras.Sequential([keras.Input((3,)), ScaleFromValues()])
    path = tmp_path / f"concrete{extension}"
    model.save(path)
    with pytest.raises(ValueError, match="concrete value") as error:
        load_model(path)
    assert str(path) in str(error.value) and "safe_mode=False" in str(error.value)

    x = np.ones((2, 3), "float32")
    trusted = load_model(path, safe_mode=False)
    np.testing.assert_array_equal(trusted.predict(x, verbose=0), [[1, 2, 3]] * 2)
    # Trusted, the weights file is still held to the limit.
    with pytest.raises(ValueError, match="weights file.*max_weight_bytes"):
        load_model(path, safe_mode=False, max_weight_bytes=8)
