"""`load_model`: `.keras` and `.h5` files (Keras 3 or Keras 2) as Keras 3 models."""

import contextlib
import json
import os
import tempfile
import zipfile

import keras

# Registers our layers, so that files naming them load without custom_objects.
import keras_attnviz.layers  # noqa: F401
from keras_attnviz.saving import training_config
from keras_attnviz.saving.legacy import config_rewrite, lambda_code

_H5_EXTENSIONS = (".h5", ".hdf5")
_EXTENSIONS = (".keras", *_H5_EXTENSIONS)


def load_model(path, *, custom_objects=None, safe_mode=True, compile=False):
    """Loads a saved model as a Keras 3 model, also from Keras 2 and `.h5` files.

    Keras 3 `.keras` files go to `keras.saving.load_model`. Files that plain
    Keras 3 cannot load are read here: Keras 3 `.h5` files with
    auto-generated ops in their graph (such as the mask of
    `Embedding(mask_zero=True)`), and Keras 2 files, `.h5` or `.keras`
    (tf.keras <= 2.15, tf-keras), whose configs carry arguments Keras 3
    dropped (`time_major`, ...), old input shapes and dtype policies. The
    config is rewritten for Keras 3, the model built with Keras 3 and given
    the file's weights: it predicts what the saved model did.

    A lambda (the function of a `Lambda` layer, or a lambda activation) is
    stored as Python bytecode, which runs when the model is loaded. Files that
    hold any are refused unless `safe_mode=False`, before anything from them
    is deserialized. With `safe_mode=False`, lambdas find the globals they
    commonly use: `K` and `backend` (the Keras 2 backend functions, on
    `keras.ops`), `keras`, `ops`, `np` and `tf`.

    Args:
        path: str or `os.PathLike`, a `.keras`, `.h5` or `.hdf5` file.
        custom_objects: optional dict from names to the custom classes and
            functions the model uses (classes registered with
            `keras.saving.register_keras_serializable` are found anyway).
        safe_mode: bool. If `True` (default), refuse files that contain Python
            code (lambdas) or make Keras read other files (a lookup layer's
            vocabulary given as a path, a `TFSMLayer`). Only pass `False`
            for files from a trusted source.
        compile: bool. Whether to compile the model with the training
            configuration saved in the file, if it has one. Defaults to
            `False`.

    Returns:
        A `keras.Model`.

    Raises:
        TypeError: if an argument has the wrong type.
        FileNotFoundError: if there is no file at `path`.
        ValueError: for an unsupported extension; for a file that is not a
            model, is truncated or corrupt, or names a class or function
            that Keras cannot find (pass it in `custom_objects`); for
            lambdas or paths to other files while `safe_mode=True`. The
            message names the file.

    Example:

    ```python
    import keras
    import keras_attnviz

    # A model saved in the `.h5` format, with a `Lambda` layer.
    ids = keras.Input((None,), dtype="int32")
    states = keras.layers.Embedding(100, 8, mask_zero=True)(ids)
    context = keras_attnviz.AdditiveAttention(name="attention")(states)
    doubled = keras.layers.Lambda(lambda x: 2.0 * x)(context)
    keras.Model(ids, keras.layers.Dense(1)(doubled)).save("old_model.h5")

    # The file holds Python code (the lambda), so it loads only if you trust it.
    model = keras_attnviz.load_model("old_model.h5", safe_mode=False)
    ```
    """
    path = _check_arguments(path, custom_objects, safe_mode, compile)
    if path.lower().endswith(".keras"):
        return _load_keras_file(path, custom_objects, safe_mode, compile)
    return _load_h5_file(path, custom_objects, safe_mode, compile)


def _check_arguments(path, custom_objects, safe_mode, compile):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "`path` must be a str or an `os.PathLike`. "
            f"Received: path={path!r} of type {type(path).__name__}"
        )
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"`path` must name a file with a str. Received: path={path!r}")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(
            "`custom_objects` must be a dict or None. "
            f"Received: custom_objects of type {type(custom_objects).__name__}"
        )
    for name, value in (("safe_mode", safe_mode), ("compile", compile)):
        if not isinstance(value, bool):
            raise TypeError(f"`{name}` must be a bool. Received: {name}={value!r}")
    if not path.lower().endswith(_EXTENSIONS):
        raise ValueError(
            f"`path` must end in one of {', '.join(_EXTENSIONS)}. "
            f"Received: path={path!r}"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    if not os.path.isfile(path):
        raise ValueError(f"`path` must be a file. Received: a directory, {path!r}")
    return path


def _parse_json(text, path):
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        raise ValueError(
            f"The configuration in {path!r} is not valid JSON; the file is "
            f"corrupt. Received: {type(e).__name__}: {str(e)[:200]}"
        ) from e


def _parse_config(text, path):
    config = _parse_json(text, path)
    if not (isinstance(config, dict) and {"class_name", "config"} <= set(config)):
        raise ValueError(
            "Expected a model config (a JSON object with a `class_name` and a "
            f"`config`) in {path!r}. Received: {str(config)[:80]!r}"
        )
    return config


@contextlib.contextmanager
def _keras_errors(path):
    # Keras names the object it could not build or find, not the file.
    try:
        yield
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise ValueError(
            f"Could not load the model saved in {path!r}. "
            f"Received: {type(e).__name__}: {e}"
        ) from e


@contextlib.contextmanager
def _malformed_config_errors(path):
    # Reading a well-formed config raises none of these; a hostile or broken
    # one would otherwise fail with a traceback from deep inside the rewriting.
    try:
        yield
    except (TypeError, KeyError, AttributeError, IndexError, RecursionError) as e:
        raise ValueError(
            f"The model config in {path!r} is malformed. "
            f"Received: {type(e).__name__}: {str(e)[:200]}"
        ) from e


def _trusted_lambdas(config, path, safe_mode):
    """The functions stored as code in `config`, if the user trusts the file.

    Refuses the file when `safe_mode` is on. Otherwise rewrites `config` to
    refer to the functions by name and returns them, for `custom_objects`.
    """
    found = lambda_code.find_code(config)
    if found and safe_mode:
        lambda_code.refuse_code(found, path)
    return lambda_code.rebuild_lambdas(config) if found else {}


def _read_keras_archive(path):
    """The model config and the `keras_version` of a `.keras` file."""
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"The file {path!r} is not a `.keras` archive (a zip file): it is "
            "another kind of file, or truncated."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            config = _parse_config(archive.read("config.json"), path)
            names = archive.namelist()
            metadata = (
                _parse_json(archive.read("metadata.json"), path)
                if "metadata.json" in names
                else {}
            )
    except KeyError as e:
        raise ValueError(
            f"The file {path!r} holds no model: it has no `config.json`."
        ) from e
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"The file {path!r} is corrupt. Received: {e}") from e
    # Both Keras 2 and 3 write the version; without one, Keras 3 has a go.
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    return config, version or "3"


