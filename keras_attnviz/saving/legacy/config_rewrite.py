"""Saved model configs, rewritten so that Keras 3 can build them.

Two kinds of config do not load in Keras 3 as they are:

- Keras 3's own `.h5` ones, when the model has auto-generated ops in its
  graph, such as the `NotEqual` that `Embedding(mask_zero=True)` adds to
  compute the mask it passes on. A `.keras` file records the `module` of
  each layer and op, the `.h5` writer leaves it out, so the loader looks for
  a layer named `NotEqual` and fails. `_add_module` puts the module back:
  the op is rebuilt as itself, each layer as from a `.keras` file.
- Keras 2's (tf.keras <= 2.15, tf-keras; `.h5`, and `.keras` from 2.13 on),
  whose layers take arguments that Keras 3 dropped (`time_major`,
  `input_length`), describe inputs with `batch_input_shape`, name dtype
  policies `Policy`, number the nodes of nested models differently and store
  `Lambda` functions in their own layout. `_translate_keras2_layer` and its
  neighbours map each of those.

Lambda bytecode is not handled here: see `lambda_code`.
"""

import copy
import re

import keras

from keras_attnviz.saving.legacy import keras2_tf_ops
from keras_attnviz.saving.legacy.lambda_code import function_reference

_ANY = object()

# Keras 2 arguments that Keras 3 dropped, with the value that behaves as
# Keras 3 does (`_ANY`: whatever the value); `time_major` is for all layers.
_KERAS2_ONLY_ARGUMENTS = {
    "Embedding": {"input_length": _ANY},
    "Attention": {"causal": False},
    "AdditiveAttention": {"causal": False},
    "MultiHeadAttention": {
        # Shapes the layer was built with; Keras 3 builds it on its call.
        "query_shape": _ANY,
        "key_shape": _ANY,
        "value_shape": _ANY,
        "softmax_robust_masking": False,
    },
}

# Keras 2 layers for TensorFlow functions called on symbolic tensors.
_KERAS2_TF_OP_CLASSES = ("TFOpLambda", "SlicingOpLambda")

# Layers that take TensorFlow string tensors, which only that backend has.
_TENSORFLOW_ONLY_LAYERS = ("TextVectorization", "StringLookup")

# Names under which a model appears as a layer of another model.
_MODEL_CLASSES = {"Functional": "Model", "Model": "Model", "Sequential": "Sequential"}


def is_keras2(keras_version, path):
    """Whether a file's `keras_version` names Keras 2 (else Keras 3).

    Files without a version are taken for Keras 2, which did not always
    write one.

    Raises:
        ValueError: for files written by Keras 1, whose configs differ too
            much to be rewritten.
    """
    major = str(keras_version or "2").split(".", 1)[0]
    if major == "1":
        raise ValueError(
            f"The file {path!r} was written by Keras {keras_version}. Expected "
            "a file written by Keras 2 or 3. Received: `keras_version="
            f"{keras_version!r}`."
        )
    return not major.isdigit() or int(major) < 3


def translate(config, keras2):
    """Rewrites a saved model config into one that Keras 3 builds.

    Args:
        config: the model config of the file, parsed from JSON.
        keras2: whether the file was written by Keras 2 (see `is_keras2`).

    Returns:
        A new config; `config` itself is left as it is.

    Raises:
        ValueError: for a Keras 2 setting that has no Keras 3 equivalent
            (e.g. `time_major=True`), or a layer that needs the TensorFlow
            backend on another one.
    """
    config = copy.deepcopy(config)
    _translate_node(config, keras2)
    return config


def _translate_node(node, keras2):
    if isinstance(node, list):
        for child in node:
            _translate_node(child, keras2)
        return
    if not isinstance(node, dict):
        return
    if "class_name" in node and isinstance(node.get("config"), (dict, list)):
        _translate_object(node, keras2)
    for child in node.values():
        _translate_node(child, keras2)


