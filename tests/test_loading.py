"""Tests for `keras_attnviz.load_model`: `.keras`, Keras 3 `.h5`, Keras 2 `.h5`."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

import h5py
import keras
import numpy as np
import pytest
from keras import ops

from keras_attnviz.layers import AdditiveAttention, DotProductAttention
from keras_attnviz.saving.legacy.keras2_backend import Keras2Backend
from keras_attnviz.saving.load import load_model
from keras_attnviz.probe import AttentionProbe

HERE = os.path.dirname(os.path.abspath(__file__))
VOCABULARY, LENGTH = 30, 7


@pytest.fixture(scope="module")
def legacy_dir(tmp_path_factory):
    """Keras 2 `.h5` files and their predictions, written by tf_keras at once."""
    out = tmp_path_factory.mktemp("keras2")
    subprocess.run(
        [sys.executable, os.path.join(HERE, "legacy_models.py"), str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"},
    )
    return out


@pytest.fixture(scope="module")
def tokens():
    rng = np.random.default_rng(1)
    x = rng.integers(1, VOCABULARY, size=(4, LENGTH))
    x[0, :3] = 0  # pre-padded
    x[1, -2:] = 0  # post-padded
    return x


def _masked_model(attention=None):
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCABULARY, 8, mask_zero=True)(inputs)
    x = keras.layers.GRU(6, return_sequences=attention is not None)(x)
    if attention is not None:
        x = attention(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def _expect_same(loaded, original, x):
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), original.predict(x, verbose=0), atol=1e-6
    )


# Keras 3 files


@pytest.mark.parametrize("extension", [".h5", ".hdf5"])
def test_keras3_h5_with_mask_zero_reloads_with_identical_predictions(
    tmp_path, tokens, extension
):
    model = _masked_model()
    path = tmp_path / f"masked{extension}"
    model.save(path)
    loaded = load_model(path)
    assert [layer.name for layer in loaded.layers] == [
        layer.name for layer in model.layers
    ]
    _expect_same(loaded, model, tokens)
    # The mask still works: padding does not change the output.
    padded = np.concatenate([np.zeros((4, 3), "int64"), tokens], axis=1)
    np.testing.assert_allclose(
        loaded.predict(padded, verbose=0), loaded.predict(tokens, verbose=0), atol=1e-6
    )


def test_keras3_h5_keeps_explicit_ops_in_the_graph(tmp_path):
    inputs = keras.Input((5, 3))
    x = keras.layers.Dense(4)(inputs)
    joined = keras.ops.concatenate([x, keras.ops.square(x)], axis=-1)
    mask = keras.ops.not_equal(keras.ops.sum(inputs, axis=-1), 0.0)
    outputs = keras.layers.GRU(3)(joined, mask=mask)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "ops.h5")
    x = np.random.default_rng(0).normal(size=(3, 5, 3))
    x[0, 3:] = 0.0
    _expect_same(load_model(tmp_path / "ops.h5"), model, x)


def test_keras3_h5_with_tensor_operators_reloads(tmp_path):
    # Plain keras.models.load_model fails on `a + b` nodes in .h5 (Keras 3.15).
    inputs = keras.Input((5, 3))
    summed = keras.layers.Dense(3)(inputs) + inputs
    outputs = keras.layers.GlobalAveragePooling1D()(summed)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "operators.h5")
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    _expect_same(load_model(tmp_path / "operators.h5"), model, x)


def test_keras3_h5_nested_multi_io_model_reloads_compiled(tmp_path):
    first = keras.Input((None,), dtype="int32", name="first")
    second = keras.Input((None,), dtype="int32", name="second")
    embed = [keras.layers.Embedding(VOCABULARY, 4, mask_zero=True) for _ in "ab"]
    # Concatenating masked inputs puts the ops that merge their masks in the graph.
    joined = keras.layers.Concatenate(axis=1)([embed[0](first), embed[1](second)])
    states = keras.layers.GRU(5, return_sequences=True)(joined)
    nested = keras.Sequential(
        [keras.layers.Embedding(VOCABULARY, 4, mask_zero=True), keras.layers.GRU(5)],
        name="nested",
    )
    context = AdditiveAttention(name="attention")(states)
    outputs = [
        keras.layers.Dense(2, name="a")(context),
        keras.layers.Dense(1, name="b")(nested(second)),
    ]
    model = keras.Model([first, second], outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss=["mse", keras.losses.BinaryCrossentropy(from_logits=True)],
        metrics=[["mae"], ["accuracy"]],
    )
    model.save(tmp_path / "nested.h5")
    loaded = load_model(tmp_path / "nested.h5", compile=True)
    x = [np.array([[0, 1, 2, 3], [4, 5, 0, 0]]), np.array([[1, 1, 0, 0], [0, 0, 2, 3]])]
    got, expected = loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    for name, (a, b) in enumerate(zip(got, expected, strict=True)):
        np.testing.assert_allclose(a, b, atol=1e-6, err_msg=f"output {name}")
    np.testing.assert_allclose(float(loaded.optimizer.learning_rate), 0.02)
    y = [np.zeros((2, 2)), np.ones((2, 1))]
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5
    )


def test_keras_file_is_delegated_with_custom_objects(tmp_path, tokens):
    def sum_over_time(x):
        return keras.ops.sum(x, axis=1)

    inputs = keras.Input((LENGTH,), dtype="int32")
    x = keras.layers.Embedding(VOCABULARY, 4)(inputs)
    model = keras.Model(inputs, keras.layers.Lambda(sum_over_time)(x))
    model.save(tmp_path / "named.keras")
    with pytest.raises(ValueError, match=r"(?s)named\.keras.*sum_over_time"):
        load_model(tmp_path / "named.keras")
    loaded = load_model(
        str(tmp_path / "named.keras"), custom_objects={"sum_over_time": sum_over_time}
    )
    _expect_same(loaded, model, tokens)


class _Scale(keras.layers.Layer):
    """An unregistered custom layer, found through `custom_objects` only."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class _OldStyleScale(_Scale):
    """A custom layer whose config, as in much old code, has no `trainable`."""

    def get_config(self):
        return {"name": self.name, "factor": self.factor}


