"""Built-in synthetic text data with a planted cue, for demos and tests.

The label of each sentence is decided by one planted cue word, so a model
that learned the task must use the cue, and a picture of its attention can be
checked against the truth.
"""

import dataclasses

import numpy as np

_SUBJECTS = (
    "the film",
    "this book",
    "the show",
    "our trip",
    "the meal",
    "my day",
    "the game",
    "that song",
    "the plot",
    "his talk",
)
_VERBS = ("was", "felt", "seemed", "looked", "became")
_FILLERS = ("quite", "rather", "fairly", "very", "so", "a bit")
_NEUTRAL = (
    "long",
    "slow",
    "loud",
    "plain",
    "late",
    "busy",
    "odd",
    "calm",
    "cold",
    "wet",
    "dark",
    "short",
)
_TAILS = (
    "today",
    "again",
    "overall",
    "at first",
    "in the end",
    "for me",
    "to us",
    "as usual",
)
CUE_WORD = "superb"
_BUILT_IN_WORDS = frozenset(
    word
    for phrases in (_SUBJECTS, _VERBS, _FILLERS, _NEUTRAL, _TAILS, ("and",))
    for phrase in phrases
    for word in phrase.split()
)


@dataclasses.dataclass(frozen=True)
class CueSentences:
    """Sentences, labels and the character span of each planted cue.

    Attributes:
        texts: list of sentences.
        labels: int array, 1 where the sentence holds the cue word.
        cue_spans: list of `(start, end)` character offsets of the cue, or
            `None` for negative sentences.
    """

    texts: list
    labels: np.ndarray
    cue_spans: list

    def __len__(self):
        return len(self.texts)


def cue_sentences(n, *, seed=0, cue=CUE_WORD):
    """Generates `n` short sentences whose label is the presence of a cue word.

    Half the sentences hold `cue` at a random word position; the others hold a
    neutral adjective there instead. Sentence length and wording vary, so the
    cue's position carries no information.

    Args:
        n: number of sentences, a positive int.
        seed: seed of the generator; the same seed gives the same data.
        cue: the word that makes a sentence positive.

    Returns:
        A `CueSentences`.

    Raises:
        TypeError: if `n` is not an int.
        ValueError: if `n < 1`, or `cue` is not one word or is a word the
            sentences use anyway.

    Example:

    ```python
    >>> from keras_attnviz.datasets import cue_sentences
    >>> data = cue_sentences(4, seed=1)
    >>> data.labels.tolist()
    [0, 1, 0, 1]
    >>> data.texts[1]
    'the show seemed long and superb to us'
    >>> start, end = data.cue_spans[1]
    >>> data.texts[1][start:end]
    'superb'
    ```
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"`n` must be an int. Received: n={n!r} of type {type(n)}")
    if n < 1:
        raise ValueError(f"`n` must be at least 1. Received: n={n}")
    if not isinstance(cue, str) or cue != cue.strip() or not cue or " " in cue:
        raise ValueError(
            "`cue` must be one non-empty word without surrounding spaces. "
            f"Received: cue={cue!r}"
        )
    if cue in _BUILT_IN_WORDS:
        raise ValueError(
            "`cue` must not be a word the sentences use anyway, or negatives "
            f"would hold it too. Received: cue={cue!r}"
        )
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2).astype("int32")
    rng.shuffle(labels)
    texts, spans = [], []
    for label in labels:
        words = [_pick(rng, _SUBJECTS), _pick(rng, _VERBS)]
        if rng.random() < 0.5:
            words.append(_pick(rng, _FILLERS))
        adjectives = [_pick(rng, _NEUTRAL) for _ in range(rng.integers(1, 3))]
        slot = int(rng.integers(0, len(adjectives) + 1))
        adjectives.insert(slot, cue if label else _pick(rng, _NEUTRAL))
        words.append(" and ".join(adjectives))
        if rng.random() < 0.6:
            words.append(_pick(rng, _TAILS))
        text = " ".join(words)
        texts.append(text)
        spans.append(_word_span(text, cue) if label else None)
    return CueSentences(texts=texts, labels=labels, cue_spans=spans)


def _pick(rng, choices):
    return choices[int(rng.integers(len(choices)))]


def _word_span(text, word):
    start = f" {text} ".index(f" {word} ")
    return (start, start + len(word))