def _translate_object(obj, keras2):
    class_name = obj["class_name"]
    _check_backend_has(class_name, obj["config"])
    if class_name in _MODEL_CLASSES:
        if keras2 and class_name == "Sequential":
            obj["config"] = _keras2_sequential_config(obj["config"])
        elif keras2:
            _renumber_keras2_nested_model_nodes(obj["config"])
            _rewrite_keras2_nodes(obj["config"])
        for layer in obj["config"].get("layers", []):
            _add_module(layer)
        # Keras 2 `.keras` files name modules of tf_keras or Keras 2.
        if "module" not in obj or keras2:
            obj.update(
                module="keras",
                class_name=_MODEL_CLASSES[class_name],
                registered_name=None,
            )
    elif keras2:
        _translate_keras2_layer(obj)


def _check_backend_has(class_name, config):
    if class_name in _TENSORFLOW_ONLY_LAYERS and keras.backend.backend() != (
        "tensorflow"
    ):
        name = config.get("name") if isinstance(config, dict) else None
        raise ValueError(
            keras2_tf_ops.needs_tensorflow(
                f"Layer {name!r} of this model is a {class_name}, which works "
                "on TensorFlow string tensors"
            )
        )


def _add_module(layer):
    # Every entry gets a `module`. Without one, Keras takes its legacy path for
    # the entry, which cannot find ops and turns string arguments that name a
    # Keras function (e.g. `score="dot"`) into that function; and a hostile
    # file could steer any layer onto that path by leaving out `trainable`.
    class_name = layer["class_name"]
    if "module" in layer or class_name in _MODEL_CLASSES:
        return
    op_module = None if "trainable" in layer["config"] else _op_module(class_name)
    if op_module is not None:
        layer.update(module=op_module, registered_name=class_name)
    elif ">" in class_name:
        # Registered with `register_keras_serializable`: found by that name.
        layer.update(
            module=None,
            class_name=class_name.rsplit(">", 1)[1],
            registered_name=class_name,
        )
    elif hasattr(keras.layers, class_name):
        layer.update(module="keras.layers", registered_name=None)
    else:
        # A custom class saved under its own name: found in `custom_objects`
        # or nowhere, never by importing a module.
        layer.update(module=None, registered_name=class_name)


def _op_module(class_name):
    """The module of the Keras op `class_name` (e.g. `NotEqual`), else None.

    An op's config holds its name and arguments, never `trainable` (which also
    tells the op `Concatenate` from the layer).
    """
    snake_name = re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()
    module = getattr(getattr(keras.ops, snake_name, None), "__module__", "")
    return module if module.startswith("keras.") else None


def _drop_keras2_arguments(class_name, config):
    dropped = {"time_major": False, **_KERAS2_ONLY_ARGUMENTS.get(class_name, {})}
    for name, keras3_behaviour in dropped.items():
        if name not in config:
            continue
        value = config.pop(name)
        if keras3_behaviour is not _ANY and value != keras3_behaviour:
            raise ValueError(
                f"Layer '{config.get('name')}' was saved with `{name}={value!r}`, "
                "which Keras 3 does not support. Expected "
                f"`{name}={keras3_behaviour!r}`. Received: `{name}={value!r}`."
            )


def _translate_keras2_layer(obj):
    config = obj["config"]
    _drop_keras2_arguments(obj["class_name"], config)
    # Keras 2 `.keras` files build layers from one input shape; several Keras 3
    # layers (`MultiHeadAttention`) want more, and are built when called.
    obj.pop("build_config", None)
    if obj["class_name"] == "InputLayer":
        if "batch_input_shape" in config:
            config["batch_shape"] = config.pop("batch_input_shape")
    else:
        # Only an input layer defines the input now (see the Sequential case).
        config.pop("batch_input_shape", None)
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        # A mixed-precision `Policy`; Keras 3 takes its name.
        config["dtype"] = dtype["config"]["name"]
    if obj["class_name"] == "Lambda":
        _translate_keras2_lambda(config)
    if obj["class_name"] in _KERAS2_TF_OP_CLASSES:
        # Refused here, before Keras wraps the layer's own error in another.
        keras2_tf_ops.check_runnable(config.get("function"), config.get("name"))
        obj.update(
            module=None,
            class_name=keras2_tf_ops.TFOpLambda.__name__,
            registered_name=keras.saving.get_registered_name(keras2_tf_ops.TFOpLambda),
        )
    for key in ("layer", "backward_layer"):
        # Wrappers (`Bidirectional`, `TimeDistributed`) deserialize the layer
        # they wrap the Keras 3 way, which needs a `module` that Keras 2 only
        # wrote from 2.13 on.
        inner = config.get(key)
        if isinstance(inner, dict) and "module" not in inner:
            if hasattr(keras.layers, str(inner.get("class_name"))):
                inner.update(module="keras.layers", registered_name=None)


