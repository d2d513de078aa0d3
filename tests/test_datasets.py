import numpy as np
import pytest

from keras_attnviz.datasets import CUE_WORD, cue_sentences


def test_label_is_the_presence_of_the_cue_word():
    data = cue_sentences(400, seed=1)
    for text, label, span in zip(data.texts, data.labels, data.cue_spans, strict=True):
        words = text.split()
        assert (CUE_WORD in words) == bool(label)
        if label:
            assert text[span[0] : span[1]] == CUE_WORD
        else:
            assert span is None


def test_classes_are_balanced_and_the_seed_repeats():
    data = cue_sentences(101, seed=5)
    assert abs(int(data.labels.sum()) - 50) <= 1
    again = cue_sentences(101, seed=5)
    assert again.texts == data.texts
    assert cue_sentences(101, seed=6).texts != data.texts


def test_cue_position_varies():
    data = cue_sentences(300, seed=2)
    starts = {span[0] for span in data.cue_spans if span}
    assert len(starts) > 5
    assert len({len(text) for text in data.texts}) > 10


def test_custom_cue():
    data = cue_sentences(20, seed=0, cue="wow")
    pairs = zip(data.texts, data.labels, strict=True)
    assert all(("wow" in text.split()) == bool(label) for text, label in pairs)


@pytest.mark.parametrize("n", [0, -3])
def test_bad_sizes_raise_value_error(n):
    with pytest.raises(ValueError, match="Received: n="):
        cue_sentences(n)


@pytest.mark.parametrize("n", [2.5, "10", True, np.float32(3)])
def test_non_int_size_raises_type_error(n):
    with pytest.raises(TypeError, match="must be an int"):
        cue_sentences(n)


@pytest.mark.parametrize("cue", ["", "two words", "  ", " superb "])
def test_bad_cue_raises(cue):
    with pytest.raises(ValueError, match="one non-empty word"):
        cue_sentences(4, cue=cue)


@pytest.mark.parametrize("cue", ["long", "the", "and", "usual"])
def test_cue_that_the_sentences_use_anyway_is_refused(cue):
    # Negatives would hold it and the cue span could point at another word.
    with pytest.raises(ValueError, match="use anyway"):
        cue_sentences(4, cue=cue)
