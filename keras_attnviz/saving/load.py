"""`load_model`: `.keras` and `.h5` files (Keras 3 or Keras 2) as Keras 3 models."""

import contextlib
import copy
import json
import os
import stat
import tempfile
import zipfile
import zlib

import h5py
import keras

# Registers our layers, so that files naming them load without custom_objects.
import keras_attnviz.layers  # noqa: F401
from keras_attnviz.saving import hdf5_precheck, training_config, weight_limits
from keras_attnviz.saving.legacy import config_rewrite, lambda_code

_H5_EXTENSIONS = (".h5", ".hdf5")
_EXTENSIONS = (".keras", *_H5_EXTENSIONS)
# The JSON members of a `.keras` archive are read into memory whole; real ones
# are kilobytes, a large model's config a few megabytes.
_MAX_JSON_MEMBER_BYTES = 64 * 2**20
_WEIGHTS_H5 = "model.weights.h5"
# What a weights file may hold besides the weights: HDF5's groups, attributes
# and padding (kilobytes per layer).
_WEIGHTS_FILE_OVERHEAD_BYTES = 64 * 2**20
_WEIGHTS_NPZ = "model.weights.npz"
# Weights of a `.keras` file that Keras reads only when it compiles the model.
_COMPILE_STATE = ("optimizer/", "metrics/", "compile_metrics/", "loss/")

# What reading a damaged zip archive raises, besides `BadZipFile`: CRC and
# inflate errors, unsupported or encrypted members, truncation.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    KeyError,
)
# What Keras raises while it builds a model from a config that is not what
# its classes expect, or reads weights that do not fit: any layer's argument
# checks (TypeError, ValueError, OverflowError for `int(inf)`, ...), its
# lookups, and the readers of the archive and of HDF5 underneath.
_KERAS_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    NotImplementedError,
    *_ZIP_ERRORS,
    *weight_limits.H5_ERRORS,
)


def load_model(
    path,
    *,
    custom_objects=None,
    safe_mode=True,
    compile=False,
    max_weight_bytes=None,
    hdf5_precheck=True,
):
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

    Before any weight is allocated, the memory the weights will take is
    known from the config (built once with every variable deferred) and from
    the shapes the weights file declares (read without its data); beyond
    `max_weight_bytes` the file is refused, as is a weights file whose
    shapes disagree with the config. A small file can declare terabytes.

    A damaged or hostile HDF5 file can hang or crash the HDF5 C library,
    which no Python code can interrupt. So with `hdf5_precheck=True`, the
    HDF5 data (the `.h5` file, or the weights of a `.keras` file) is first
    read in a short-lived subprocess, with a time and a memory limit (see
    `keras_attnviz.saving.hdf5_precheck`); a read that hangs or crashes
    there is refused.

    Args:
        path: str or `os.PathLike`, a `.keras`, `.h5` or `.hdf5` file.
        custom_objects: optional dict from names to the custom classes and
            functions the model uses (classes registered with
            `keras.saving.register_keras_serializable` are found anyway).
        safe_mode: bool. If `True` (default), refuse files that contain Python
            code (lambdas) or make Keras read other files (a lookup layer's
            vocabulary given as a path, a `TFSMLayer`), and files whose
            config cannot be measured before it is built (a layer that makes
            a variable from a concrete value). Only pass `False` for files
            from a trusted source.
        compile: bool. Whether to compile the model with the training
            configuration saved in the file, if it has one. Defaults to
            `False`.
        max_weight_bytes: int, the most memory the model's weights may
            take. Defaults to half of the memory this process can have (the
            machine's, or its cgroup's if lower; see
            `keras_attnviz.saving.weight_limits.default_max_weight_bytes`).
        hdf5_precheck: bool. If `True` (default), read the file's HDF5 data
            in a subprocess first (about 0.3 s per file), which refuses a
            file that makes the HDF5 library hang (beyond
            `hdf5_precheck.time_limit(size)` seconds) or crash, and one that
            refers to other files. Pass `False` only for files from a
            trusted source.

    Returns:
        A `keras.Model`.

    Raises:
        TypeError: if an argument has the wrong type.
        FileNotFoundError: if there is no file at `path`.
        OSError: if the file cannot be read (e.g. no permission).
        ValueError: for an unsupported extension; for a file that is not a
            model, is truncated or corrupt, or names a class or function
            that Keras cannot find (pass it in `custom_objects`); for
            lambdas or paths to other files while `safe_mode=True`; for
            weights larger than `max_weight_bytes`; for HDF5 data that
            hangs or crashes the HDF5 library. The message names the
            file, and the error it comes from is chained.

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
    limit = _check_limit(max_weight_bytes)
    path = _check_arguments(path, custom_objects, safe_mode, compile, hdf5_precheck)
    load = _load_keras_file if path.lower().endswith(".keras") else _load_h5_file
    return load(path, custom_objects, safe_mode, compile, limit, hdf5_precheck)


