"""Python code inside model configs: finding it, refusing it, rebuilding it.

Keras saves a lambda (the function of a `Lambda` layer, or a lambda passed as
an activation, ...) as marshalled bytecode: Keras 2 writes `"function":
[code, defaults, closure]` with `"function_type": "lambda"` (likewise
`output_shape`), Keras 3 a `{"class_name": "__lambda__", ...}` object in one
of the layouts `_keras3_code` lists. Loading such a function means running
code from the file, so `find_code` runs on the parsed JSON before anything is
deserialized, and `rebuild_lambdas` only runs when the user passed
`safe_mode=False`.
"""

import base64
import binascii
import builtins
import marshal
import types

from keras_attnviz.saving.legacy.keras2_backend import lambda_globals

# Keras 2 keeps the bytecode under these keys, each with a `*_type` sibling.
_KERAS2_CODE_KEYS = {"function": "function_type", "output_shape": "output_shape_type"}


def _triple(value):
    """`(bytecode, defaults, closure)` from a dumped function `[code, d, c]`."""
    if isinstance(value, list) and len(value) == 3:
        return tuple(value)
    return (value, None, None)


def _keras3_code(value):
    """The `(bytecode, defaults, closure)` of a Keras 3 lambda, else None.

    A `Lambda` layer writes `{"class_name": "__lambda__", "config": {"code":
    ..., "defaults": ..., "closure": ...}}`, other objects `{"class_name":
    "__lambda__", "config": {"value": [...]}}`, and
    `keras.activations.serialize` strips that down to `{"value": [...]}`.
    """
    if not isinstance(value, dict):
        return None
    if value.get("class_name") == "__lambda__":
        inner = value.get("config") or {}
        if "value" in inner:
            return _triple(inner["value"])
        return (inner.get("code"), inner.get("defaults"), inner.get("closure"))
    dumped = value.get("value") if list(value) == ["value"] else None
    # Without the wrapper only the bytes tell code from, e.g., the node
    # reference `{"value": ["gru", 0, 0]}` of a Keras 2 call.
    if isinstance(dumped, list) and len(dumped) == 3 and _is_bytecode(dumped[0]):
        return tuple(dumped)
    return None


def _is_bytecode(text):
    """Whether `text` is base64 of a marshalled code object (read, not run)."""
    if not isinstance(text, str):
        return False
    try:
        head = base64.b64decode(text[:4], validate=True)
    except (ValueError, binascii.Error):
        return False
    # `marshal` starts a code object with "c", flagged 0x80 when referenced.
    return head[:1] in (b"c", b"\xe3")


def _code_sites(node, layer="?"):
    """Yields `(container, key, code, layer)` for each function stored as code.

    `container[key]` holds the function, `code` is the tuple
    `(bytecode, defaults, closure)` and `layer` names the enclosing layer.
    Keras 3 may store a lambda anywhere (a `Lambda`'s function, an
    `activation`, ...), Keras 2 only in `Lambda` layers.
    """
    if isinstance(node, dict):
        config = node.get("config")
        if isinstance(config, dict):
            layer = config.get("name") or node.get("name") or layer
            for key, type_key in _KERAS2_CODE_KEYS.items():
                if config.get(type_key) == "lambda":
                    yield config, key, _triple(config.get(key)), layer
        children = node.items()
    elif isinstance(node, list):
        children = enumerate(node)
    else:
        return
    for key, child in children:
        code = _keras3_code(child)
        if code is None:
            yield from _code_sites(child, layer)
        else:
            yield node, key, code, layer


def find_code(config):
    """Lists the layers of a model config that carry Python bytecode.

    Args:
        config: the model config, parsed from JSON.

    Returns:
        A list of `(layer_name, key)` pairs, e.g. `("lambda", "function")`,
        empty if the config holds no code.
    """
    return [(layer, key) for _, key, _, layer in _code_sites(config)]


def _load_function(code, defaults, closure, globs, where):
    if not isinstance(code, str):
        raise ValueError(
            f"Expected base64-encoded bytecode for {where}. "
            f"Received: {type(code).__name__}."
        )
    try:
        raw = base64.b64decode(code.encode("ascii"), validate=False)
        code_object = marshal.loads(raw)
    except (ValueError, EOFError, TypeError, UnicodeEncodeError, binascii.Error) as e:
        raise ValueError(
            f"Could not read the Python function of {where}: it was saved by a "
            "different Python version or is corrupt. Rebuild that layer in code "
            f"and load the weights only. Received: {type(e).__name__}: {e}"
        ) from e
    if not isinstance(code_object, types.CodeType):
        raise ValueError(
            f"Expected Python bytecode for {where}. "
            f"Received: {type(code_object).__name__}."
        )
    if closure is not None:
        closure = tuple(types.CellType(value) for value in closure)
    if isinstance(defaults, list):
        defaults = tuple(defaults)
    return types.FunctionType(
        code_object, globs, code_object.co_name, defaults, closure
    )


def function_reference(name):
    """The config of a function known by name, as Keras 3 writes it.

    Keras resolves it through `custom_objects` or its registry, never by
    importing a module named in the file.
    """
    return {
        "module": None,
        "class_name": "function",
        "config": name,
        "registered_name": name,
    }


def rebuild_lambdas(config):
    """Turns the bytecode in a model config into functions. Runs file code!

    Only to be called when the user opted in with `safe_mode=False`. Each
    function gets the globals of `keras2_backend.lambda_globals()`, so
    lambdas that use `K`, `backend`, `keras`, `ops`, `np` or `tf` work.

    Args:
        config: the model config, parsed from JSON; rewritten in place so that
            each function is referenced by name.

    Returns:
        A dict from those names to the functions, for `custom_objects`.
    """
    globs = {"__builtins__": builtins, **lambda_globals()}
    functions = {}
    # A list first: the loop rewrites the config it walks.
    for container, key, (code, defaults, closure), layer in list(_code_sites(config)):
        where = f"`{key}` of layer '{layer}'"
        name = f"keras_attnviz>lambda_{len(functions)}"
        functions[name] = _load_function(code, defaults, closure, globs, where)
        container[key] = function_reference(name)
        if isinstance(container, dict) and key in _KERAS2_CODE_KEYS:
            container.pop(_KERAS2_CODE_KEYS[key], None)
    return functions


def refuse_code(found, path):
    """Raises the `safe_mode` error for the layers that `find_code` found.

    Raises:
        ValueError: always, naming the file, the layers and how to opt in.
    """
    layers = ", ".join(f"'{name}' ({key})" for name, key in found)
    raise ValueError(
        f"The model file {path!r} contains Python code (marshalled bytecode of "
        f"lambda functions in layers {layers}). Loading it would run that code, "
        "so it is refused while `safe_mode=True`. If you trust the source of this "
        "file, pass `safe_mode=False` to `load_model`. Nothing from the file "
        "has been run."
    )