def _load_keras_file(path, custom_objects, safe_mode, compile):
    config, keras_version = _read_keras_archive(path)
    keras2 = config_rewrite.is_keras2(keras_version, path)
    with _malformed_config_errors(path):
        lambdas = _trusted_lambdas(config, path, safe_mode)
        if keras2:
            config = config_rewrite.translate(config, keras2=True)
    if not (lambdas or keras2):
        with _keras_errors(path):
            return keras.saving.load_model(
                path,
                custom_objects=custom_objects,
                compile=compile,
                safe_mode=safe_mode,
            )
    # Keras 3 cannot read a Keras 2 config, and would rebuild lambdas without
    # the globals they use (`ops`, `keras`, ...): it loads a copy of the
    # archive with the config rewritten here, which names the rebuilt
    # functions instead of holding their code.
    objects = {**(custom_objects or {}), **lambdas}
    compile_config = config.pop("compile_config", None) if keras2 else None
    with tempfile.TemporaryDirectory() as folder:
        copy = os.path.join(folder, "model.keras")
        _copy_archive(path, copy, config)
        with _keras_errors(path):
            model = keras.saving.load_model(
                copy,
                custom_objects=objects,
                compile=compile and not keras2,
                safe_mode=safe_mode,
            )
    if compile and compile_config:
        # The same Keras 2 objects as in an `.h5` training config.
        compile_config["optimizer_config"] = compile_config.pop("optimizer", None)
        with _keras_errors(path):
            training_config.compile_model(model, compile_config, objects)
    return model


def _copy_archive(path, copy, config):
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
            for entry in source.infolist():
                if entry.filename == "config.json":
                    target.writestr(entry, json.dumps(config))
                else:
                    target.writestr(entry, source.read(entry))
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"The file {path!r} is corrupt. Received: {e}") from e


def _read_h5_attributes(path):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            attrs = {
                key: f.attrs.get(key)
                for key in ("model_config", "keras_version", "training_config")
            }
    except OSError as e:
        raise ValueError(
            f"The file {path!r} is not a readable HDF5 file: it is another kind "
            f"of file, or truncated. Received: {e}"
        ) from e
    if attrs["model_config"] is None:
        raise ValueError(
            f"The file {path!r} holds no model: it has no `model_config` "
            "attribute. If it holds weights only, build the model in code and "
            "call `model.load_weights(path)`."
        )
    version = attrs["keras_version"]
    attrs["keras_version"] = version.decode() if isinstance(version, bytes) else version
    return attrs


def _load_h5_file(path, custom_objects, safe_mode, compile):
    attrs = _read_h5_attributes(path)
    config = _parse_config(attrs["model_config"], path)
    with _malformed_config_errors(path):
        lambdas = _trusted_lambdas(config, path, safe_mode)
        config = config_rewrite.translate(
            config, config_rewrite.is_keras2(attrs["keras_version"], path)
        )
    objects = {**(custom_objects or {}), **lambdas}
    model = _build_model(config, path, objects, safe_mode)
    _load_weights(model, path)
    if compile and attrs["training_config"] is not None:
        config = _parse_json(attrs["training_config"], path)
        with _keras_errors(path):
            training_config.compile_model(model, config, objects)
    return model


def _load_weights(model, path):
    try:
        model.load_weights(path)
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(
            f"Could not load the weights of the model in {path!r}: the file is "
            f"truncated or does not match its model config. Received: {e}"
        ) from e


def _build_model(config, path, custom_objects, safe_mode):
    """Builds the model of a translated `.h5` config, in Keras's safe mode.

    Keras's public deserializer enters its safe-mode scope, which is what its
    layers consult before reading anything outside the file (a
    `StringLookup` vocabulary given as a file path, a `TFSMLayer`); outside
    that scope they read it.
    """
    model_config = {
        # Only a model, whatever class or module the file names at the top.
        "module": "keras",
        "class_name": _model_class(config, path),
        "config": config["config"],
        "registered_name": None,
    }
    with _keras_errors(path):
        return keras.saving.deserialize_keras_object(
            model_config, custom_objects=custom_objects, safe_mode=safe_mode
        )


def _model_class(config, path):
    class_name = config["class_name"]
    if class_name == "Sequential":
        return "Sequential"
    if class_name in ("Functional", "Model"):
        return "Model"
    raise ValueError(
        f"Expected a Sequential or Functional model in {path!r}. "
        f"Received: a model of class {class_name!r}"
    )