def _check_limit(max_weight_bytes):
    if max_weight_bytes is None:
        return weight_limits.default_max_weight_bytes()
    if isinstance(max_weight_bytes, bool) or not isinstance(max_weight_bytes, int):
        raise TypeError(
            "`max_weight_bytes` must be an int or None. Received: "
            f"max_weight_bytes={max_weight_bytes!r}"
        )
    if max_weight_bytes < 1:
        raise ValueError(
            "`max_weight_bytes` must be at least 1. Received: "
            f"max_weight_bytes={max_weight_bytes}"
        )
    return max_weight_bytes


def _check_arguments(path, custom_objects, safe_mode, compile, hdf5_precheck):
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
    for name, value in (
        ("safe_mode", safe_mode),
        ("compile", compile),
        ("hdf5_precheck", hdf5_precheck),
    ):
        if not isinstance(value, bool):
            raise TypeError(f"`{name}` must be a bool. Received: {name}={value!r}")
    if not path.lower().endswith(_EXTENSIONS):
        raise ValueError(
            f"`path` must end in one of {', '.join(_EXTENSIONS)}. "
            f"Received: path={path!r}"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    # Looked at before opening: opening a FIFO blocks, a device never ends.
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
        raise ValueError(f"`path` must be a regular file. Received: {kind}, {path!r}")
    # A file we may not read fails here, as the OSError it is.
    with open(path, "rb"):
        pass
    return path


def _parse_json(text, path):
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        raise ValueError(
            f"The configuration in {path!r} is not valid JSON; the file is "
            f"corrupt. Received: {type(e).__name__}: {_shorten(e)}"
        ) from e


def _parse_config(text, path):
    config = _parse_json(text, path)
    if not (isinstance(config, dict) and {"class_name", "config"} <= set(config)):
        raise ValueError(
            "Expected a model config (a JSON object with a `class_name` and a "
            f"`config`) in {path!r}. Received: {str(config)[:80]!r}"
        )
    return config


def _shorten(error, limit=2000):
    """The message of `error`, its middle cut out when it is long."""
    # Keras puts the whole config in some messages, and the cause at the end.
    text = str(error)
    half = limit // 2
    return text if len(text) <= limit else f"{text[:half]} [...] {text[-half:]}"


def _backend_errors():
    """The errors of the backend that are not Python's own (TF's `OpError`)."""
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        return (tf.errors.OpError,)
    # JAX's and PyTorch's are RuntimeErrors.
    return ()


@contextlib.contextmanager
def _keras_errors(path):
    # Keras names the object it could not build or find, not the file; the
    # backend fails on a shape it cannot allocate or compute with.
    try:
        yield
    except (*_KERAS_ERRORS, *_backend_errors()) as e:
        raise ValueError(
            f"Could not load the model saved in {path!r}. "
            f"Received: {type(e).__name__}: {_shorten(e)}"
        ) from e


@contextlib.contextmanager
def _malformed_config_errors(path):
    # Reading a well-formed config raises none of these; a hostile or broken
    # one would otherwise fail with a traceback from deep inside the rewriting.
    # The rewriting's own refusals (`time_major=True`, ...) are ValueErrors
    # that name a layer, not the file.
    try:
        yield
    except ValueError as e:
        if path in str(e):
            raise
        raise ValueError(f"Cannot load the model in {path!r}: {e}") from e
    except (
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        RecursionError,
        OverflowError,
    ) as e:
        raise ValueError(
            f"The model config in {path!r} is malformed. "
            f"Received: {type(e).__name__}: {_shorten(e)}"
        ) from e


@contextlib.contextmanager
def _corrupt_file_errors(path, errors):
    try:
        yield
    except errors as e:
        raise ValueError(
            f"The file {path!r} is corrupt or truncated. "
            f"Received: {type(e).__name__}: {_shorten(e)}"
        ) from e


def _keras_version(value, path):
    """The `keras_version` a file claims, as a str (or None if it has none)."""
    if isinstance(value, bytes):
        with _corrupt_file_errors(path, UnicodeDecodeError):
            value = value.decode("utf-8")
    if value is None or isinstance(value, str):
        return str(value) if value else None
    raise ValueError(
        f"The file {path!r} is corrupt: its `keras_version` must be a string. "
        f"Received: {str(value)[:80]!r} of type {type(value).__name__}"
    )


def _trusted_lambdas(config, path, safe_mode):
    """The functions stored as code in `config`, if the user trusts the file.

    Refuses the file when `safe_mode` is on. Otherwise rewrites `config` to
    refer to the functions by name and returns them, for `custom_objects`.
    """
    found = lambda_code.find_code(config)
    if found and safe_mode:
        lambda_code.refuse_code(found, path)
    return lambda_code.rebuild_lambdas(config) if found else {}


def _read_member(archive, name, path):
    info = archive.getinfo(name)
    if info.file_size > _MAX_JSON_MEMBER_BYTES:
        raise ValueError(
            f"The `{name}` in {path!r} is {weight_limits.readable_size(info.file_size)}"
            f"; expected at most {weight_limits.readable_size(_MAX_JSON_MEMBER_BYTES)}."
        )
    with _corrupt_file_errors(path, _ZIP_ERRORS):
        return archive.read(name)


def _read_keras_archive(path, max_weight_bytes, precheck):
    """The config, `keras_version` and declared weights of a `.keras` file."""
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"The file {path!r} is not a `.keras` archive (a zip file): it is "
            "another kind of file, or truncated."
        )
    with _corrupt_file_errors(path, _ZIP_ERRORS):
        archive = zipfile.ZipFile(path)
    with archive:
        names = archive.namelist()
        if "config.json" not in names:
            raise ValueError(
                f"The file {path!r} holds no model: it has no `config.json`."
            )
        config = _parse_config(_read_member(archive, "config.json", path), path)
        metadata = (
            _parse_json(_read_member(archive, "metadata.json", path), path)
            if "metadata.json" in names
            else {}
        )
        declared = _archive_weights(archive, names, path, max_weight_bytes, precheck)
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    # Both Keras 2 and 3 write the version; without one, Keras 3 has a go.
    return config, _keras_version(version, path) or "3", declared


