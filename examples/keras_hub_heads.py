"""Probing a keras-hub backbone: which BERT head looks at the previous letter?

A small `keras_hub.models.BertBackbone`, built from a config (nothing is
downloaded), learns to output at each position the letter just before it.
BERT attends both ways, so some head has to learn to look from position i to
position i-1. The strings have different lengths, padded at the end and marked
by the backbone's `padding_mask`, which the probe reports with the weights.

The probe is made once, before training: it runs the backbone with its current
weights, so the same probe measures the untrained and the trained model. The
picture is the per-layer, per-head grid of one padded string, over its real
letters only. The example returns the head that puts the most weight on the
previous letter, that weight, and the most that any head put there before
training.

Run: python examples/keras_hub_heads.py --out DIR
"""

import os

import keras
import keras_hub
import numpy as np
from example_args import parse_example_args

import keras_attnviz
from keras_attnviz.render import heads_grid

LETTERS = "abcdefghijklmnopqrst"  # token ids 1..20; 0 is padding
LENGTH = 12
SHORTEST = 6


def make_strings(n, rng):
    """Backbone inputs for `n` padded strings, each position's target and weight.

    The target is the previous letter; padded positions and the first one,
    which has no letter before it, carry no loss.
    """
    lengths = rng.integers(SHORTEST, LENGTH + 1, size=n)
    padding_mask = np.arange(LENGTH) < lengths[:, None]
    letters = rng.integers(1, len(LETTERS) + 1, size=(n, LENGTH))
    token_ids = np.where(padding_mask, letters, 0).astype("int32")
    inputs = {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": padding_mask,
    }
    previous = np.pad(token_ids[:, :-1], ((0, 0), (1, 0)))
    scored = padding_mask & (np.arange(LENGTH) > 0)
    return inputs, previous, scored.astype("float32")


def build_model():
    """The backbone, and a model that reads one letter off each of its outputs."""
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(LETTERS) + 1,
        num_layers=2,
        num_heads=4,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=LENGTH,
    )
    # Built on the backbone's own graph up to its sequence output, the model
    # shares the backbone's layers, leaving out its unused pooler.
    sequence = backbone.output["sequence_output"]
    letter = keras.layers.Dense(len(LETTERS) + 1, activation="softmax")(sequence)
    return backbone, keras.Model(backbone.input, letter)


def previous_letter_weight(result):
    """Per layer, each head's mean weight from a real letter on the one before it."""
    weight = {}
    for name, heads in result.attention.items():  # (N, heads, queries, keys)
        on_previous = np.diagonal(heads, offset=-1, axis1=-2, axis2=-1)
        # Self-attention: the queries share the keys' padding. Padding is at
        # the end, so a real query i>=1 always has a real key i-1.
        real = result.key_masks[name][:, 1:]
        weight[name] = (on_previous * real[:, None]).sum(axis=(0, 2)) / real.sum()
    return weight


def best_head(weight):
    """`(layer, head, weight)` of the head with the largest weight."""
    layer = max(weight, key=lambda name: weight[name].max())
    head = int(weight[layer].argmax())
    return layer, head, float(weight[layer][head])


def main(argv=None):
    args = parse_example_args(__doc__, argv)
    rng = np.random.default_rng(0)
    backbone, model = build_model()
    probe = keras_attnviz.AttentionProbe(backbone)
    test_inputs, _, _ = make_strings(200, rng)
    _, _, untrained = best_head(
        previous_letter_weight(probe.predict(test_inputs, verbose=0))
    )

    inputs, previous, scored = make_strings(3000 if args.quick else 5000, rng)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(
        inputs, previous, sample_weight=scored, epochs=4, batch_size=64, verbose=0
    )

    result = probe.predict(test_inputs, verbose=0)
    layer, head, weight = best_head(previous_letter_weight(result))
    lengths = test_inputs["padding_mask"].sum(axis=1)
    shown = int(np.argmin(lengths))  # the most padded string
    tokens = [LETTERS[i - 1] if i else "[PAD]" for i in test_inputs["token_ids"][shown]]
    # `sample` drops the padded positions, and their tokens, by the key mask;
    # rows are titled by block.
    figure = heads_grid(
        {
            name.split("/")[0]: result.sample(shown, name, tokens=tokens)
            for name in result.attention
        },
        average=True,
    )
    figure.suptitle(
        "BERT backbone trained to output the previous letter "
        f"({lengths[shown]} letters, {LENGTH - lengths[shown]} padded positions)\n"
        f"{layer}, head {head}: {weight:.2f} of its weight on the previous letter "
        f"(untrained, best head: {untrained:.2f})",
        y=1.08,
    )
    path = os.path.join(args.out, "heads.png")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return {
        "best_head": f"{layer}, head {head}",
        "best_head_previous_token_mass": weight,
        "untrained_best_head_previous_token_mass": untrained,
        "pictures": [path],
    }


if __name__ == "__main__":
    print(main())
