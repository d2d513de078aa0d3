"""A bidirectional GRU classifier with scaled dot-product attention.

The query is the GRU's final hidden state; the keys and values are the word
embeddings. Attending over the GRU's own states would not explain anything:
every state after the cue already carries it, so a final-state query need not
look at the cue at all. Over the embeddings, the only way to classify is to
weight the cue word, so the picture is true.

The heatmap writes the words in the cells and is saved through the Agg
backend, as on a server without a display.

Run: python examples/bigru_dot_attention.py --out DIR
"""

import os

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from example_args import parse_example_args  # noqa: E402

import keras_attnviz  # noqa: E402
from keras_attnviz.datasets import CUE_WORD, cue_sentences  # noqa: E402
from keras_attnviz.render import heatmap  # noqa: E402

MAXLEN = 16
UNITS = 16


def build_model(vocab_size):
    ids = keras.Input((MAXLEN,), dtype="int32")
    words = keras.layers.Embedding(vocab_size, 2 * UNITS, mask_zero=True)(ids)
    final_state = keras.layers.Bidirectional(keras.layers.GRU(UNITS))(words)
    context = keras_attnviz.DotProductAttention(scale=True, name="dot_attention")(
        [final_state, words]
    )
    output = keras.layers.Dense(1, activation="sigmoid")(context)
    return keras.Model(ids, output)


def main(argv=None):
    args = parse_example_args(__doc__, argv)

    train = cue_sentences(1500 if args.quick else 4000, seed=0)
    test = cue_sentences(200, seed=1)
    vocab = keras_attnviz.Vocabulary.from_texts(train.texts + test.texts, level="word")
    model = build_model(len(vocab))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(vocab.encode(train.texts, maxlen=MAXLEN), train.labels,
              epochs=5 if args.quick else 8, batch_size=32, verbose=0)

    result = keras_attnviz.AttentionProbe(model).predict(
        vocab.encode(test.texts, maxlen=MAXLEN), verbose=0
    )
    maps = [result.sample(i, "dot_attention", tokens=text.split())
            for i, text in enumerate(test.texts)]
    hits = [amap.tokens[int(np.argmax(amap.weights))] == CUE_WORD
            for amap, label in zip(maps, test.labels, strict=True) if label]

    rows = maps[:8]
    width = max(len(amap.tokens) for amap in rows)
    weights = np.zeros((len(rows), width))
    words = np.full((len(rows), width), "", dtype=object)
    for row, amap in enumerate(rows):
        weights[row, : len(amap.tokens)] = amap.weights
        words[row, : len(amap.tokens)] = amap.tokens
    probabilities = np.asarray(result.outputs).reshape(-1)
    fig, ax = plt.subplots(figsize=(13, 4.5), layout="constrained")
    heatmap(weights, y_labels=[f"y={test.labels[i]} p={probabilities[i]:.2f}"
                               for i in range(len(rows))],
            annot=words, mask=words == "", ax=ax)
    ax.set_title("Final-state query over word embeddings (cue: 'superb')")
    path = os.path.join(args.out, "bigru_dot_attention.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"peak_on_cue": float(np.mean(hits)), "pictures": [path]}


if __name__ == "__main__":
    print(main())
