"""Call logic shared by the attention layers: inputs, masks, softmax, context."""

import numbers

import keras
import numpy as np
from keras import ops

# Scores and softmax run in float32 whatever the compute dtype, so float16
# logits can neither overflow nor lose the small differences softmax amplifies.
SCORE_DTYPE = "float32"
_LOWEST_SCORE = float(np.finfo(SCORE_DTYPE).min)


def to_score_dtype(x):
    """Casts a tensor or variable to the dtype scores are computed in."""
    return ops.cast(x, SCORE_DTYPE)


# The call contract is the same for every layer; `document_call` puts it into
# each layer's docstring so it is written once.
CALL_DOCS = """Call arguments:
        inputs: `values` of shape `(batch_size, T, dim)` for attention
            pooling, or a list `[query, values]` or `[query, values, keys]`
            (keys default to values). `query` has shape `(batch_size, dim_q)`,
            e.g. an RNN's last state, or `(batch_size, Tq, dim_q)`.
        mask: For pooling, the value mask of shape `(batch_size, T)`; for
            list inputs, `[query_mask, value_mask]` (an optional third
            `key_mask` is combined with `value_mask`). Masks of inputs coming
            from mask-producing layers (`Embedding(mask_zero=True)`) are
            passed automatically. Masked keys get exactly zero weight; a row
            with no unmasked key gets zero weights and a zero context. The
            context at masked query positions is zero.
        return_attention_scores: If `True`, return `(context, weights)`, the
            weights after masking and softmax but before dropout.
        use_causal_mask: If `True`, query step `i` only attends to keys
            `j <= i`. In the pooling form, the output becomes a sequence:
            step `t` pools `values[:, :t + 1]`, giving a context of shape
            `(batch_size, T, dim)` and weights `(batch_size, T, T)` with no
            output mask. Not allowed with a 2-D query.
        training: Whether dropout is applied.

    Returns:
        The context: `(batch_size, dim)` for pooling and 2-D queries,
        `(batch_size, Tq, dim)` for query sequences (`dim` is the value
        size). With `return_attention_scores=True`, `(context, weights)`
        with weights `(batch_size, T)` or `(batch_size, Tq, T)`."""


def document_call(layer_class):
    """Fills the `{call_docs}` placeholder of a layer's docstring."""
    layer_class.__doc__ = layer_class.__doc__.replace("{call_docs}", CALL_DOCS)
    return layer_class


def _is_shape(value):
    return isinstance(value, (list, tuple)) and all(
        dim is None or isinstance(dim, int) for dim in value
    )


def _causal_mask(num_queries, num_keys):
    """`(1, num_queries, num_keys)` mask: query `i` sees keys `j <= i`."""
    rows = ops.expand_dims(ops.arange(num_queries), -1)
    cols = ops.expand_dims(ops.arange(num_keys), 0)
    return ops.expand_dims(ops.greater_equal(rows, cols), 0)


def _masked_softmax(scores, mask):
    """Softmax over the last axis that gives masked keys exactly 0.

    A row whose keys are all masked comes out as zeros rather than a
    uniform distribution: it has nothing to attend to.
    """
    if mask is None:
        return ops.softmax(scores, axis=-1)
    scores = ops.where(mask, scores, _LOWEST_SCORE)
    weights = ops.softmax(scores, axis=-1)
    return ops.where(mask, weights, 0.0)


