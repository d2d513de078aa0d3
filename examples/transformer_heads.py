"""A Transformer encoder written as keras.io writes it: attention inside a layer.

The blocks follow keras.io's "Text classification with Transformer": a custom
`TransformerBlock(layers.Layer)` holds `self.att = layers.MultiHeadAttention(...)`
and calls it as `self.att(inputs, inputs)`. The probe finds that attention
inside the block and names it by its attribute path, "transformer_block_0/att".

Each position must output the token just before it, so some head has to
attend from position i to position i-1. The per-layer, per-head grid shows
which heads learned that; the example returns the largest share of attention
mass that any head puts on that diagonal, before and after training.

Run: python examples/transformer_heads.py --out DIR
"""

import os

import keras
import numpy as np
from example_args import parse_example_args
from keras import layers, ops
from matplotlib.figure import Figure

import keras_attnviz
from keras_attnviz.analysis import attention_rollout
from keras_attnviz.render import head_view, heads_grid, heatmap, model_view

LENGTH = 12
VOCAB = 20
EMBED_DIM = 32


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
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
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        positions = ops.arange(0, ops.shape(x)[-1], 1)
        return self.token_emb(x) + self.pos_emb(positions)


def build_model(n_blocks=2, num_heads=4):
    """keras.io's encoder with one token out per position instead of a class."""
    inputs = layers.Input(shape=(LENGTH,), dtype="int32")
    x = TokenAndPositionEmbedding(LENGTH, VOCAB, EMBED_DIM)(inputs)
    for i in range(n_blocks):
        x = TransformerBlock(
            EMBED_DIM, num_heads, 2 * EMBED_DIM, name=f"transformer_block_{i}"
        )(x)
    outputs = layers.Dense(VOCAB, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def make_data(n, rng):
    tokens = rng.integers(1, VOCAB, size=(n, LENGTH)).astype("int32")
    previous = np.concatenate([np.zeros((n, 1), "int32"), tokens[:, :-1]], axis=1)
    return tokens, previous


def best_previous_token_mass(result):
    """The largest mean weight that any head puts from position i on i-1."""
    return max(
        float(np.diagonal(heads, offset=-1, axis1=-2, axis2=-1).mean(axis=(0, 2)).max())
        for heads in result.attention.values()  # (N, heads, queries, keys)
    )


def main(argv=None):
    args = parse_example_args(__doc__, argv)
    rng = np.random.default_rng(0)

    model = build_model()
    probe = keras_attnviz.AttentionProbe(model)
    test_tokens, _ = make_data(200, rng)
    untrained = best_previous_token_mass(probe.predict(test_tokens, verbose=0))

    tokens, previous = make_data(6000 if args.quick else 8000, rng)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(tokens, previous, epochs=5 if args.quick else 6, batch_size=64, verbose=0)

    # The probe runs the model with its current weights: no new probe needed.
    result = probe.predict(test_tokens, verbose=0)
    labels = [f"t{token}" for token in test_tokens[0]]
    figure = heads_grid(
        {name: weights[0] for name, weights in result.attention.items()},
        tokens=labels,
        average=True,
    )
    figure.suptitle(
        "Per-layer, per-head attention (task: output the previous token)", y=1.04
    )
    path = os.path.join(args.out, "transformer_heads.png")
    figure.savefig(path, dpi=100, bbox_inches="tight")

    # The same sample, to explore in a browser (offline pages), and the
    # rollout through both blocks: how much each position draws on each input.
    pages = []
    for view, name in ((head_view, "head_view.html"), (model_view, "model_view.html")):
        pages.append(os.path.join(args.out, name))
        view(result, labels, sample=0, rollout=True).save(pages[-1])
    rollout = attention_rollout(result)[0]
    figure = Figure(figsize=(6, 5), layout="constrained")
    heatmap(rollout, labels, labels, ax=figure.add_subplot())
    figure.suptitle("Attention rollout through both blocks (Abnar & Zuidema 2020)")
    rollout_path = os.path.join(args.out, "rollout.png")
    figure.savefig(rollout_path, dpi=100)
    return {
        "best_head_previous_token_mass": best_previous_token_mass(result),
        "untrained_best_head_previous_token_mass": untrained,
        "pictures": [path, rollout_path],
        "pages": pages,
    }


if __name__ == "__main__":
    print(main())
