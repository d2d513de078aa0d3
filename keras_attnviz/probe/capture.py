"""Hooks that record attention weights while a model runs.

While the probe's model runs (traced once by `predict`, or eagerly), the
layers of the model's `Site`s call through these hooks, which record each
attention computation in a `Recorder` and return what the layer would have
returned, so the model computes as without them. Outside the probe's forward
pass no hook is installed: the user's model is left exactly as it was.
"""

import contextlib
import dataclasses
import inspect
import math
import threading

import keras
from keras import ops

from keras_attnviz import keras_internals
from keras_attnviz.probe import discovery


@dataclasses.dataclass
class Capture:
    """One recorded attention computation (symbolic or eager tensors).

    Attributes:
        site: the `Site` whose weights these are.
        weights: `(B, T)`, `(B, Tq, Tk)` or `(B, heads, Tq, Tk)`.
        applied_mask: the boolean mask the layer applied, broadcastable to the
            weights (`True` = attend), or `None`.
        key_mask: the `(B, Tk)` key mask the layer received, or `None`.
        query_mask: the `(B, Tq)` query mask the layer received, or `None`.
        causal: whether the layer was asked for a causal mask.
        self_attention: whether the queries are the keys.
        mismatch: for weights the probe computed beside a fused kernel, the
            `(B,)` largest difference between the kernel's output and the
            weights applied to the values, relative to the output's scale;
            `None` otherwise.
    """

    site: object
    weights: object
    applied_mask: object = None
    key_mask: object = None
    query_mask: object = None
    causal: bool = False
    self_attention: bool = False
    mismatch: object = None


@dataclasses.dataclass
class _Running:
    site: object
    self_attention: bool


class Recorder:
    """The captures of one forward pass, and the layers running right now.

    Args:
        selected: `id`s of the sites whose captures to keep.
    """

    def __init__(self, selected):
        self.selected = selected
        self.captures = []
        self.running = []
        # `keras.ops` is patched for every thread while the probe runs; only
        # calls from the probe's own thread are its model's.
        self._thread = threading.get_ident()

    def add(self, capture):
        if id(capture.site) in self.selected:
            self.captures.append(capture)

    def innermost(self):
        if threading.get_ident() != self._thread or not self.running:
            return None
        return self.running[-1]

    @contextlib.contextmanager
    def inside(self, site, self_attention):
        self.running.append(_Running(site, self_attention))
        try:
            yield
        finally:
            self.running.pop()


@contextlib.contextmanager
def recording(sites, recorder):
    """Installs the hooks of every site for the duration of the block."""
    with contextlib.ExitStack() as stack:
        for layer, name, hook in _hooks(sites, recorder):
            stack.enter_context(keras_internals.replaced_method(layer, name, hook))
        fused = keras.ops.dot_product_attention
        stack.enter_context(
            keras_internals.replaced_ops_function(
                "dot_product_attention", _fused_hook(fused, recorder)
            )
        )
        yield


def _hooks(sites, recorder):
    """`(layer, method name, replacement)` for every hook the sites need."""
    hooks = []
    for site in sites:
        layer = site.layer
        if site.kind == discovery.MULTI_HEAD:
            hooks.append((layer, "call", _running_call(site, recorder, layer.call)))
            hooks.append(
                (layer, "_compute_attention", _multi_head_hook(site, recorder))
            )
        elif site.kind == discovery.SCORES:
            hooks.append((layer, "call", _scores_hook(site, recorder, layer.call)))
        elif site.kind == discovery.SOFTMAX:
            hooks.append((layer, "call", _running_call(site, recorder, layer.call)))
            for softmax in keras_internals.direct_sublayers(layer):
                if isinstance(softmax, keras.layers.Softmax):
                    hook = _softmax_hook(site, recorder, softmax.call)
                    hooks.append((softmax, "call", hook))
        elif site.kind == discovery.OUTPUT:
            hooks.append((layer, "call", _output_hook(site, recorder, layer.call)))
        elif site.kind == discovery.FRAME:
            hooks.append((layer, "call", _running_call(site, recorder, layer.call)))
    return hooks


def _running_call(site, recorder, call):
    """Notes that `site` runs, so that what runs inside it is its own."""
    signature = inspect.signature(call)

    def hooked(*args, **kwargs):
        with recorder.inside(site, _queries_are_keys(signature, args, kwargs)):
            return call(*args, **kwargs)

    return hooked