@pytest.mark.parametrize("layer", [_Scale, _OldStyleScale])
def test_h5_custom_layer_under_its_own_name_needs_custom_objects(tmp_path, layer):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layer(2.0, name="scale")(keras.layers.Dense(2)(inputs)))
    model.save(tmp_path / "custom.h5")
    with pytest.raises(ValueError, match=rf"(?s)custom\.h5.*{layer.__name__}"):
        load_model(tmp_path / "custom.h5")
    loaded = load_model(tmp_path / "custom.h5", custom_objects={layer.__name__: layer})
    assert isinstance(loaded.get_layer("scale"), layer)
    _expect_same(loaded, model, np.ones((2, 3)))


@pytest.mark.parametrize("extension", [".keras", ".h5"])
@pytest.mark.parametrize("layer", [AdditiveAttention, DotProductAttention])
def test_models_with_our_layers_reload(tmp_path, tokens, extension, layer):
    model = _masked_model(attention=layer(name="attention"))
    path = tmp_path / f"attention{extension}"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded.get_layer("attention"), layer)
    _expect_same(loaded, model, tokens)


# Keras 2 files, written by tf_keras


def _expect_keras2_numbers(legacy_dir, name, extension=".h5", **kwargs):
    model = load_model(legacy_dir / f"{name}{extension}", **kwargs)
    assert isinstance(model, keras.Model)
    inputs = np.load(legacy_dir / "inputs.npy")
    np.testing.assert_allclose(
        model.predict(inputs, verbose=0),
        np.load(legacy_dir / f"{name}.npy"),
        atol=1e-5,
    )
    return model