def _translate_keras2_lambda(config):
    for key in ("function", "output_shape"):
        if config.pop(f"{key}_type", None) == "function":
            config[key] = function_reference(config[key])
    config.pop("module", None)
    config.pop("output_shape_module", None)


def _has_own_input_node(layer):
    """Whether Keras 2 gave a nested model a node of its own, saved or not.

    A model built on its own `Input` starts with a node linking that input to
    its outputs; Keras 2 counted it in the node indices of a config, Keras 3
    has no such node.
    """
    if layer["class_name"] in ("Functional", "Model"):
        return True
    layers = (
        layer["config"].get("layers") if layer["class_name"] == "Sequential" else None
    )
    return bool(layers) and layers[0]["class_name"] == "InputLayer"


def _renumber_keras2_nested_model_nodes(config):
    nested = {
        layer["name"]
        for layer in config.get("layers", [])
        if _has_own_input_node(layer)
    }
    if not nested:
        return
    groups = [config.get("input_layers", []), config.get("output_layers", [])]
    for layer in config["layers"]:
        groups.extend(layer.get("inbound_nodes", []))
    for group in groups:
        # A group is a list of `[name, node_index, tensor_index, ...]`, or one.
        for reference in [group] if group and isinstance(group[0], str) else group:
            if reference[0] in nested:
                reference[1] -= 1


def _rewrite_keras2_nodes(config):
    """Rewrites the Keras 2 nodes that Keras 3 reads wrongly, in its layout.

    Keras 3 reads the Keras 2 node layout `[["query", 0, 0, {...}]]` (inbound
    layer, node, tensor, keyword arguments) but passes tensors among the
    keyword arguments on as lists, e.g. the `value` of a
    `MultiHeadAttention()(query, value=value)`, and the nodes of TF-op layers
    (`tf.concat([a, b], axis=1)`) hold such arguments, or a flat
    `["a", 0, 0, {...}]`. Those nodes are rewritten in the Keras 3 layout,
    where tensors are `__keras_tensor__` objects.
    """
    names = {layer["name"] for layer in config.get("layers", [])}

    def is_reference(value):
        return (
            isinstance(value, list)
            and len(value) == 3
            and isinstance(value[0], str)
            and value[0] in names
            and all(isinstance(index, int) for index in value[1:])
        )

    def revive(value):
        if is_reference(value):
            # Keras takes the tensor from `keras_history`; shape and dtype
            # only have to be there.
            return {
                "class_name": "__keras_tensor__",
                "config": {"shape": [], "dtype": "float32", "keras_history": value},
            }
        if isinstance(value, list):
            return [revive(item) for item in value]
        if isinstance(value, dict):
            return {key: revive(item) for key, item in value.items()}
        return value

    for layer in config.get("layers", []):
        is_tf_op = layer["class_name"] in _KERAS2_TF_OP_CLASSES
        nodes = layer.get("inbound_nodes", [])
        for index, node in enumerate(nodes):
            references = [node] if isinstance(node[0], str) else node
            kwargs = references[-1][3] if len(references[-1]) == 4 else {}
            if not is_tf_op and revive(kwargs) == kwargs:
                continue
            inputs = [revive(list(reference[:3])) for reference in references]
            nodes[index] = {
                "args": [inputs[0] if len(inputs) == 1 else inputs],
                "kwargs": revive(kwargs),
            }


def _keras2_sequential_config(config):
    # Keras <= 2.2.2 stored a bare list of layers.
    if isinstance(config, list):
        config = {"name": "sequential", "layers": config}
    layers = config["layers"]
    if layers and layers[0]["class_name"] != "InputLayer":
        first = layers[0]["config"]
        if "batch_input_shape" in first:
            input_config = {"batch_input_shape": first["batch_input_shape"]}
            if isinstance(first.get("dtype"), str):
                input_config["dtype"] = first["dtype"]
            layers.insert(0, {"class_name": "InputLayer", "config": input_config})
    return config