def _archive_weights(archive, names, path, max_weight_bytes, precheck):
    """The weights a `.keras` archive declares, as `Weight`s; no data is read.

    With `precheck`, the HDF5 weights file is read in a subprocess first,
    every read Keras's `load_model` will do too (a valid CRC does not make
    the member safe: anyone can write one).
    """
    name = _WEIGHTS_H5 if _WEIGHTS_H5 in names else _WEIGHTS_NPZ
    if name not in names:
        # Keras says which file it misses.
        return []
    size = archive.getinfo(name).file_size
    if size > max_weight_bytes + _WEIGHTS_FILE_OVERHEAD_BYTES:
        # Keras reads the whole weights file into memory.
        raise ValueError(
            f"The weights file `{name}` in {path!r} is "
            f"{weight_limits.readable_size(size)}, more than `max_weight_bytes` "
            f"allows ({weight_limits.readable_size(max_weight_bytes)}). If you "
            "trust the file and have the memory, pass a larger "
            "`max_weight_bytes` to `load_model`."
        )
    if precheck and name == _WEIGHTS_H5:
        hdf5_precheck.check_readable(path, name, size)
    with (
        _corrupt_file_errors(path, (*_ZIP_ERRORS, *weight_limits.H5_ERRORS)),
        archive.open(name) as member,
    ):
        if name == _WEIGHTS_NPZ:
            return weight_limits.npz_arrays(member)
        with h5py.File(member, "r") as f:
            return weight_limits.h5_datasets(f)


def _check_weights(path, config, objects, safe_mode, declared, limit, *, compile):
    """Refuses weights beyond the limit or unlike the config, before building."""
    with _malformed_config_errors(path):
        config, states = weight_limits.without_stateful_states(config)
    try:
        with _keras_errors(path):
            variables = weight_limits.config_weights(
                _deserialize(config, objects, safe_mode)
            ) + states
    except weight_limits.NotMeasurable as error:
        if safe_mode:
            raise ValueError(
                f"The model in {path!r} cannot be measured before it is built: "
                "a layer makes a variable from a concrete value (such as "
                "`keras.Variable(array)` in `build()`, rather than "
                "`self.add_weight(shape=..., initializer=...)`), so the memory "
                "its config asks for is only known once allocated. If you trust "
                "the file, pass `safe_mode=False`: then only its weights file is "
                f"held to `max_weight_bytes`. Received: {_shorten(error)}"
            ) from error
        variables = None
    if not compile:
        declared = [w for w in declared if not w.name.startswith(_COMPILE_STATE)]
    weight_limits.check(path, variables, declared, limit, loose=_COMPILE_STATE)


def _deserialize(config, custom_objects, safe_mode):
    """A function that builds the model of `config`, each time from a copy."""
    # Keras changes the config it builds from.
    config = {key: value for key, value in config.items() if key != "compile_config"}
    return lambda: keras.saving.deserialize_keras_object(
        copy.deepcopy(config), custom_objects=custom_objects, safe_mode=safe_mode
    )