def test_legacy_files_are_keras2_files(legacy_dir):
    with h5py.File(legacy_dir / "masked_gru.h5") as f:
        assert f.attrs["keras_version"].startswith("2.")
        assert '"time_major": false' in f.attrs["model_config"]
    with zipfile.ZipFile(legacy_dir / "masked_gru.keras") as archive:
        assert json.loads(archive.read("metadata.json"))["keras_version"][0] == "2"


@pytest.mark.parametrize("extension", [".h5", ".keras"])
@pytest.mark.parametrize(
    "name",
    [
        "masked_gru",
        "lstm",
        "bidirectional",
        "mixed_precision",
        "nested",
        "keras_attention",
        "multi_head",
        "tf_ops",
    ],
)
def test_keras2_models_give_keras2_numbers(legacy_dir, name, extension):
    model = _expect_keras2_numbers(legacy_dir, name, extension)
    if name == "mixed_precision":
        assert model.get_layer(index=2).dtype_policy.name == "mixed_float16"


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_keras2_recipe_is_refused_in_safe_mode(legacy_dir, extension):
    with pytest.raises(ValueError, match=r"(?s)Python code.*safe_mode=False") as info:
        load_model(legacy_dir / f"recipe{extension}")
    assert f"recipe{extension}" in str(info.value)
    assert "'lambda'" in str(info.value)


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_keras2_recipe_gives_keras2_numbers_when_trusted(legacy_dir, extension):
    model = _expect_keras2_numbers(legacy_dir, "recipe", extension, safe_mode=False)
    weights = keras.Model(model.input, model.get_layer("attention_vec").output)
    np.testing.assert_allclose(
        weights.predict(np.load(legacy_dir / "inputs.npy"), verbose=0),
        np.load(legacy_dir / "recipe_attention.npy"),
        atol=1e-6,
    )


@pytest.mark.parametrize("extension", [".h5", ".keras"])
@pytest.mark.parametrize("name", ["lambdas", "named_function"])
def test_keras2_lambda_globals_resolve(legacy_dir, name, extension):
    _expect_keras2_numbers(legacy_dir, name, extension, safe_mode=False)


def test_safe_mode_runs_nothing_from_the_file(legacy_dir):
    marker = legacy_dir / "marker.txt"
    with pytest.raises(ValueError, match="safe_mode=False"):
        load_model(legacy_dir / "marker.h5")
    assert not marker.exists()
    # The check above can fail: once trusted, loading runs the lambda.
    load_model(legacy_dir / "marker.h5", safe_mode=False)
    assert marker.exists()
    marker.unlink()


def test_keras3_lambdas_are_refused_in_safe_mode_and_find_their_globals(tmp_path):
    inputs = keras.Input((4, 3))
    # Keras's own loader rebuilds lambdas without globals: no `ops`, no `keras`;
    # and it cannot reload a lambda activation at all.
    pooled = keras.layers.Lambda(lambda x: ops.sum(x, axis=1))(inputs)
    scaled = keras.layers.Lambda(lambda x: keras.ops.exp(x) * 2.0)(pooled)
    dense = keras.layers.Dense(2, activation=lambda x: ops.relu(x) - 1.0, name="d")
    model = keras.Model(inputs, dense(scaled))
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    for extension in (".h5", ".keras"):
        with pytest.warns(UserWarning, match="lambda"):
            model.save(tmp_path / f"lambda{extension}")
        with pytest.raises(ValueError, match=r"(?s)'d' \(activation\).*safe_mode"):
            load_model(tmp_path / f"lambda{extension}")
        loaded = load_model(tmp_path / f"lambda{extension}", safe_mode=False)
        _expect_same(loaded, model, x)


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_keras2_compile_restores_the_optimizer_and_loss(legacy_dir, extension):
    model = load_model(legacy_dir / f"compiled{extension}", compile=True)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.01)
    inputs = np.load(legacy_dir / "inputs.npy")
    targets = np.zeros((len(inputs), 2))
    expected = np.mean(np.load(legacy_dir / "compiled.npy") ** 2)
    loss, _ = model.evaluate(inputs, targets, verbose=0)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    uncompiled = load_model(legacy_dir / f"compiled{extension}")
    assert getattr(uncompiled, "optimizer", None) is None


