"""Two planted-cue classifiers, trained once per session: one whose attention
explains it, one whose attention need not.

Both read the demo's char-level sentences (`cue_sentences`: label 1 iff the
sentence holds "superb"). Both query their attention with the GRU's final
state. The faithful one is the demo's own classifier: its attention averages
the characters' embeddings, so the only way to classify is to weight the cue.
The unfaithful one averages the GRU states: every state after the cue
already carries it, so its attention can look anywhere (README, "When
attention weights are (and are not) an explanation").
"""

import dataclasses
import functools

import numpy as np

from keras_attnviz.cli.demo import (
    MAXLEN,
    build_classifier,
    build_final_state_classifier,
)
from keras_attnviz.datasets import cue_sentences
from keras_attnviz.vocabulary import Vocabulary

N_TRAIN = 1000
EPOCHS = 3
LEARNING_RATE = 0.003  # Adam's default 0.001 needs more epochs


@dataclasses.dataclass(frozen=True)
class CueModels:
    """The two trained models and positive test sentences to explain.

    Attributes:
        faithful: the demo's classifier, trained.
        unfaithful: the final-state query over GRU states, trained.
        ids: `(n, MAXLEN)` pre-padded char ids of positive test sentences.
        texts: those sentences.
        cue_spans: the `(start, end)` of "superb" in each.
        vocab: the `Vocabulary`.
    """

    faithful: object
    unfaithful: object
    ids: np.ndarray
    texts: list
    cue_spans: list
    vocab: Vocabulary

    def on_cue(self, positions):
        """Whether each sample's position (in `ids`) lies on its cue."""
        starts = MAXLEN - np.array([len(text) for text in self.texts])
        return np.array(
            [
                start + span[0] <= position < start + span[1]
                for position, start, span in zip(
                    positions, starts, self.cue_spans, strict=True
                )
            ]
        )


@functools.cache
def trained_cue_models(n_test=32):
    import keras

    train, test = cue_sentences(N_TRAIN, seed=0), cue_sentences(4 * n_test, seed=1)
    vocab = Vocabulary.from_texts(train.texts + test.texts)

    def encode(texts):
        return vocab.encode(texts, maxlen=MAXLEN, padding="pre")

    models = []
    for build in (build_classifier, build_final_state_classifier):
        keras.utils.set_random_seed(1)
        model = build(len(vocab))
        model.compile(keras.optimizers.Adam(LEARNING_RATE), "binary_crossentropy")
        model.fit(
            encode(train.texts), train.labels, epochs=EPOCHS, batch_size=64, verbose=0
        )
        models.append(model)
    positives = [i for i, label in enumerate(test.labels) if label][:n_test]
    texts = [test.texts[i] for i in positives]
    return CueModels(
        *models,
        ids=encode(texts),
        texts=texts,
        cue_spans=[test.cue_spans[i] for i in positives],
        vocab=vocab,
    )
