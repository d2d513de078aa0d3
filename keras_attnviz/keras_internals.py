"""Every use of Keras internals, in one place.

Keras offers no public way to do what these functions do. Each one names the
Keras version it was checked on; when Keras changes, this is the one file to
revisit (the probe's tests fail first).
"""

import contextlib
import threading

import keras
import numpy as np


def keras_mask(tensor):
    """The mask Keras propagated with `tensor`, or `None`."""
    # Checked on Keras 3.15.1: `keras.src.backend.get_keras_mask` (no public
    # alias) reads the mask wherever the backend keeps it; TF tensors hold it
    # as `_keras_mask`, JAX arrays in a side table.
    from keras.src.backend import get_keras_mask

    return get_keras_mask(tensor)


@contextlib.contextmanager
def attention_scores_requested(layer):
    """Makes a `MultiHeadAttention`-family layer compute explicit scores.

    `GroupQueryAttention._compute_attention` reads whether to return scores
    from `self._return_attention_scores` (set by its `call`), and both layers
    refuse scores under flash attention (`self._flash_attention`); for the
    probe's explicit call both are switched for its duration.
    """
    # Checked on Keras 3.15.1 (`multi_head_attention.py`,
    # `grouped_query_attention.py`).
    saved = {
        name: layer.__dict__[name]
        for name in ("_return_attention_scores", "_flash_attention")
        if name in layer.__dict__
    }
    if "_return_attention_scores" in saved:
        object.__setattr__(layer, "_return_attention_scores", True)
    if saved.get("_flash_attention"):
        object.__setattr__(layer, "_flash_attention", False)
    try:
        yield
    finally:
        for name, value in saved.items():
            object.__setattr__(layer, name, value)


@contextlib.contextmanager
def plain_attention(layer):
    """Makes a `GroupQueryAttention` compute as if no scores were asked for."""
    # Checked on Keras 3.15.1: see `attention_scores_requested`.
    if "_return_attention_scores" not in layer.__dict__:
        yield
        return
    saved = layer.__dict__["_return_attention_scores"]
    object.__setattr__(layer, "_return_attention_scores", False)
    try:
        yield
    finally:
        object.__setattr__(layer, "_return_attention_scores", saved)


def compute_attention_method(layer):
    """The `_compute_attention` hook of a `MultiHeadAttention`-family layer.

    Keras's `MultiHeadAttention` and `GroupQueryAttention`, and subclasses such
    as keras-hub's `CachedMultiHeadAttention`, compute the weights in this
    method from the projected query and key and the final attention mask; it
    is documented as the method to override ("Users can override this function
    for customized attention implementation").
    """
    # Checked on Keras 3.15.1 and keras-hub 0.32.0.
    return layer._compute_attention


def is_multi_head_attention(layer):
    """Whether `layer` computes through `_compute_attention` (see above)."""
    return isinstance(
        layer, (keras.layers.MultiHeadAttention, keras.layers.GroupQueryAttention)
    )


@contextlib.contextmanager
def replaced_method(layer, name, function):
    """Replaces `layer.<name>` by `function` on this instance only.

    Keras's `Layer.__call__` looks `call` up on the instance each time, so an
    instance attribute takes effect for every call, traced or eager, until it
    is removed again.
    """
    # Checked on Keras 3.15.1 (`Operation.__call__` reads `self.call`).
    missing = object()
    before = layer.__dict__.get(name, missing)
    object.__setattr__(layer, name, function)
    try:
        yield
    finally:
        if before is missing:
            object.__delattr__(layer, name)
        else:
            object.__setattr__(layer, name, before)


@contextlib.contextmanager
def replaced_ops_function(name, function):
    """Replaces `keras.ops.<name>` for the duration of the block.

    Layers written with `from keras import ops` (keras-hub's, users') look the
    function up on `keras.ops` at each call; Keras's own layers use another
    namespace and are unaffected.
    """
    # Checked on Keras 3.15.1: `keras.ops` is the public module object.
    before = getattr(keras.ops, name)
    setattr(keras.ops, name, function)
    try:
        yield before
    finally:
        setattr(keras.ops, name, before)


def is_functional(model):
    """Whether `model` is a Functional model (or a subclass, as keras-hub's)."""
    # Checked on Keras 3.15.1: `Functional` is not exported; Sequential models
    # are Functional once built, and keras-hub's backbones subclass it.
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def direct_sublayers(layer):
    """The layers that `layer` holds directly, in the order they were set."""
    # Checked on Keras 3.15.1: the tracker keeps them in `_layers`; the public
    # `Model.layers` exists only on models.
    return list(getattr(layer, "_layers", ()))


def scores_requested(layer):
    """Whether the running call of a `GroupQueryAttention` asked for scores."""
    # Checked on Keras 3.15.1: see `attention_scores_requested`.
    return bool(layer.__dict__.get("_return_attention_scores", False))


@contextlib.contextmanager
def deferred_variables():
    """Variables created inside get a shape and dtype but no memory.

    Used to learn what a model config would allocate before building it.
    Models built inside must not be used for anything but their variables'
    shapes and dtypes.
    """
    # Checked on Keras 3.15.1: inside a `StatelessScope`, a `KerasVariable`
    # with a callable initializer defers its initialization and is listed in
    # the global attribute "uninitialized_variables"; the next scope that exits
    # with `initialize_variables=True` would allocate every listed variable,
    # so the list is put back as it was.
    from keras.src.backend.common import global_state

    before = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", before)


