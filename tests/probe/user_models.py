"""Models as users write them, after keras.io's examples and TensorFlow's tutorials.

Registered under the package "user_models", so that `.keras` files of them
reload in a fresh process that imports this module.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="user_models")
class TransformerBlock(layers.Layer):
    """keras.io, "Text classification with Transformer": attention in a layer."""

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim, self.rate = (
            embed_dim,
            num_heads,
            ff_dim,
            rate,
        )
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training=False):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.dropout2(self.ffn(out1), training=training)
        return self.layernorm2(out1 + ffn_output)

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "rate": self.rate,
        }


@keras.saving.register_keras_serializable(package="user_models")
class TokenAndPositionEmbedding(layers.Layer):
    """keras.io's token and position embedding, from the same example."""

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        positions = ops.arange(0, ops.shape(x)[-1], 1)
        return self.token_emb(x) + self.pos_emb(positions)

    def get_config(self):
        return {
            **super().get_config(),
            "maxlen": self.maxlen,
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
        }


def keras_io_classifier(maxlen=10, vocab_size=40, embed_dim=8, num_heads=2):
    """keras.io's Transformer text classifier, smaller."""
    inputs = layers.Input(shape=(maxlen,), dtype="int32")
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, 16, name="transformer_block")(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


# --- TensorFlow's "Neural machine translation with attention" tutorial --------


class Encoder(layers.Layer):
    def __init__(self, vocab_size, units):
        super().__init__()
        self.embedding = layers.Embedding(vocab_size, units, mask_zero=True)
        self.rnn = layers.Bidirectional(
            layers.GRU(units, return_sequences=True), merge_mode="sum"
        )

    def call(self, x):
        return self.rnn(self.embedding(x))


class CrossAttention(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__()
        self.mha = layers.MultiHeadAttention(key_dim=units, num_heads=1, **kwargs)
        self.layernorm = layers.LayerNormalization()
        self.add = layers.Add()

    def call(self, x, context):
        attn_output, attn_scores = self.mha(
            query=x, value=context, return_attention_scores=True
        )
        # The tutorial keeps the head-averaged scores for plotting.
        self.last_attention_weights = ops.mean(attn_scores, axis=1)
        x = self.add([x, attn_output])
        return self.layernorm(x)


class Decoder(layers.Layer):
    def __init__(self, vocab_size, units):
        super().__init__()
        self.embedding = layers.Embedding(vocab_size, units, mask_zero=True)
        self.rnn = layers.GRU(units, return_sequences=True)
        self.attention = CrossAttention(units)
        self.output_layer = layers.Dense(vocab_size)

    def call(self, context, x):
        x = self.rnn(self.embedding(x))
        x = self.attention(x, context)
        self.last_attention_weights = self.attention.last_attention_weights
        return self.output_layer(x)


class Translator(keras.Model):
    """The tutorial's model: `call((context, target))`; here a list or a dict too."""

    def __init__(self, units, context_vocab, target_vocab):
        super().__init__()
        self.encoder = Encoder(context_vocab, units)
        self.decoder = Decoder(target_vocab, units)

    def call(self, inputs):
        if isinstance(inputs, dict):
            context, x = inputs["context"], inputs["target"]
        else:
            context, x = inputs
        return self.decoder(self.encoder(context), x)
