"""A small Transformer encoder of `keras.layers.MultiHeadAttention` blocks.

Each position must output the token just before it, so some head has to
attend from position i to position i-1. The per-layer, per-head grid shows
which heads learned that; the returned figure of merit is the largest share of
attention mass that any head puts on that diagonal.

Run: python examples/transformer_heads.py --out DIR
"""

import os

import keras
import numpy as np
from example_args import parse_example_args

import keras_attnviz
from keras_attnviz.render import heads_grid

LENGTH = 12
VOCAB = 20
WIDTH = 32


class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to the token embeddings."""

    def build(self, input_shape):
        self.positions = self.add_weight(
            shape=tuple(input_shape[1:]), name="positions"
        )

    def call(self, inputs):
        return inputs + self.positions


def build_model(n_layers=2, heads=4):
    ids = keras.Input((LENGTH,), dtype="int32")
    x = PositionEmbedding()(keras.layers.Embedding(VOCAB, WIDTH)(ids))
    for i in range(n_layers):
        attended = keras.layers.MultiHeadAttention(
            heads, WIDTH // heads, name=f"block{i}_attention"
        )(x, x)
        x = keras.layers.LayerNormalization()(x + attended)
        hidden = keras.layers.Dense(2 * WIDTH, activation="relu")(x)
        x = keras.layers.LayerNormalization()(x + keras.layers.Dense(WIDTH)(hidden))
    return keras.Model(ids, keras.layers.Dense(VOCAB, activation="softmax")(x))


def make_data(n, rng):
    tokens = rng.integers(1, VOCAB, size=(n, LENGTH)).astype("int32")
    previous = np.concatenate([np.zeros((n, 1), "int32"), tokens[:, :-1]], axis=1)
    return tokens, previous


def main(argv=None):
    args = parse_example_args(__doc__, argv)
    rng = np.random.default_rng(0)

    tokens, previous = make_data(6000 if args.quick else 8000, rng)
    model = build_model()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(tokens, previous, epochs=5 if args.quick else 6, batch_size=64,
              verbose=0)

    test_tokens, _ = make_data(200, rng)
    result = keras_attnviz.AttentionProbe(model).predict(test_tokens, verbose=0)
    rows, cols = np.arange(1, LENGTH), np.arange(LENGTH - 1)
    previous_token_mass = {
        name: weights[:, :, rows, cols].mean(axis=(0, 2))  # one value per head
        for name, weights in result.attention.items()
    }
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
    best = max(float(mass.max()) for mass in previous_token_mass.values())
    return {"best_head_previous_token_mass": best, "pictures": [path]}


if __name__ == "__main__":
    print(main())