def is_concrete_variable_refusal(error):
    """Whether `error` is Keras refusing a variable made from a value, deferred.

    Inside `deferred_variables`, a layer that makes a variable from a
    concrete value (`keras.Variable(numpy_array)`, not `add_weight` with an
    initializer) cannot defer it, and Keras refuses.
    """
    # Checked on Keras 3.15.1: `KerasVariable.__init__` raises this
    # `ValueError` inside a `StatelessScope` when its initial value is not
    # callable; no exception class of its own.
    return isinstance(error, ValueError) and (
        "create a variable while in a stateless scope" in str(error)
    )


_fused_patch_lock = threading.Lock()
_fused_patch_users = 0
_fused_collectors = threading.local()


@contextlib.contextmanager
def fused_attention_weights_collected():
    """Collects the weights TensorFlow's `dot_product_attention` applies inside.

    Yields a list that receives the `(B, N, T, S)` softmax of every
    `keras.ops.dot_product_attention` computed in the block, in this thread,
    on the TensorFlow backend of the Keras version checked; elsewhere it
    stays empty and nothing changes. The kernel's output is unchanged: the
    replacement runs the same operations in the same order and only hands
    the softmax on.
    """
    collected = []
    # Checked on Keras 3.15.1: `keras.src.backend.tensorflow.nn.
    # dot_product_attention` has no fused kernel (flash attention raises); it
    # repeats grouped key/value heads, then calls the module function
    # `_dot_product_attention_xla(query, key, value, bias, mask, is_causal,
    # scale)`: einsum, cast to float32, scale, bias, `_apply_masks`, softmax in
    # float32, cast to the key's dtype, einsum.
    if keras.backend.backend() != "tensorflow" or keras.version() != "3.15.1":
        yield collected
        return
    from keras.src.backend.tensorflow import nn

    global _fused_patch_users
    with _fused_patch_lock:
        if _fused_patch_users == 0:
            original = nn._dot_product_attention_xla
            nn._dot_product_attention_xla = _collecting_attention(nn, original)
        _fused_patch_users += 1
    stack = _fused_collectors.__dict__.setdefault("stack", [])
    stack.append(collected)
    try:
        yield collected
    finally:
        stack.pop()
        with _fused_patch_lock:
            _fused_patch_users -= 1
            if _fused_patch_users == 0:
                nn._dot_product_attention_xla = nn._dot_product_attention_xla.original


def _collecting_attention(nn, original):
    """`_dot_product_attention_xla` that hands its softmax to the collector."""
    import tensorflow as tf

    def attention(query, key, value, bias, mask, is_causal, scale):
        stack = _fused_collectors.__dict__.get("stack")
        if not stack:
            return original(query, key, value, bias, mask, is_causal, scale)
        logits_dtype = keras.backend.result_type(query.dtype, "float32")
        logits = tf.einsum("BTNH,BSNH->BNTS", query, key, optimize="optimal")
        logits = tf.multiply(
            tf.cast(logits, logits_dtype), tf.cast(scale, logits_dtype)
        )
        if bias is not None:
            logits = tf.add(logits, tf.cast(bias, logits.dtype))
        logits = nn._apply_masks(logits, mask, is_causal)
        probs_dtype = keras.backend.result_type(logits.dtype, "float32")
        probs = tf.cast(tf.nn.softmax(tf.cast(logits, probs_dtype), axis=-1), key.dtype)
        stack[-1].append(probs)
        return tf.einsum("BNTS,BSNH->BTNH", probs, value, optimize="optimal")

    attention.original = original
    return attention


# Dtypes that TensorFlow hands to NumPy through DLPack. Others are copied:
# bfloat16 is refused ("Unsupported dtype in DLTensor"), and a string tensor
# aborts the process (TensorFlow 2.21: `Check failed:
# DataTypeCanUseMemcpy(dtype())`), so only these are ever viewed.
_VIEWABLE_DTYPES = frozenset(
    ["bool", "float16", "float32", "float64"]
    + [f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)]
)


def predict_on_batch_views(model, x):
    """`model.predict_on_batch(x)`, its NumPy outputs read-only where it can.

    Under TensorFlow, `predict_on_batch` copies every output into a new array
    (`Tensor.numpy()`); for a caller that copies the outputs again at once,
    that first copy is waste: BERT's weights are 64 MiB a batch of 64, and
    those copies took 0.17-0.94 s of a 1.0-1.3 s `predict`. Here the same
    compiled function runs, and each dense tensor on the CPU, of numbers or
    booleans, is viewed through DLPack instead (no copy; the view keeps the
    tensor alive). Other backends, and other outputs, as `predict_on_batch`.
    """
    # Checked on Keras 3.15.1: the TensorFlow trainer's `predict_on_batch` is
    # `make_predict_function()`, then `predict_function([(x,)])`, then
    # `convert_to_np_if_not_ragged` on every output (ragged and sparse
    # tensors are left as they are).
    if keras.backend.backend() != "tensorflow" or keras.version() != "3.15.1":
        return model.predict_on_batch(x)
    import tensorflow as tf
    from keras.src.backend.tensorflow.trainer import convert_to_np_if_not_ragged

    def as_numpy(tensor):
        if (
            isinstance(tensor, tf.Tensor)
            and tensor.dtype.name in _VIEWABLE_DTYPES
            and tf.DeviceSpec.from_string(tensor.device).device_type == "CPU"
        ):
            return np.from_dlpack(tensor)
        return convert_to_np_if_not_ragged(tensor)

    model.make_predict_function()
    return keras.tree.map_structure(as_numpy, model.predict_function([(x,)]))
