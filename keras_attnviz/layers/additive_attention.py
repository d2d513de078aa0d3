"""Bahdanau-style additive attention with learned projections."""

import keras
from keras import ops

from keras_attnviz.layers.base_attention import (
    BaseAttention,
    document_call,
    to_score_dtype,
)


@keras.saving.register_keras_serializable(package="keras_attnviz")
@document_call
class AdditiveAttention(BaseAttention):
    """Additive (Bahdanau) attention: `score(q, k) = v^T tanh(W_q q + W_k k + b)`.

    Unlike `keras.layers.AdditiveAttention`, the query and the keys are
    projected by learned matrices `W_q`, `W_k` into `units` dimensions, so
    query and key sizes may differ. Called on `values` alone, the layer pools
    them with a learned query: `score(k) = v^T tanh(W_k k + b)`, the bias `b`
    standing in for the projected query.

    Scores and the softmax are computed in float32 whatever the dtype policy;
    the outputs come in the layer's compute dtype.

    Args:
        units: Positive integer, the size of the hidden projection. Defaults
            to the key size.
        dropout: Float in `[0, 1)`, the fraction of attention weights
            dropped during training. Defaults to `0.0`.
        seed: Optional integer seed for the dropout.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    {call_docs}

    Raises:
        TypeError: If `units` or `dropout` has the wrong type.
        ValueError: If `units` or `dropout` is out of range, or the inputs
            have the wrong number or shapes.

    Example:

    ```python
    import keras
    from keras_attnviz.layers import AdditiveAttention

    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(1000, 32, mask_zero=True)(tokens)
    states = keras.layers.GRU(32, return_sequences=True)(x)
    context, weights = AdditiveAttention(name="attention")(
        states, return_attention_scores=True
    )
    model = keras.Model(tokens, keras.layers.Dense(1)(context))
    ```

    Reference:

    - [Bahdanau, Cho & Bengio, 2015](https://arxiv.org/abs/1409.0473),
        "Neural Machine Translation by Jointly Learning to Align and
        Translate", ICLR 2015.
    """

    def __init__(self, units=None, dropout=0.0, seed=None, **kwargs):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if units is not None and (
            isinstance(units, bool) or not isinstance(units, int)
        ):
            raise TypeError(
                "`units` must be a positive integer or None. "
                f"Received: units={units!r} of type {type(units).__name__}"
            )
        if units is not None and units < 1:
            raise ValueError(
                f"`units` must be a positive integer. Received: units={units}"
            )
        self.units = units

    def _build_scoring(self, query_dim, key_dim):
        units = self.units or key_dim
        if query_dim is not None:
            self.query_kernel = self.add_weight(
                name="query_kernel",
                shape=(query_dim, units),
                initializer="glorot_uniform",
            )
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(key_dim, units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(units,), initializer="zeros")
        self.score_vector = self.add_weight(
            name="score_vector", shape=(units,), initializer="glorot_uniform"
        )

    def _calculate_scores(self, query, keys):
        # The keys are projected once, (batch, T, units), and broadcast against
        # the projected queries instead of projecting every (query, key) pair.
        projected_keys = ops.matmul(
            to_score_dtype(keys), to_score_dtype(self.key_kernel)
        )
        bias = to_score_dtype(self.bias)
        score_vector = to_score_dtype(self.score_vector)
        if query is None:
            hidden = ops.tanh(projected_keys + bias)
            return ops.expand_dims(ops.matmul(hidden, score_vector), 1)
        projected_query = (
            ops.matmul(to_score_dtype(query), to_score_dtype(self.query_kernel)) + bias
        )
        hidden = ops.tanh(
            ops.expand_dims(projected_query, 2) + ops.expand_dims(projected_keys, 1)
        )
        return ops.matmul(hidden, score_vector)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config
