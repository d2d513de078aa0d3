"""The subclassed model of TensorFlow's "Neural machine translation with attention".

The benchmarks' own copy (they import nothing from `tests/`): an encoder
(`Embedding(mask_zero=True)` -> bidirectional `GRU`), a decoder (`Embedding`
-> `GRU` -> a `CrossAttention` layer around `MultiHeadAttention` -> `Dense`),
and a `keras.Model` subclass whose `call` takes `{"context": ..., "target": ...}`.

The tutorial's `CrossAttention` asks its `MultiHeadAttention` for the scores
(it keeps them for plotting), which makes Keras compute the explicit softmax
in `model.predict` too. With `keep_scores=False` the layer makes the plain
call most models make, which Keras computes with its fused
`dot_product_attention`; that is the case where the probe computes the
attention a second time.
"""

import keras
from keras import layers, ops


class Encoder(layers.Layer):
    def __init__(self, vocab_size, units, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(vocab_size, units, mask_zero=True)
        self.rnn = layers.Bidirectional(
            layers.GRU(units, return_sequences=True), merge_mode="sum"
        )

    def call(self, x):
        return self.rnn(self.embedding(x))


class CrossAttention(layers.Layer):
    def __init__(self, units, keep_scores, **kwargs):
        super().__init__(**kwargs)
        self.keep_scores = keep_scores
        self.mha = layers.MultiHeadAttention(key_dim=units, num_heads=1)
        self.layernorm = layers.LayerNormalization()
        self.add = layers.Add()

    def call(self, x, context):
        if self.keep_scores:
            attn_output, attn_scores = self.mha(
                query=x, value=context, return_attention_scores=True
            )
            self.last_attention_weights = ops.mean(attn_scores, axis=1)
        else:
            attn_output = self.mha(query=x, value=context)
        return self.layernorm(self.add([x, attn_output]))


class Decoder(layers.Layer):
    def __init__(self, vocab_size, units, keep_scores, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(vocab_size, units, mask_zero=True)
        self.rnn = layers.GRU(units, return_sequences=True)
        self.attention = CrossAttention(units, keep_scores, name="attention")
        self.output_layer = layers.Dense(vocab_size)

    def call(self, context, x):
        x = self.rnn(self.embedding(x))
        return self.output_layer(self.attention(x, context))


class Translator(keras.Model):
    """`call({"context": ids, "target": ids})` -> logits over the target vocabulary.

    Args:
        units: the width of the embeddings, GRUs and attention.
        context_vocab: the size of the context vocabulary (0 = padding).
        target_vocab: the size of the target vocabulary (0 = padding).
        keep_scores: whether the cross-attention asks for its scores, as the
            tutorial's does.
    """

    def __init__(self, units, context_vocab, target_vocab, keep_scores=False, **kwargs):
        super().__init__(**kwargs)
        self.encoder = Encoder(context_vocab, units, name="encoder")
        self.decoder = Decoder(target_vocab, units, keep_scores, name="decoder")

    def call(self, inputs):
        return self.decoder(self.encoder(inputs["context"]), inputs["target"])
