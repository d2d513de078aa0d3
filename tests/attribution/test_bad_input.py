"""Bad input to the attribution functions: each a clear error in Keras style."""

import keras
import numpy as np
import pytest

from keras_attnviz.attribution import (
    gradient_x_input,
    integrated_gradients,
    occlusion,
    saliency,
)

from .models import VOCAB, layers, pooled_classifier


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return pooled_classifier(4, classes=3)


IDS = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m: occlusion(m, IDS, target=3),
            ValueError,
            r"`target` must be a class from 0 to 2 \(3 outputs\). Received: 3",
        ),
        (
            lambda m: occlusion(m, IDS, target=[0, 1, 2]),
            ValueError,
            r"one class per sample \(2\). Received: 3 targets",
        ),
        (
            lambda m: occlusion(m, IDS, target=1.5),
            TypeError,
            "`target` must be None, an int or one int per sample",
        ),
        (
            lambda m: integrated_gradients(m, IDS, steps=0),
            ValueError,
            "`steps` must be at least 1. Received: steps=0",
        ),
        (
            lambda m: integrated_gradients(m, IDS, baseline=VOCAB),
            ValueError,
            f"`baseline` must be a token id from 0 below {VOCAB}",
        ),
        (
            lambda m: integrated_gradients(m, IDS, baseline="zeros"),
            TypeError,
            r"`baseline` must be None \(zero embeddings\) or an int token id",
        ),
        (
            lambda m: occlusion(m, IDS, window=0),
            ValueError,
            "`window` must be at least 1",
        ),
        (
            lambda m: occlusion(m, IDS, replace_with="unk"),
            ValueError,
            '`replace_with` must be "mask" or a token id',
        ),
        (
            lambda m: occlusion(m, IDS, replace_with=-1),
            ValueError,
            "`replace_with` must be a token id from 0",
        ),
        (
            lambda m: saliency(m, IDS, batch_size=True),
            TypeError,
            "`batch_size` must be a positive int",
        ),
        (
            lambda m: saliency(m, IDS[:0]),
            ValueError,
            r"`inputs` must hold at least one sample. Received: \(0, 4\)",
        ),
        (
            lambda m: saliency(m, np.array([[1, 2, 3, 4], [0, 0, 0, 0]])),
            ValueError,
            "at least one real token.*sample 1 is all padding",
        ),
        (
            lambda m: saliency(m, IDS, key_mask=(IDS > 0).astype(int)),
            TypeError,
            "`key_mask` must be a boolean array.*Received: an array of dtype int",
        ),
        (
            lambda m: saliency(m, IDS, key_mask=np.ones((2, 3), bool)),
            ValueError,
            r"one value per id .* \(2, 4\). Received: shape \(2, 3\)",
        ),
    ],
)
def test_bad_arguments(model, call, error, message):
    with pytest.raises(error, match=message):
        call(model)


def test_a_model_with_two_outputs(rng):
    ids = keras.Input((4,), dtype="int32")
    pooled = layers.GlobalAveragePooling1D()(layers.Embedding(VOCAB, 3)(ids))
    model = keras.Model(ids, [layers.Dense(1)(pooled), layers.Dense(2)(pooled)])
    with pytest.raises(ValueError, match="one output to explain.*with 2 outputs"):
        gradient_x_input(model, IDS)


def test_a_backend_without_gradients_is_refused_by_name(model, monkeypatch):
    # Occlusion only runs the model; gradients need a backend that has them.
    monkeypatch.setattr(keras.backend, "backend", lambda: "numpy")
    assert occlusion(model, IDS).scores.shape == IDS.shape
    with pytest.raises(NotImplementedError, match="Received: the 'numpy' backend"):
        integrated_gradients(model, IDS)
