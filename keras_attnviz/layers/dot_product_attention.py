"""Luong-style multiplicative attention with a fixed scale."""

import math
import numbers

import keras
from keras import ops

from keras_attnviz.layers.base_attention import (
    BaseAttention,
    document_call,
    to_score_dtype,
)

SCORE_MODES = ("dot", "general")


def _validate_scale(scale):
    if isinstance(scale, bool):
        return scale
    if not isinstance(scale, numbers.Real):
        raise TypeError(
            "`scale` must be a bool or a positive float. "
            f"Received: scale={scale!r} of type {type(scale).__name__}"
        )
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(
            f"`scale` must be a finite positive float. Received: scale={scale}"
        )
    return float(scale)


@keras.saving.register_keras_serializable(package="keras_attnviz")
@document_call
class DotProductAttention(BaseAttention):
    """Multiplicative (Luong) attention: `score(q, k) = q . k` or `q^T W k`.

    With `score="dot"` the score is the dot product of query and key, which
    must have the same size. With `score="general"` a learned matrix `W`
    sits in between, so the sizes may differ. Called on `values` alone, the
    layer pools them with a learned query vector of the key size (with
    `score="general"`, that query and `W` together act as one learned vector).

    Unlike `keras.layers.Attention(use_scale=True)`, whose scale is a learned
    scalar, the scale here is fixed: `scale=True` divides the scores by
    `sqrt(d_k)` (`d_k` is the key size), a float multiplies them by that
    float (as `keras.layers.Attention` applies its scale, so `scale=True`
    equals `scale=1 / sqrt(d_k)`), `False` leaves them as they are.

    Scores and the softmax are computed in float32 whatever the dtype policy;
    the outputs come in the layer's compute dtype.

    Args:
        score: `"dot"` or `"general"`. Defaults to `"dot"`.
        scale: `True`, `False` or a positive float. Defaults to `True`.
        dropout: Float in `[0, 1)`, the fraction of attention weights
            dropped during training. Defaults to `0.0`.
        seed: Optional integer seed for the dropout.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    {call_docs}

    Raises:
        TypeError: If `score`, `scale` or `dropout` has the wrong type.
        ValueError: If `score` is unknown, `scale` or `dropout` is out of
            range, `score="dot"` meets query and keys of different sizes, or
            the inputs have the wrong number or shapes.

    Example:

    ```python
    import keras
    from keras_attnviz.layers import DotProductAttention

    decoder = keras.Input((None, 32))
    encoder = keras.Input((None, 64))
    context, weights = DotProductAttention(score="general")(
        [decoder, encoder], return_attention_scores=True
    )
    model = keras.Model([decoder, encoder], [context, weights])
    ```

    Reference:

    - [Luong, Pham & Manning, 2015](https://arxiv.org/abs/1508.04025),
        "Effective Approaches to Attention-based Neural Machine
        Translation", EMNLP 2015: the `"dot"` and `"general"` scores.
    - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762), "Attention
        Is All You Need", NIPS 2017: the scaling by `1 / sqrt(d_k)`
        (`scale=True`).
    """

    def __init__(self, score="dot", scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if not isinstance(score, str):
            raise TypeError(
                f"`score` must be one of {SCORE_MODES}. "
                f"Received: score={score!r} of type {type(score).__name__}"
            )
        if score not in SCORE_MODES:
            raise ValueError(
                f"`score` must be one of {SCORE_MODES}. Received: score={score!r}"
            )
        self.score = score
        self.scale = _validate_scale(scale)

    def _build_scoring(self, query_dim, key_dim):
        if query_dim is None:
            self.pooling_query = self.add_weight(
                name="pooling_query", shape=(key_dim,), initializer="glorot_uniform"
            )
            query_dim = key_dim
        if self.score == "general":
            self.kernel = self.add_weight(
                name="kernel", shape=(query_dim, key_dim), initializer="glorot_uniform"
            )
        elif query_dim != key_dim:
            raise ValueError(
                '`score="dot"` needs a query and keys of the same size; use '
                '`score="general"` for different sizes. '
                f"Received: query size {query_dim} and key size {key_dim}"
            )
        if self.scale is True:
            self._score_factor = 1.0 / math.sqrt(key_dim)
        else:
            self._score_factor = self.scale or None

    def _calculate_scores(self, query, keys):
        keys = to_score_dtype(keys)
        pooling = query is None
        query = to_score_dtype(self.pooling_query if pooling else query)
        if self.score == "general":
            query = ops.matmul(query, to_score_dtype(self.kernel))
        # Scaling the query is cheaper than scaling the (Tq, T) scores.
        if self._score_factor is not None:
            query = query * self._score_factor
        if pooling:
            return ops.expand_dims(ops.matmul(keys, query), 1)
        return ops.matmul(query, ops.swapaxes(keys, -2, -1))

    def get_config(self):
        config = super().get_config()
        config.update({"score": self.score, "scale": self.scale})
        return config

    @classmethod
    def from_config(cls, config):
        # Keras 3's `.h5` loader turns config strings that name a Keras
        # function into that function ("dot" -> `keras.ops.dot`); take the
        # name back so plain `keras.models.load_model` reloads the layer.
        score = config.get("score")
        if callable(score) and getattr(score, "__name__", None) in SCORE_MODES:
            config = {**config, "score": score.__name__}
        return super().from_config(config)
