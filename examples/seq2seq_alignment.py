"""An encoder-decoder whose decoder states attend over the encoder outputs.

The task is reversing a string, so the true alignment is known: target
position j comes from source position L-1-j. The picture is the target x
source alignment matrix of one test string; the returned figure of merit is
the share of attention mass on that anti-diagonal.

Run: python examples/seq2seq_alignment.py --out DIR
"""

import os

import keras
import numpy as np
from example_args import parse_example_args
from matplotlib.figure import Figure

import keras_attnviz
from keras_attnviz.render import heatmap

LENGTH = 8
LETTERS = "abcdefghijkl"
START = len(LETTERS) + 1  # id 0 is padding, letters are 1..12


def make_pairs(n, rng):
    """Source ids, decoder inputs (start + shifted target) and targets."""
    source = rng.integers(1, len(LETTERS) + 1, size=(n, LENGTH)).astype("int32")
    target = source[:, ::-1]
    decoder_input = np.concatenate([np.full((n, 1), START), target[:, :-1]], axis=1)
    return source, decoder_input.astype("int32"), target


def build_model():
    vocab_size = START + 1
    source = keras.Input((LENGTH,), dtype="int32", name="source")
    previous = keras.Input((LENGTH,), dtype="int32", name="previous_target")
    source_chars = keras.layers.Embedding(vocab_size, 32, mask_zero=True)(source)
    encoded = keras.layers.Bidirectional(
        keras.layers.GRU(32, return_sequences=True)
    )(source_chars)
    decoded = keras.layers.GRU(64, return_sequences=True)(
        keras.layers.Embedding(vocab_size, 32)(previous)
    )
    context = keras_attnviz.DotProductAttention(score="general", name="alignment")(
        [decoded, encoded]
    )
    features = keras.layers.Concatenate()([decoded, context])
    output = keras.layers.Dense(vocab_size, activation="softmax")(features)
    return keras.Model([source, previous], output)


def main(argv=None):
    args = parse_example_args(__doc__, argv)
    rng = np.random.default_rng(0)

    source, previous, target = make_pairs(10000, rng)
    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit([source, previous], target, epochs=6 if args.quick else 10,
              batch_size=64, verbose=0)

    test_source, test_previous, test_target = make_pairs(200, rng)
    result = keras_attnviz.AttentionProbe(model).predict(
        [test_source, test_previous], verbose=0
    )
    weights = result.attention["alignment"]  # (N, target, source)
    anti_diagonal = weights[:, np.arange(LENGTH), LENGTH - 1 - np.arange(LENGTH)]
    accuracy = np.mean(np.argmax(result.outputs, axis=-1) == test_target)

    source_text = [LETTERS[i - 1] for i in test_source[0]]
    target_text = [LETTERS[i - 1] for i in test_target[0]]
    figure = Figure(figsize=(5.5, 4.8), layout="constrained")
    ax = figure.add_subplot()
    heatmap(weights[0], x_labels=source_text, y_labels=target_text, annot=True,
            fmt=".1f", ax=ax)
    ax.set_xlabel("source (encoder outputs)")
    ax.set_ylabel("target (decoder states)")
    ax.set_title("Reversing a string: target x source alignment")
    path = os.path.join(args.out, "seq2seq_alignment.png")
    figure.savefig(path, dpi=110)
    return {
        "alignment_mass": float(anti_diagonal.mean()),
        "accuracy": float(accuracy),
        "pictures": [path],
    }


if __name__ == "__main__":
    print(main())
