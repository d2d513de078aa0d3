"""`ProbeModel`: the user's model, run with the probe's hooks, as a `keras.Model`.

It holds the user's model (not a copy: the same layers and weights) and its
`call` runs it with the hooks of `capture` installed, returning the model's
outputs followed by one dict of tensors per captured attention computation.
Being a `keras.Model`, it predicts the way the user's model does: one forward
pass, traced and compiled by `predict` (or `jit_compile`), batched, under the
model's distribution strategy.
"""

import dataclasses

import keras
from keras import ops

from keras_attnviz.probe import capture


@dataclasses.dataclass(frozen=True)
class Tap:
    """What one captured computation returns, known once the model is traced.

    Attributes:
        site: the `Site` it comes from.
        fields: the names of the tensors it returns, among `"weights"`,
            `"key_mask"`, `"query_mask"`, `"upper_allowed"`, `"upper_blocked"`
            and `"mismatch"`.
        shape: the symbolic shape of the weights (`None` where free).
        dtype: the dtype of the weights.
        causal: whether the layer was asked for a causal mask.
        self_attention: whether the queries are the keys.
    """

    site: object
    fields: tuple
    shape: tuple
    dtype: str
    causal: bool
    self_attention: bool


@keras.saving.register_keras_serializable(package="keras_attnviz")
class ProbeModel(keras.Model):
    """Runs `model` with the hooks of `sites` and returns what they capture.

    Args:
        model: the user's model.
        sites: the `Site`s to hook.
        selected: `id`s of the sites whose captures to return.

    Attributes:
        taps: the `Tap`s of the last trace, in call order (`None` before the
            model has run).
    """

    def __init__(self, model, sites, selected, **kwargs):
        super().__init__(name=f"{model.name}_probe", **kwargs)
        self.source = model
        self._sites = tuple(sites)
        self._selected = frozenset(selected)
        self.taps = None
        self.built = True
        # Predict as the model predicts: with XLA, or eagerly, if it was
        # compiled so.
        self.jit_compile = model.jit_compile
        self.run_eagerly = model.run_eagerly

    def get_config(self):
        # The hooks follow from the model and the exposed layers' paths.
        names = [site.name for site in self._sites if id(site) in self._selected]
        return {
            "model": keras.saving.serialize_keras_object(self.source),
            "layers": names,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        from keras_attnviz.probe.attention_probe import AttentionProbe

        model = keras.saving.deserialize_keras_object(config["model"])
        return AttentionProbe(model, layers=config["layers"]).model

    def call(self, inputs, training=False):
        recorder = capture.Recorder(self._selected)
        with capture.recording(self._sites, recorder):
            outputs = self.source(inputs, training=training)
        taps, tensors = [], []
        for found in recorder.captures:
            fields = _capture_tensors(found)
            taps.append(
                Tap(
                    found.site,
                    tuple(fields),
                    tuple(fields["weights"].shape),
                    keras.backend.standardize_dtype(found.weights.dtype),
                    found.causal,
                    found.self_attention,
                )
            )
            tensors.append(fields)
        self._check_same_taps(taps)
        self.taps = taps
        return outputs, tensors

    def _check_same_taps(self, taps):
        if self.taps is None:
            return
        before = [(t.site.name, t.fields) for t in self.taps]
        after = [(t.site.name, t.fields) for t in taps]
        if before != after:
            raise ValueError(
                "The model must compute the same attention calls every time it "
                "runs, so that the probe's results keep their names. Received: "
                f"calls {[name for name, _ in before]} at first, then "
                f"{[name for name, _ in after]}"
            )


def _capture_tensors(found):
    """The tensors a capture returns: weights, and the masks as `(B, T)`."""
    weights = found.weights
    rank = len(weights.shape)
    key_mask, query_mask = found.key_mask, found.query_mask
    applied = None
    if found.applied_mask is not None:
        applied = _mask_like(ops.cast(found.applied_mask, "bool"), weights)
    if rank > 4:
        # Grouped heads, `(B, key heads, group, Tq, Tk)` as Gemma computes
        # them: query head `k * group + g`, as its queries were split.
        weights, applied = _merge_head_axes(weights, applied)
        rank = 4
    fields = {"weights": weights}
    if key_mask is None and applied is not None:
        key_mask = applied
        if rank > 2:
            key_mask = ops.any(applied, axis=tuple(range(1, rank - 1)))
    if query_mask is None and applied is not None and rank > 2:
        axes = tuple(a for a in range(1, rank) if a != rank - 2)
        query_mask = ops.any(applied, axis=axes)
    if key_mask is not None and _fits(key_mask, weights, -1):
        fields["key_mask"] = ops.cast(key_mask, "bool")
    if query_mask is not None and rank > 2 and _fits(query_mask, weights, -2):
        fields["query_mask"] = ops.cast(query_mask, "bool")
    if applied is not None and rank > 2 and not found.causal:
        fields.update(_causal_evidence(applied, fields))
    if found.mismatch is not None:
        fields["mismatch"] = found.mismatch
    return fields


def _mask_like(mask, weights):
    """`mask` broadcast to the batch and sequence axes of `weights`.

    A `(B, Tq, Tk)` mask of multi-head weights holds for every head; the head
    axes stay 1 (the reductions below read them as all heads), except where
    heads are merged, so that the mask never takes the weights' full size.
    """
    rank = len(weights.shape)
    while len(mask.shape) < rank:
        mask = ops.expand_dims(mask, -3)
    shape = ops.shape(weights)
    if rank > 4:
        return ops.broadcast_to(mask, shape)
    target = [
        size if axis in (0, rank - 2, rank - 1) or mask.shape[axis] != 1 else 1
        for axis, size in enumerate(shape)
    ]
    return ops.broadcast_to(mask, target)


def _merge_head_axes(weights, applied):
    shape = ops.shape(weights)
    merged = (shape[0], -1, shape[-2], shape[-1])
    weights = ops.reshape(weights, merged)
    return weights, None if applied is None else ops.reshape(applied, merged)


def _fits(mask, weights, axis):
    length, expected = mask.shape[-1], weights.shape[axis]
    return length is None or expected is None or length == expected


def _causal_evidence(applied, fields):
    """Per sample: whether a future key was allowed, whether one was masked.

    A mask is causal when no query may see a later key while some real query
    is kept from a later real key; a padding mask alone does neither.
    """
    shape = ops.shape(applied)
    upper = ops.triu(ops.ones((shape[-2], shape[-1]), "bool"), k=1)
    rank = len(applied.shape)
    axes = tuple(range(1, rank))
    allowed = ops.any(ops.logical_and(applied, upper), axis=axes)
    real = upper
    if "query_mask" in fields and "key_mask" in fields:
        queries = ops.expand_dims(fields["query_mask"], -1)
        keys = ops.expand_dims(fields["key_mask"], -2)
        pairs = ops.logical_and(queries, keys)
        for _ in range(rank - 3):
            pairs = ops.expand_dims(pairs, 1)
        real = ops.logical_and(pairs, upper)
    blocked = ops.any(ops.logical_and(ops.logical_not(applied), real), axis=axes)
    return {"upper_allowed": allowed, "upper_blocked": blocked}
