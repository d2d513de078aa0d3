"""Watching attention learn: `AttentionMonitor` with TensorBoard.

A word-level classifier pools its word embeddings with `AdditiveAttention`;
a sentence is positive when it holds the cue word "superb". The monitor
records the attention of four test sentences before training and after each
epoch, and writes it to `OUT/logs` beside Keras's own `TensorBoard` callback:

    tensorboard --logdir OUT/logs

shows the heatmaps in the Images tab (`attention/word_attention/<sample>`,
the step is the epoch) and the entropy of the weights in the Histograms tab,
falling as the attention settles on the cue. `OUT/attention_epochs.html` is
the same story offline, with a slider over the epochs.

Run: python examples/attention_monitor.py --out DIR
"""

import os

import keras
import numpy as np
from example_args import parse_example_args

import keras_attnviz
from keras_attnviz.datasets import CUE_WORD, cue_sentences

MAXLEN = 16
LAYER_NAME = "word_attention"


def build_model(vocab_size):
    ids = keras.Input((MAXLEN,), dtype="int32")
    words = keras.layers.Embedding(vocab_size, 16, mask_zero=True)(ids)
    context = keras_attnviz.AdditiveAttention(name=LAYER_NAME)(words)
    output = keras.layers.Dense(1, activation="sigmoid")(context)
    return keras.Model(ids, output)


def peak_on_cue(result, tokens):
    """Share of the watched positive sentences whose attention peak is the cue."""
    hits = []
    for i, words in enumerate(tokens):
        if CUE_WORD in words:
            amap = result.sample(i, LAYER_NAME, tokens=words)
            hits.append(amap.tokens[int(np.argmax(amap.weights))] == CUE_WORD)
    return float(np.mean(hits))


def main(argv=None):
    args = parse_example_args(__doc__, argv)
    train = cue_sentences(600 if args.quick else 4000, seed=0)
    test = cue_sentences(4, seed=1)  # two of them positive
    vocab = keras_attnviz.Vocabulary.from_texts(train.texts + test.texts, level="word")
    tokens = [text.split() for text in test.texts]

    log_dir = os.path.join(args.out, "logs")
    monitor = keras_attnviz.AttentionMonitor(
        vocab.encode(test.texts, maxlen=MAXLEN), tokens=tokens, log_dir=log_dir
    )
    model = build_model(len(vocab))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(
        vocab.encode(train.texts, maxlen=MAXLEN),
        train.labels,
        epochs=4 if args.quick else 8,
        batch_size=32,
        verbose=0,
        callbacks=[keras.callbacks.TensorBoard(log_dir), monitor],
    )

    positive = next(i for i, words in enumerate(tokens) if CUE_WORD in words)
    page = os.path.join(args.out, "attention_epochs.html")
    monitor.render(sample=positive, level="word").save(
        page, title="Attention over the epochs"
    )
    epochs = sorted(monitor.history)
    print(f"TensorBoard: tensorboard --logdir {log_dir}")
    return {
        "peak_on_cue": peak_on_cue(monitor.history[epochs[-1]], tokens),
        "untrained_peak_on_cue": peak_on_cue(monitor.history[epochs[0]], tokens),
        "epochs": epochs,
        "log_dir": log_dir,
        "pictures": [page],
    }


if __name__ == "__main__":
    print(main())
