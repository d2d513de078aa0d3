"""How much memory a model file's weights take, known before any is allocated.

Two sources are read without allocating the weights: the model config, built
once with every variable deferred (`keras_internals.deferred_variables`),
which gives each variable's shape and dtype; and the weights file, whose
datasets declare their shapes and dtypes in metadata, read without reading
their data. A file whose weights need more than `max_weight_bytes`, or whose
weights file declares datasets that no variable of its config has (which
Keras would read in full before it notices), is refused before the model is
built for real.
"""

import collections
import copy
import math
import os
import re

import h5py

from keras_attnviz import keras_internals

# What `load_model` allows by default: this share of the memory the process
# can have (the machine's, or its cgroup's if lower).
DEFAULT_MEMORY_SHARE = 0.5
# When neither the machine nor a cgroup says how much memory there is.
_FALLBACK_MEMORY_BYTES = 8 * 2**30

# Errors h5py raises on damaged files: a bad heap or B-tree is a RuntimeError
# or an OSError, a dangling link a KeyError, a wrong type of value elsewhere.
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError)


def available_memory_bytes():
    """The memory this process can have: the machine's, or its cgroup's."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = _meminfo_total() or _FALLBACK_MEMORY_BYTES
    limit = _cgroup_limit()
    return min(total, limit) if limit else total


def _meminfo_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_limit():
    for path in (
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


def default_max_weight_bytes():
    """`load_model`'s default `max_weight_bytes`: half the available memory.

    Example:

    ```python
    from keras_attnviz.saving.weight_limits import default_max_weight_bytes

    print(f"{default_max_weight_bytes() / 2**30:.1f} GiB")
    ```
    """
    return int(available_memory_bytes() * DEFAULT_MEMORY_SHARE)


def readable_size(n):
    """`n` bytes as a short text, e.g. `"3.7 GiB"`."""
    if n < 1024:
        return f"{n} bytes"
    units = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = min(int(math.log(n, 1024)), len(units))
    return f"{n / 1024**power:.1f} {units[power - 1]}"


def dtype_bytes(dtype):
    """Bytes per element of a Keras dtype name (`"float32"`, `"bfloat16"`, ...)."""
    bits = re.search(r"(\d+)", str(dtype))
    return max(1, int(bits.group(1)) // 8) if bits else 1


Weight = collections.namedtuple("Weight", "layer name shape nbytes")
Weight.__doc__ = """A weight of a model: its layer's name, its own, shape and bytes."""


class NotMeasurable(Exception):
    """A config whose variables cannot be created without their memory."""


def config_weights(build):
    """The variables `build()` creates, as `Weight`s, none of them allocated.

    Args:
        build: a function of no arguments that builds the model.

    Raises:
        NotMeasurable: if a layer makes a variable from a concrete value,
            which cannot be deferred.
    """
    with keras_internals.deferred_variables():
        try:
            model = build()
        except ValueError as error:
            if keras_internals.is_concrete_variable_refusal(error):
                raise NotMeasurable(str(error)) from error
            raise
        variables = model.variables
        layers = {
            id(variable): layer.name
            for layer in getattr(model, "layers", [])
            for variable in layer.variables
        }
    return [
        Weight(
            layers.get(id(variable), ""),
            variable.path,
            tuple(int(d) for d in variable.shape),
            math.prod(int(d) for d in variable.shape) * dtype_bytes(variable.dtype),
        )
        for variable in variables
    ]


def without_stateful_states(config):
    """`config` with stateful RNNs made stateless, and what their states take.

    A stateful RNN creates its states from zeros while it is built, which
    cannot be deferred; they are not saved, so the dry build goes without
    them, and their size is bounded from the config: two states (an LSTM's)
    of `units` floats for the largest batch size any input declares.

    Returns:
        `(config copy, [Weight])`.
    """
    config = copy.deepcopy(config)
    batch_sizes = [1]
    stateful = []
    for node in _dicts(config):
        for key in ("batch_shape", "batch_input_shape"):
            shape = node.get(key)
            if isinstance(shape, list) and shape and _is_size(shape[0]):
                batch_sizes.append(shape[0])
        inner = node.get("config")
        if isinstance(inner, dict) and inner.get("stateful") is True:
            inner["stateful"] = False
            stateful.append((str(inner.get("name")), inner.get("units")))
    batch = max(batch_sizes)
    states = [
        Weight(name, f"{name}/rnn_state", (batch, units), 2 * batch * units * 4)
        for name, units in stateful
        if _is_size(units)
    ]
    return config, states