def _validate_dropout(dropout):
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise TypeError(
            "`dropout` must be a float in [0, 1). "
            f"Received: dropout={dropout!r} of type {type(dropout).__name__}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
    return float(dropout)


class BaseAttention(keras.layers.Layer):
    """Base class of the attention layers; subclasses only score.

    It parses the call forms (`values`, `[query, values]`,
    `[query, values, keys]`), combines the value, key and causal masks,
    runs a masked float32 softmax and forms the context. Subclasses
    implement `_build_scoring(query_dim, key_dim)` (`query_dim` is `None`
    in the pooling form) and `_calculate_scores(query, keys)`, which returns
    float32 scores of shape `(batch_size, Tq, T)`, or `(batch_size, 1, T)`
    for the pooling form (`query` is `None`).

    Args:
        dropout: Float in `[0, 1)`, the fraction of attention weights
            dropped during training. The returned weights are always the
            ones before dropout.
        seed: Optional integer seed for the dropout.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
    """

    def __init__(self, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.dropout = _validate_dropout(dropout)
        self.seed = seed
        self.seed_generator = (
            keras.random.SeedGenerator(seed) if self.dropout > 0 else None
        )
        self.supports_masking = True

    def build(self, input_shape):
        query_shape, _, keys_shape = self._split_shapes(input_shape)
        query_dim = None if query_shape is None else query_shape[-1]
        key_dim = keys_shape[-1]
        if key_dim is None or (query_shape is not None and query_dim is None):
            raise ValueError(
                "The last dimension of `query` and `keys` must be known to "
                f"build the layer. Received: input_shape={input_shape}"
            )
        self._pooling = query_shape is None
        self._build_scoring(query_dim, key_dim)

    def call(
        self,
        inputs,
        mask=None,
        training=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        query, values, keys = self._parse_inputs(inputs, use_causal_mask)
        query_mask, key_mask = self._split_mask(mask, pooling=query is None)
        single_query = query is not None and len(query.shape) == 2
        if single_query:
            query = ops.expand_dims(query, 1)
            if query_mask is not None:
                query_mask = ops.expand_dims(query_mask, 1)

        scores = self._calculate_scores(query, keys)
        score_mask = None if key_mask is None else ops.expand_dims(key_mask, 1)
        if use_causal_mask:
            # In the pooling form, row `t` pools the prefix `values[:, :t + 1]`.
            num_queries = ops.shape(keys if query is None else query)[1]
            causal = _causal_mask(num_queries, ops.shape(keys)[1])
            score_mask = (
                causal if score_mask is None else ops.logical_and(score_mask, causal)
            )
        weights = ops.cast(_masked_softmax(scores, score_mask), self.compute_dtype)

        attended = weights
        if training and self.dropout > 0:
            attended = keras.random.dropout(
                weights, self.dropout, seed=self.seed_generator
            )
        context = ops.matmul(attended, values)
        if query_mask is not None:
            context = ops.where(ops.expand_dims(query_mask, -1), context, 0.0)
        if single_query or (query is None and not use_causal_mask):
            context = ops.squeeze(context, 1)
            weights = ops.squeeze(weights, 1)
        if return_attention_scores:
            return context, weights
        return context

    def compute_mask(self, inputs, mask=None):
        query, _, _ = self._split_inputs(inputs)
        if query is None or len(query.shape) == 2 or mask is None:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape):
        query_shape, values_shape, _ = self._split_shapes(input_shape)
        return self._output_shapes(query_shape, values_shape, False)[0]

    def compute_output_spec(
        self,
        inputs,
        mask=None,
        training=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        query, values, _ = self._parse_inputs(inputs, use_causal_mask)
        query_shape = None if query is None else query.shape
        context_shape, weights_shape = self._output_shapes(
            query_shape, values.shape, use_causal_mask
        )
        context = keras.KerasTensor(context_shape, dtype=self.compute_dtype)
        if return_attention_scores:
            return context, keras.KerasTensor(weights_shape, dtype=self.compute_dtype)
        return context

    def get_config(self):
        config = super().get_config()
        config.update({"dropout": self.dropout, "seed": self.seed})
        return config

    def _build_scoring(self, query_dim, key_dim):
        raise NotImplementedError

    def _calculate_scores(self, query, keys):
        raise NotImplementedError

    def _split_inputs(self, inputs):
        """Returns `(query, values, keys)`; `query` is `None` for pooling."""
        if not isinstance(inputs, (list, tuple)):
            return None, inputs, inputs
        if len(inputs) not in (2, 3):
            raise ValueError(
                f"{self.__class__.__name__} takes `values` (pooling) or a list "
                "`[query, values]` or `[query, values, keys]`. "
                f"Received: a list of {len(inputs)} inputs."
            )
        values = inputs[1]
        return inputs[0], values, inputs[2] if len(inputs) == 3 else values

    def _split_shapes(self, input_shape):
        """`_split_inputs` for shapes, whose pooling form is itself a tuple."""
        if _is_shape(input_shape):
            shapes = None, tuple(input_shape), tuple(input_shape)
        else:
            shapes = self._split_inputs(list(input_shape))
        self._check_shapes(*shapes)
        return shapes

    def _parse_inputs(self, inputs, use_causal_mask):
        query, values, keys = self._split_inputs(inputs)
        query_shape = None if query is None else tuple(query.shape)
        self._check_shapes(query_shape, tuple(values.shape), tuple(keys.shape))
        if self.built and self._pooling != (query is None):
            built_for = "pooling `values`" if self._pooling else "a list with a query"
            called_with = "a list with a query" if self._pooling else "`values` alone"
            raise ValueError(
                f"This layer was built to be called on {built_for}. "
                f"Received: {called_with}."
            )
        if use_causal_mask and query_shape is not None and len(query_shape) == 2:
            raise ValueError(
                "`use_causal_mask=True` needs a query sequence of shape "
                "(batch_size, Tq, dim) or the pooling form; a single query "
                f"vector has no time position. Received: query.shape={query_shape}"
            )
        return query, values, keys

    def _check_shapes(self, query_shape, values_shape, keys_shape):
        if query_shape is not None and len(query_shape) not in (2, 3):
            raise ValueError(
                "`query` must have shape (batch_size, dim) or "
                f"(batch_size, Tq, dim). Received: query.shape={query_shape}"
            )
        for name, shape in (("values", values_shape), ("keys", keys_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"`{name}` must have shape (batch_size, T, dim). "
                    f"Received: {name}.shape={shape}"
                )
        value_steps, key_steps = values_shape[1], keys_shape[1]
        if None not in (value_steps, key_steps) and value_steps != key_steps:
            raise ValueError(
                "`values` and `keys` must have the same number of time steps. "
                f"Received: values.shape={values_shape}, keys.shape={keys_shape}"
            )

    def _split_mask(self, mask, pooling):
        """Returns `(query_mask, key_mask)` as booleans, either may be `None`."""
        if mask is None:
            return None, None
        if pooling:
            if isinstance(mask, (list, tuple)):
                raise ValueError(
                    "In the pooling form `mask` is the value mask of shape "
                    f"(batch_size, T). Received: a list of {len(mask)} masks."
                )
            return None, ops.cast(mask, "bool")
        if not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3):
            raise ValueError(
                "`mask` must be a list `[query_mask, value_mask]` or "
                f"`[query_mask, value_mask, key_mask]`. Received: mask={mask}"
            )
        query_mask, *key_masks = (
            None if m is None else ops.cast(m, "bool") for m in mask
        )
        key_masks = [m for m in key_masks if m is not None]
        key_mask = key_masks[0] if key_masks else None
        if len(key_masks) == 2:
            key_mask = ops.logical_and(*key_masks)
        return query_mask, key_mask

    @staticmethod
    def _output_shapes(query_shape, values_shape, use_causal_mask):
        batch, steps, value_dim = values_shape
        if query_shape is not None:
            return (*query_shape[:-1], value_dim), (*query_shape[:-1], steps)
        if use_causal_mask:
            return (batch, steps, value_dim), (batch, steps, steps)
        return (batch, value_dim), (batch, steps)