def _rewrite_config(source, target, edit, attribute="model_config"):
    shutil.copy(source, target)
    with h5py.File(target, "r+") as f:
        f.attrs[attribute] = json.dumps(edit(json.loads(f.attrs[attribute])))


def test_keras2_legacy_optimizer_arguments_are_mapped(legacy_dir, tmp_path):
    # Optimizers before TF 2.11 saved `lr` and `decay`.
    def make_old(training_config):
        arguments = training_config["optimizer_config"]["config"]
        arguments["lr"] = arguments.pop("learning_rate")
        arguments["decay"] = 0.001
        return training_config

    path = tmp_path / "old_optimizer.h5"
    _rewrite_config(legacy_dir / "compiled.h5", path, make_old, "training_config")
    with pytest.warns(UserWarning, match="decay=0.001"):
        model = load_model(path, compile=True)
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.01)


def test_keras1_files_are_refused(legacy_dir, tmp_path):
    path = tmp_path / "keras1.h5"
    shutil.copy(legacy_dir / "masked_gru.h5", path)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "1.2.2"
    with pytest.raises(ValueError, match=r"keras1\.h5.*Keras 1\.2\.2"):
        load_model(path)


def test_keras2_time_major_true_is_rejected(legacy_dir, tmp_path):
    def set_time_major(config):
        config["config"]["layers"][2]["config"]["time_major"] = True
        return config

    _rewrite_config(legacy_dir / "masked_gru.h5", tmp_path / "tm.h5", set_time_major)
    with pytest.raises(ValueError, match="time_major=True"):
        load_model(tmp_path / "tm.h5")


def test_keras2_old_sequential_layout_and_policy_dtypes(legacy_dir, tmp_path):
    # Keras <= 2.2.2: a bare list of layers, the input shape on the first one.
    def make_old(config):
        layers = config["config"]["layers"][1:]
        for layer in layers:
            layer["config"]["dtype"] = {
                "class_name": "Policy",
                "config": {"name": "float32"},
            }
        return {"class_name": "Sequential", "config": _without_modules(layers)}

    _rewrite_config(legacy_dir / "lstm.h5", tmp_path / "old.h5", make_old)
    model = load_model(tmp_path / "old.h5")
    np.testing.assert_allclose(
        model.predict(np.load(legacy_dir / "inputs.npy"), verbose=0),
        np.load(legacy_dir / "lstm.npy"),
        atol=1e-5,
    )


def _without_modules(node):
    """A Keras 2 config as TF <= 2.12 wrote it: no `module`, no `build_config`."""
    if isinstance(node, list):
        return [_without_modules(child) for child in node]
    if not isinstance(node, dict):
        return node
    dropped = ("module", "registered_name", "build_config")
    node = {k: _without_modules(v) for k, v in node.items() if k not in dropped}
    if node.get("class_name") == "Functional":
        node["class_name"] = "Model"
    return node


@pytest.mark.parametrize("name", ["bidirectional", "recipe", "nested"])
def test_keras2_files_from_before_tf_2_13(legacy_dir, tmp_path, name):
    path = tmp_path / f"{name}.h5"
    _rewrite_config(legacy_dir / f"{name}.h5", path, _without_modules)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "2.4.0"
    model = load_model(path, safe_mode=False)
    np.testing.assert_allclose(
        model.predict(np.load(legacy_dir / "inputs.npy"), verbose=0),
        np.load(legacy_dir / f"{name}.npy"),
        atol=1e-5,
    )