def _is_size(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _dicts(value):
    # Iterative: a config can be nested deeper than Python's recursion limit.
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            yield value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def h5_datasets(group, prefix=""):
    """Every dataset under the h5py `group`, as `Weight`s; no data is read.

    A `.keras` weights file keeps a layer's weights in `layers/<x>/vars`,
    whose `name` attribute is the layer's name; a `.h5` file in its
    `model_weights/<layer name>`.
    """
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            shape = tuple(int(d) for d in (obj.shape or ()))
            found.append(
                Weight(
                    _layer_name(group, name),
                    prefix + name,
                    shape,
                    math.prod(shape) * obj.dtype.itemsize,
                )
            )

    group.visititems(visit)
    return found


def hard_child(group, name):
    """`group[name]` if it is a hard link, else None (never another file)."""
    # Soft and external links can point anywhere, also into other files.
    link = group.get(name, getlink=True)
    return group[name] if isinstance(link, h5py.HardLink) else None


def _layer_name(group, name):
    parts = name.split("/")
    if parts[0] == "layers" and len(parts) > 2:
        layer_group = hard_child(group["layers"], parts[1])
        variables = layer_group and hard_child(layer_group, "vars")
        layer = variables.attrs.get("name") if variables is not None else None
        return layer if isinstance(layer, str) else parts[1]
    return parts[0]


def npz_arrays(file):
    """Every array in the `.npz` file object `file`, as `Weight`s; no data is read."""
    import zipfile

    import numpy as np

    found = []
    with zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(member)
            found.append(
                Weight("", info.filename, shape, math.prod(shape) * dtype.itemsize)
            )
    return found


def check(path, variables, declared, max_weight_bytes, *, loose=()):
    """Refuses a model whose weights exceed the limit or disagree with its config.

    Args:
        path: the model file, for messages.
        variables: the `Weight`s of the config's variables, or `None` when
            they could not be measured (only `declared` is checked then).
        declared: the `Weight`s of the datasets that loading will read.
        max_weight_bytes: the limit.
        loose: name prefixes of datasets (optimizer state) whose shapes need
            only be among the variables', not one per variable.

    Raises:
        ValueError: if either total exceeds `max_weight_bytes`, or a declared
            dataset has a shape that no remaining variable has.
    """
    for what, weights in (("its config", variables), ("its weights file", declared)):
        if not weights:
            continue
        total = sum(weight.nbytes for weight in weights)
        if total > max_weight_bytes:
            largest = max(weights, key=lambda weight: weight.nbytes)
            raise ValueError(
                f"The model in {path!r} needs {readable_size(total)} for its "
                f"weights by {what}, more than `max_weight_bytes` allows "
                f"({readable_size(max_weight_bytes)}). The largest is "
                f"`{largest.name}` of shape {largest.shape} "
                f"({readable_size(largest.nbytes)}). If you trust the file and "
                "have the memory, pass a larger `max_weight_bytes` to "
                "`load_model`."
            )
    if variables is None:
        return
    available = collections.Counter(weight.shape for weight in variables)
    shapes = set(available)
    for weight in sorted(declared, key=lambda weight: -weight.nbytes):
        if weight.name.startswith(tuple(loose)) and (
            weight.shape in shapes or math.prod(weight.shape) <= 1
        ):
            continue
        if available[weight.shape] > 0:
            available[weight.shape] -= 1
            continue
        expected = [w.shape for w in variables if w.layer == weight.layer]
        config_says = (
            f"the config gives layer '{weight.layer}' weights of shapes {expected}"
            if expected
            else "no weight of the config has that shape"
        )
        raise ValueError(
            f"The weights file in {path!r} does not match its model config: "
            f"`{weight.name}` (layer '{weight.layer}') has shape {weight.shape}, "
            f"but {config_says}. The file is corrupt or was edited."
        )
