"""Word-level document heatmap: one strip, the weight of each word of a document.

Documents are 30-60 random words; a document is positive when it holds the cue
word "superb". The classifier pools word features with `AdditiveAttention`, so
a trained model must put its attention on the cue, and the strip shows it.

Run: python examples/document_heatmap.py --out DIR
"""

import os

import keras
import numpy as np
from example_args import parse_example_args
from matplotlib.figure import Figure

import keras_attnviz
from keras_attnviz.render import heatmap

CUE = "superb"
FILLER = [a + b for a in ("ba", "co", "di", "fu", "ge", "hi", "ka", "lo", "mu", "no",
                          "pe", "ri") for b in ("ron", "sel", "tam", "vik", "wen")]


def make_documents(n, rng):
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(FILLER, size=int(rng.integers(30, 61))))
        if i % 2:
            words[int(rng.integers(len(words)))] = CUE
        texts.append(" ".join(words))
        labels.append(i % 2)
    return texts, np.array(labels)


def build_model(vocab_size, maxlen):
    ids = keras.Input((maxlen,), dtype="int32")
    words = keras.layers.Embedding(vocab_size, 32, mask_zero=True)(ids)
    features = keras.layers.Dense(32, activation="tanh")(words)
    context = keras_attnviz.AdditiveAttention(name="word_attention")(features)
    output = keras.layers.Dense(1, activation="sigmoid")(context)
    return keras.Model(ids, output)


def main(argv=None):
    args = parse_example_args(__doc__, argv)
    rng = np.random.default_rng(0)

    texts, labels = make_documents(600 if args.quick else 2000, rng)
    test_texts, test_labels = make_documents(100, rng)
    vocab = keras_attnviz.Vocabulary.from_texts(texts + test_texts, level="word")
    maxlen = 60
    model = build_model(len(vocab), maxlen)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(vocab.encode(texts, maxlen=maxlen), labels, epochs=4 if args.quick
              else 6, batch_size=32, verbose=0)

    result = keras_attnviz.AttentionProbe(model).predict(
        vocab.encode(test_texts, maxlen=maxlen), verbose=0
    )
    maps = [result.sample(i, "word_attention", tokens=text.split())
            for i, text in enumerate(test_texts)]
    positives = [amap for amap, label in zip(maps, test_labels, strict=True)
                 if label]
    hits = [amap.tokens[int(np.argmax(amap.weights))] == CUE for amap in positives]

    document = positives[0]
    # About a third of an inch per word, so that every word gets its label.
    figure = Figure(figsize=(0.34 * len(document.tokens) + 1.5, 2.0),
                    layout="constrained")
    ax = figure.add_subplot()
    heatmap(document, ax=ax)
    ax.set_title("Weight of each word of a positive document (cue: 'superb')")
    path = os.path.join(args.out, "document_heatmap.png")
    figure.savefig(path, dpi=110)
    return {"peak_on_cue": float(np.mean(hits)), "pictures": [path]}


if __name__ == "__main__":
    print(main())