def test_keras2_tf_ops_reload_and_resave(legacy_dir, tmp_path):
    model = load_model(legacy_dir / "tf_ops.h5")
    model.save(tmp_path / "again.keras")
    _expect_same(
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
    _rewrite_config(legacy_dir / "tf_ops.h5", path, swap_function)
    with pytest.raises(ValueError, match="side-effect-free") as error:
        load_model(path)
    assert repr(function) in str(error.value)


def test_keras2_backend_shim_follows_keras2_semantics():
    K = Keras2Backend()
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    np.testing.assert_allclose(K.concatenate([x, x]), np.concatenate([x, x], -1))
    np.testing.assert_allclose(K.expand_dims(x), x[..., None])
    np.testing.assert_allclose(K.permute_dimensions(x, (0, 2, 1)), x.transpose(0, 2, 1))
    np.testing.assert_allclose(K.cumsum(x), np.cumsum(x, axis=0))
    np.testing.assert_allclose(K.argmax(x), np.argmax(x, axis=-1))
    np.testing.assert_allclose(K.repeat(x[:, 0], 2), np.stack([x[:, 0]] * 2, 1))
    np.testing.assert_allclose(
        K.dot(x, np.ones((4, 5), "float32")), x @ np.ones((4, 5))
    )
    np.testing.assert_allclose(
        K.l2_normalize(x, axis=-1),
        x / np.linalg.norm(x, axis=-1, keepdims=True),
        rtol=1e-6,
    )
    np.testing.assert_allclose(K.sum(x, axis=1), x.sum(axis=1))
    y = x.transpose(0, 2, 1) + 1.0
    np.testing.assert_allclose(K.batch_dot(x, y), np.einsum("bij,bjk->bik", x, y))
    np.testing.assert_allclose(
        K.batch_dot(x, x, axes=[2, 2]), np.einsum("bik,bjk->bij", x, x)
    )
    np.testing.assert_allclose(
        K.batch_dot(x[:, 0], x[:, 1], axes=1),
        np.sum(x[:, 0] * x[:, 1], axis=1, keepdims=True),
    )
    with pytest.raises(AttributeError, match="K.no_such_function"):
        K.no_such_function  # noqa: B018


def _keras2_backend_cases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)).astype("float32") * 4.0
    x3 = rng.normal(size=(4, 5, 3)).astype("float32")
    rows = np.array([True, False, True, False, True])
    grid = rng.normal(size=(4, 5)) > 0
    cases = [
        ("sqrt", (x,), {}),
        ("hard_sigmoid", (x,), {}),
        ("clip", (x, None, 1.0), {}),
        ("clip", (x, 0.5, -1.0), {}),
        ("switch", (rows, x, -x), {}),
        # A condition of rank 2 over rank-3 branches: leading axes line up.
        ("switch", (grid, x3, -x3), {}),
        # A scalar condition picks a branch, which may be a function.
        ("switch", (np.array(True), lambda: x, lambda: -x), {}),
        ("switch", (np.array(0), x, lambda: -x), {}),
    ]
    for alpha in (0.0, 0.1, 1.5):
        for max_value in (None, 6.0, 1.0):
            for threshold in (0.0, 0.5, -0.5):
                kwargs = dict(alpha=alpha, max_value=max_value, threshold=threshold)
                cases.append(("relu", (x,), kwargs))
    cases.append(("relu", (x, 0.2), {}))
    return cases


def test_keras2_backend_shim_matches_tf_keras():
    tf = pytest.importorskip("tensorflow")
    K2 = pytest.importorskip("tf_keras").backend
    K = Keras2Backend()

    def as_tensor(value):
        return tf.constant(value) if isinstance(value, np.ndarray) else value

    for name, args, kwargs in _keras2_backend_cases():
        expected = getattr(K2, name)(*map(as_tensor, args), **kwargs)
        got = getattr(K, name)(*args, **kwargs)
        np.testing.assert_allclose(
            np.asarray(got), np.asarray(expected), rtol=1e-6, err_msg=f"K.{name}"
        )


# Fresh process, as a user runs it