def _load_keras_file(
    path, custom_objects, safe_mode, compile, max_weight_bytes, precheck
):
    config, keras_version, declared = _read_keras_archive(
        path, max_weight_bytes, precheck
    )
    keras2 = config_rewrite.is_keras2(keras_version, path)
    with _malformed_config_errors(path):
        lambdas = _trusted_lambdas(config, path, safe_mode)
        if keras2:
            config = config_rewrite.translate(config, keras2=True)
    objects = {**(custom_objects or {}), **lambdas}
    _check_weights(
        path,
        config,
        objects,
        safe_mode,
        declared,
        max_weight_bytes,
        compile=compile and not keras2,
    )
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
    compile_config = config.pop("compile_config", None) if keras2 else None
    with tempfile.TemporaryDirectory() as folder:
        rewritten = os.path.join(folder, "model.keras")
        _copy_archive(path, rewritten, config)
        with _keras_errors(path):
            model = keras.saving.load_model(
                rewritten,
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


def _copy_archive(path, target_path, config):
    with (
        _corrupt_file_errors(path, _ZIP_ERRORS),
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(target_path, "w") as target,
    ):
        for entry in source.infolist():
            if entry.filename == "config.json":
                target.writestr(entry, json.dumps(config))
            else:
                target.writestr(entry, source.read(entry))


def _read_h5_file(path, precheck):
    """The JSON attributes and the declared weights of a `.h5` file.

    With `precheck`, the file is read in a subprocess first, every read done
    here and by `model.load_weights` (see `_load_weights`) too.
    """
    if precheck:
        hdf5_precheck.check_readable(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(
            f"The file {path!r} is not a readable HDF5 file: it is another kind "
            f"of file, or truncated. Received: {e}"
        ) from e
    with f, _corrupt_file_errors(path, weight_limits.H5_ERRORS):
        attrs = {
            key: f.attrs.get(key)
            for key in ("model_config", "keras_version", "training_config")
        }
        # What `load_weights` reads: one group per layer, in `model_weights`.
        weights = weight_limits.hard_child(f, "model_weights") or f
        prefix = "model_weights/" if weights is not f else ""
        declared = weight_limits.h5_datasets(weights, prefix=prefix)
    if attrs["model_config"] is None:
        raise ValueError(
            f"The file {path!r} holds no model: it has no `model_config` "
            "attribute. If it holds weights only, build the model in code and "
            "call `model.load_weights(path)`."
        )
    attrs["keras_version"] = _keras_version(attrs["keras_version"], path)
    return attrs, declared


def _load_h5_file(path, custom_objects, safe_mode, compile, max_weight_bytes, precheck):
    attrs, declared = _read_h5_file(path, precheck)
    config = _parse_config(attrs["model_config"], path)
    with _malformed_config_errors(path):
        lambdas = _trusted_lambdas(config, path, safe_mode)
        config = config_rewrite.translate(
            config, config_rewrite.is_keras2(attrs["keras_version"], path)
        )
    objects = {**(custom_objects or {}), **lambdas}
    model_config = _model_config(config, path)
    _check_weights(
        path,
        model_config,
        objects,
        safe_mode,
        declared,
        max_weight_bytes,
        compile=False,
    )
    model = _build_model(model_config, path, objects, safe_mode)
    _load_weights(model, path)
    if compile and attrs["training_config"] is not None:
        config = _parse_json(attrs["training_config"], path)
        with _keras_errors(path):
            training_config.compile_model(model, config, objects)
    return model


def _load_weights(model, path):
    # Its reads were done in a subprocess first, by `_read_h5_file`.
    try:
        model.load_weights(path)
    except (*_KERAS_ERRORS, *_backend_errors()) as e:
        raise ValueError(
            f"Could not load the weights of the model in {path!r}: the file is "
            "truncated or does not match its model config. "
            f"Received: {type(e).__name__}: {_shorten(e)}"
        ) from e


def _model_config(config, path):
    """The translated config of a `.h5` file, as a plain Keras model."""
    return {
        # Only a model, whatever class or module the file names at the top.
        "module": "keras",
        "class_name": _model_class(config, path),
        "config": config["config"],
        "registered_name": None,
    }


def _build_model(model_config, path, custom_objects, safe_mode):
    """Builds the model of a translated `.h5` config, in Keras's safe mode.

    Keras's public deserializer enters its safe-mode scope, which is what its
    layers consult before reading anything outside the file (a
    `StringLookup` vocabulary given as a file path, a `TFSMLayer`); outside
    that scope they read it.
    """
    with _keras_errors(path):
        return _deserialize(model_config, custom_objects, safe_mode)()


def _model_class(config, path):
    class_name = config["class_name"]
    if not isinstance(class_name, str):
        class_name = repr(class_name)
    if class_name == "Sequential":
        return "Sequential"
    if class_name in ("Functional", "Model"):
        return "Model"
    raise ValueError(
        f"Expected a Sequential or Functional model in {path!r}. "
        f"Received: a model of class {class_name!r}"
    )