def _queries_are_keys(signature, args, kwargs):
    """Whether one call attends a sequence to itself.

    A `MultiHeadAttention`-style call is self-attention when its query is its
    value (and key); any other layer when it receives one sequence, a float
    tensor of rank 3 or more, and no second one to attend to (a mask, of
    booleans or integers, is no sequence).
    """
    try:
        bound = signature.bind(*args, **kwargs).arguments
    except TypeError:
        return False
    if "query" in bound and "value" in bound:
        key = bound.get("key")
        return bound["query"] is bound["value"] and (
            key is None or key is bound["value"]
        )
    sequences = [
        x
        for x in keras.tree.flatten(list(bound.values()))
        if len(getattr(x, "shape", ())) >= 3
        and "float" in keras.backend.standardize_dtype(x.dtype)
    ]
    return len(sequences) == 1


def _scores_hook(site, recorder, call):
    """A layer that returns its weights when asked: ask it, every time."""
    signature = inspect.signature(call)

    def hooked(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        wants_scores = bound.arguments.get("return_attention_scores", False)
        found = discovery.AttentionCall(bound.arguments)
        bound.arguments["return_attention_scores"] = True
        with recorder.inside(site, found.self_attention):
            outputs, scores = call(*bound.args, **bound.kwargs)
        recorder.add(
            Capture(
                site,
                scores,
                key_mask=found.key_mask,
                query_mask=found.query_mask,
                causal=found.causal,
                self_attention=found.self_attention,
            )
        )
        return (outputs, scores) if wants_scores else outputs

    return hooked


def _multi_head_hook(site, recorder):
    """`_compute_attention` of a `MultiHeadAttention`-family layer.

    It receives the projected query, key and value and the final attention
    mask (the padding, causal and explicit masks merged), so the weights and
    the mask recorded are exactly the ones the layer applies. The layer first
    computes as the model asked; on its explicit path (dropout, attention
    over more than one axis, or scores asked for) it returns the weights it
    applied along with its output. Only when it took the fused kernel is it
    asked again, for scores: Keras then leaves the kernel for an explicit
    softmax, which rounds differently and differs at queries with no key to
    attend to (the fused kernel gives them the mean of the values, the
    softmax zeros), so the outputs stay the fused kernel's, exactly
    `model.predict`'s. On TensorFlow the kernel is itself a softmax, which
    hands its weights on (`keras_internals.fused_attention_weights_collected`),
    and no second computation is needed; queries with no key get zeros there
    too.
    """
    layer = site.layer
    compute = keras_internals.compute_attention_method(layer)
    signature = inspect.signature(compute)

    def hooked(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        wants_scores = arguments.get(
            "return_attention_scores",
            keras_internals.scores_requested(layer),
        )
        with contextlib.ExitStack() as stack:
            if wants_scores:
                stack.enter_context(keras_internals.attention_scores_requested(layer))
            else:
                stack.enter_context(keras_internals.plain_attention(layer))
            if "return_attention_scores" in arguments:
                arguments["return_attention_scores"] = wants_scores
            fused = stack.enter_context(
                keras_internals.fused_attention_weights_collected()
            )
            outputs, scores = compute(*bound.args, **bound.kwargs)
        if scores is None and len(fused) == 1:
            scores = _zero_rows_without_keys(fused[0], arguments.get("attention_mask"))
        if scores is None:  # a fused kernel ran that hands no weights on
            with keras_internals.attention_scores_requested(layer):
                if "return_attention_scores" in arguments:
                    arguments["return_attention_scores"] = True
                _, scores = compute(*bound.args, **bound.kwargs)
        running = recorder.innermost()
        recorder.add(
            Capture(
                site,
                scores,
                applied_mask=arguments.get("attention_mask"),
                causal=bool(arguments.get("use_causal_mask", False)),
                self_attention=running is not None
                and running.site is site
                and running.self_attention,
            )
        )
        return outputs, (scores if wants_scores else None)

    return hooked


def _zero_rows_without_keys(weights, attention_mask):
    """The kernel's `(B, N, T, S)` weights, zero at queries with no key.

    The kernel spreads such a query evenly over the keys; the layer's own
    softmax, which it computes when asked for scores, gives it zeros, and so
    does the probe, whichever of the two ran.
    """
    if attention_mask is None:
        return weights
    has_key = ops.any(ops.cast(attention_mask, "bool"), axis=-1, keepdims=True)
    while len(has_key.shape) < len(weights.shape):
        has_key = ops.expand_dims(has_key, axis=1)
    return ops.where(has_key, weights, ops.zeros((), weights.dtype))


def _softmax_hook(site, recorder, call):
    """The `Softmax` of an attention layer: its output is the weights."""

    def hooked(inputs, mask=None, **kwargs):
        weights = call(inputs, mask=mask, **kwargs)
        running = recorder.innermost()
        if running is not None and running.site is site:
            recorder.add(
                Capture(
                    site,
                    weights,
                    applied_mask=mask,
                    self_attention=running.self_attention,
                )
            )
        return weights

    return hooked


def _output_hook(site, recorder, call):
    """A layer named by the user, whose output is attention weights."""

    def hooked(*args, **kwargs):
        outputs = call(*args, **kwargs)
        recorder.add(Capture(site, outputs))
        return outputs

    return hooked


def _fused_hook(fused, recorder):
    """`keras.ops.dot_product_attention`, recording the weights it applies.

    The output is the fused kernel's own. On TensorFlow the kernel hands on
    the softmax it applies. Elsewhere the weights are computed beside it
    with the same definition (scaled dot products, soft cap, bias, mask,
    causal mask, one key head shared by a group of query heads), and the
    probe checks, per sample, that they reproduce the kernel's output.
    """

    def hooked(query, key, value, bias=None, mask=None, scale=None, **kwargs):
        options = {"bias": bias, "mask": mask, "scale": scale, **kwargs}
        with keras_internals.fused_attention_weights_collected() as applied:
            outputs = fused(query, key, value, **options)
        running = recorder.innermost()
        if running is None or running.site.kind not in (
            discovery.FRAME,
            discovery.SOFTMAX,
        ):
            return outputs
        is_causal = bool(kwargs.get("is_causal", False))
        if len(applied) == 1:  # the kernel's own softmax (TensorFlow)
            weights, mismatch = applied[0], None
        else:
            weights, expanded_value = fused_attention_weights(
                query,
                key,
                value,
                bias=bias,
                mask=mask,
                scale=scale,
                is_causal=is_causal,
                soft_cap=kwargs.get("attn_logits_soft_cap"),
            )
            mismatch = _relative_difference(
                outputs, ops.einsum("bnts,bsnh->btnh", weights, expanded_value)
            )
        recorder.add(
            Capture(
                running.site,
                weights,
                applied_mask=mask,
                causal=is_causal,
                self_attention=running.self_attention,
                mismatch=mismatch,
            )
        )
        return outputs

    return hooked


def fused_attention_weights(
    query,
    key,
    value,
    *,
    bias=None,
    mask=None,
    scale=None,
    is_causal=False,
    soft_cap=None,
):
    """The weights `keras.ops.dot_product_attention` applies, computed outright.

    Args:
        query: `(B, T, N, H)`.
        key: `(B, S, K, H)`; `N` must be a multiple of `K` (grouped queries).
        value: `(B, S, K, H)`.
        bias, mask, scale, is_causal, soft_cap: as in
            `keras.ops.dot_product_attention` (`soft_cap` is its
            `attn_logits_soft_cap`).

    Returns:
        `(weights, value)`: the `(B, N, T, S)` weights, in the dtype of `key`,
        and the value with its heads repeated to `N`.
    """
    heads, key_heads = query.shape[2], key.shape[2]
    if heads != key_heads:
        key = ops.repeat(key, heads // key_heads, axis=2)
        value = ops.repeat(value, heads // key_heads, axis=2)
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    logits = ops.einsum(
        "btnh,bsnh->bnts", ops.cast(query, "float32"), ops.cast(key, "float32")
    )
    logits = logits * scale
    if soft_cap is not None:
        logits = ops.tanh(logits / soft_cap) * soft_cap
    if bias is not None:
        logits = logits + ops.cast(bias, "float32")
    keep = None
    if mask is not None:
        keep = ops.cast(mask, "bool")
    if is_causal:
        length, key_length = ops.shape(logits)[2], ops.shape(logits)[3]
        causal = ops.tril(ops.ones((length, key_length), "bool"))
        keep = causal if keep is None else ops.logical_and(keep, causal)
    if keep is not None:
        # Keras's kernels put a large negative number, not -inf, at masked
        # logits, so a query with no key left spreads its weight evenly.
        logits = ops.where(keep, logits, -0.7 * 3.4028235e38)
    weights = ops.softmax(logits, axis=-1)
    return ops.cast(weights, key.dtype), value


def _relative_difference(expected, got):
    expected = ops.cast(expected, "float32")
    got = ops.cast(got, "float32")
    axes = tuple(range(1, len(expected.shape)))
    difference = ops.max(ops.abs(expected - got), axis=axes)
    return difference / (ops.max(ops.abs(expected), axis=axes) + 1e-6)