def test_fresh_process_loads_without_custom_objects(legacy_dir, tmp_path, tokens):
    cases = {}  # path: (inputs, expected predictions)
    for name, model in [
        ("ours", _masked_model(attention=AdditiveAttention(name="attention"))),
        ("plain", _masked_model()),
    ]:
        for extension in (".keras", ".h5"):
            path = tmp_path / f"{name}{extension}"
            model.save(path)
            cases[str(path)] = (tokens, model.predict(tokens, verbose=0))
    for name in ("masked_gru", "bidirectional"):
        cases[str(legacy_dir / f"{name}.h5")] = (
            np.load(legacy_dir / "inputs.npy"),
            np.load(legacy_dir / f"{name}.npy"),
        )
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import keras_attnviz

        for path, (x, expected) in json.load(sys.stdin).items():
            got = keras_attnviz.load_model(path).predict(np.array(x), verbose=0)
            np.testing.assert_allclose(got, np.array(expected), atol=1e-5)
            print("loaded", path)
        assert "tf_keras" not in sys.modules
        """
    )
    payload = {path: (x.tolist(), y.tolist()) for path, (x, y) in cases.items()}
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("loaded") == len(cases) == 6


# Hostile and wrong input


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        load_model(tmp_path / "nowhere.h5")


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_text_file_raises_value_error_naming_it(tmp_path, extension):
    path = tmp_path / f"notes{extension}"
    path.write_text("not a model\n")
    with pytest.raises(ValueError, match=f"notes{extension}"):
        load_model(path)


def test_h5_without_model_raises_value_error(tmp_path):
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"data\.h5.*holds no model"):
        load_model(tmp_path / "data.h5")


def test_weights_only_file_points_to_load_weights(tmp_path):
    model = _masked_model()
    model.save_weights(tmp_path / "only.weights.h5")
    with pytest.raises(ValueError, match="load_weights"):
        load_model(tmp_path / "only.weights.h5")


@pytest.mark.parametrize("extension", [".h5", ".keras"])
def test_truncated_file_raises_value_error(tmp_path, extension):
    model = _masked_model()
    model.save(tmp_path / f"whole{extension}")
    data = (tmp_path / f"whole{extension}").read_bytes()
    for fraction in (0.3, 0.9):
        path = tmp_path / f"cut{extension}"
        path.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(ValueError, match=f"cut{extension}"):
            load_model(path)


@pytest.mark.parametrize(
    "model_config",
    [
        "{not json",
        "[" * 100_000,
        np.arange(3),
        np.bytes_(b"\xff\xfe{"),  # not UTF-8
        "[]",
        '{"class_name": "Sequential"}',
        '{"class_name": "Dense", "config": {"units": 2}}',
        '{"class_name": "Functional", "config": {"layers": [[]]}}',
        '{"class_name": "Functional", "config": %s}' % ("[" * 700 + "]" * 700),
    ],
)
def test_corrupt_config_raises_value_error(tmp_path, model_config):
    _masked_model().save(tmp_path / "model.h5")
    with h5py.File(tmp_path / "model.h5", "r+") as f:
        f.attrs["model_config"] = model_config
    with pytest.raises(ValueError, match=r"model\.h5"):
        load_model(tmp_path / "model.h5")


def _unknown_layer(config):
    config["config"]["layers"][1]["class_name"] = "NoSuchLayer"
    return config


def _garbled_op(config):
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "NotEqual":
            layer["config"]["units"] = -3
    return config


@pytest.mark.parametrize(
    "keras2, edit, message",
    [
        (False, _unknown_layer, "NoSuchLayer"),
        (True, _unknown_layer, "NoSuchLayer"),
        (False, _garbled_op, "NotEqual.*units"),
    ],
)
def test_config_keras_cannot_build_raises_value_error_naming_the_file(
    legacy_dir, tmp_path, keras2, edit, message
):
    if keras2:
        source = legacy_dir / "masked_gru.h5"
    else:
        source = tmp_path / "model.h5"
        _masked_model().save(source)
    _rewrite_config(source, tmp_path / "broken.h5", edit)
    with pytest.raises(ValueError, match=rf"(?s)broken\.h5.*{message}"):
        load_model(tmp_path / "broken.h5")


@pytest.mark.parametrize("keras2", [False, True])
def test_keras_archive_without_weights_raises_value_error(legacy_dir, tmp_path, keras2):
    source = tmp_path / "model.keras"
    if keras2:
        source = legacy_dir / "masked_gru.keras"
    else:
        _masked_model().save(source)
    with zipfile.ZipFile(source) as archive:
        with zipfile.ZipFile(tmp_path / "no_weights.keras", "w") as copy:
            for entry in archive.infolist():
                if entry.filename != "model.weights.h5":
                    copy.writestr(entry, archive.read(entry))
    with pytest.raises(ValueError, match=r"(?s)no_weights\.keras.*model\.weights"):
        load_model(tmp_path / "no_weights.keras")


def test_keras_archive_without_config_raises_value_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match="no `config.json`"):
        load_model(tmp_path / "empty.keras")


# Digits, so that `IntegerLookup` reads the file as well.
SECRET = "271828182845"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(f"{SECRET}\n314159265358\n")
    return path


def _expect_refused_in_safe_mode(path, reason):
    with pytest.raises(ValueError, match=reason) as error:
        load_model(path)
    assert str(path) in str(error.value)
    assert SECRET not in str(error.value)


@pytest.mark.parametrize("trainable", [True, False])
@pytest.mark.parametrize(
    "layer, dtype, vocabulary",
    [
        (keras.layers.StringLookup, "string", ["a"]),
        (keras.layers.IntegerLookup, "int64", [3]),
        (keras.layers.TextVectorization, "string", ["a"]),
    ],
    ids=["StringLookup", "IntegerLookup", "TextVectorization"],
)
def test_keras3_h5_vocabulary_file_is_refused_in_safe_mode(
    tmp_path, secret_file, layer, dtype, vocabulary, trainable
):
    # Keras reads a vocabulary given as a path, unless in its safe mode; a file
    # without `trainable` used to take a path that had no safe mode at all.
    inputs = keras.Input((1,), dtype=dtype)
    lookup = layer(vocabulary=vocabulary, name="lookup")
    keras.Model(inputs, lookup(inputs)).save(tmp_path / "lookup.h5")

    def point_at_secret(config):
        for entry in config["config"]["layers"]:
            if entry["name"] == "lookup":
                entry["config"]["vocabulary"] = str(secret_file)
                if not trainable:
                    del entry["config"]["trainable"]
        return config

    _rewrite_config(tmp_path / "lookup.h5", tmp_path / "evil.h5", point_at_secret)
    _expect_refused_in_safe_mode(tmp_path / "evil.h5", "vocabulary file")
    model = load_model(tmp_path / "evil.h5", safe_mode=False)
    # The check above can fail: trusted, Keras reads the file.
    assert SECRET in str(model.get_layer("lookup").get_vocabulary())


@pytest.mark.parametrize("extension", [".h5", ".keras"])
@pytest.mark.parametrize("trainable", [True, False])
def test_keras2_vocabulary_file_is_refused_in_safe_mode(
    legacy_dir, tmp_path, secret_file, extension, trainable
):
    lookup = {
        "class_name": "StringLookup",
        "config": {"name": "lookup", "vocabulary": str(secret_file)},
        "name": "lookup",
        "inbound_nodes": [],
    }
    if trainable:
        lookup["config"]["trainable"] = True

    def add_lookup(config):
        config["config"]["layers"].append(lookup)
        return config

    path = tmp_path / f"evil{extension}"
    if extension == ".h5":
        _rewrite_config(legacy_dir / "masked_gru.h5", path, add_lookup)
    else:
        _rewrite_archive_config(legacy_dir / "masked_gru.keras", path, add_lookup)
    _expect_refused_in_safe_mode(path, "vocabulary file")


def _rewrite_archive_config(source, target, edit):
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as copy:
        for entry in archive.infolist():
            data = archive.read(entry)
            if entry.filename == "config.json":
                data = json.dumps(edit(json.loads(data)))
            copy.writestr(entry, data)


@pytest.mark.parametrize("trainable", [True, False])
def test_saved_model_layer_is_refused_in_safe_mode(tmp_path, trainable):
    # `TFSMLayer` loads (and runs) a SavedModel from a path in its config.
    layer = {
        "class_name": "TFSMLayer",
        "config": {"name": "tfsm", "filepath": str(tmp_path), "call_endpoint": "x"},
        "name": "tfsm",
        "inbound_nodes": [],
    }
    if trainable:
        layer["config"]["trainable"] = False

    def add_layer(config):
        config["config"]["layers"].append(layer)
        return config

    _masked_model().save(tmp_path / "model.h5")
    _rewrite_config(tmp_path / "model.h5", tmp_path / "tfsm.h5", add_layer)
    _expect_refused_in_safe_mode(tmp_path / "tfsm.h5", "TFSMLayer")


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"path": 3}, "path"),
        ({"path": b"model.h5"}, "path"),
        ({"custom_objects": ["f"]}, "custom_objects"),
        ({"safe_mode": "no"}, "safe_mode"),
        ({"compile": 1}, "compile"),
    ],
)
def test_wrong_types_raise_type_error(kwargs, name):
    arguments = {"path": "model.h5", **kwargs}
    with pytest.raises(TypeError, match=f"`{name}`"):
        load_model(arguments.pop("path"), **arguments)


def test_unknown_extension_lists_the_supported_ones(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras, \.h5, \.hdf5.*model\.pb"):
        load_model(tmp_path / "model.pb")


def test_directory_raises_value_error(tmp_path):
    (tmp_path / "dir.keras").mkdir()
    with pytest.raises(ValueError, match="directory"):
        load_model(tmp_path / "dir.keras")


# What comes back is what the probe needs


def test_probe_reads_keras2_attention_from_a_loaded_recipe(legacy_dir):
    model = load_model(legacy_dir / "recipe.h5", safe_mode=False)
    result = AttentionProbe(model, layers=["attention_vec"]).predict(
        np.load(legacy_dir / "inputs.npy"), verbose=0
    )
    np.testing.assert_allclose(
        result.outputs, np.load(legacy_dir / "recipe.npy"), atol=1e-5
    )
    np.testing.assert_allclose(
        result.attention["attention_vec"],
        np.load(legacy_dir / "recipe_attention.npy"),
        atol=1e-6,
    )


def test_probe_reads_keras2_multi_head_scores(legacy_dir):
    inputs = np.load(legacy_dir / "inputs.npy")
    model = load_model(legacy_dir / "multi_head.h5")
    result = AttentionProbe(model).predict(inputs, verbose=0)
    np.testing.assert_allclose(
        result.outputs, np.load(legacy_dir / "multi_head.npy"), atol=1e-5
    )
    # Keras 2 spreads the rows of padded queries evenly, the probe zeroes them.
    real = inputs != 0
    expected = np.load(legacy_dir / "multi_head_scores.npy")
    for i, row in enumerate(real):
        np.testing.assert_allclose(
            result.attention["mha"][i][:, row], expected[i][:, row], atol=1e-6
        )


def test_probe_finds_our_layer_in_a_reloaded_h5(tmp_path, tokens):
    model = _masked_model(attention=DotProductAttention(name="attention"))
    model.save(tmp_path / "model.h5")
    expected = AttentionProbe(model).predict(tokens, verbose=0)
    got = AttentionProbe(load_model(tmp_path / "model.h5")).predict(tokens, verbose=0)
    assert list(got.attention) == ["attention"]
    np.testing.assert_allclose(
        got.attention["attention"], expected.attention["attention"], atol=1e-6
    )
    assert np.all(got.attention["attention"][tokens == 0] == 0)
