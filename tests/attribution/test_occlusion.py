"""Occlusion equals re-running the model without each token, on every model shape."""

import keras
import numpy as np
import pytest

from keras_attnviz.attribution import occlusion

from .models import (
    VOCAB,
    gru_classifier,
    layers,
    occlusion_by_loop,
    pooled_classifier,
    pre_padded_ids,
    target_outputs,
)


def test_occlusion_equals_a_loop_that_reruns_the_model_without_each_token(rng):
    keras.utils.set_random_seed(0)
    model = gru_classifier(7)
    ids = pre_padded_ids(rng, 4, 7, [7, 3, 5, 1])
    attribution = occlusion(model, ids)
    expected = occlusion_by_loop(model, ids, attribution.target)
    np.testing.assert_allclose(attribution.scores, expected, atol=1e-6)
    assert (attribution.scores[ids == 0] == 0).all()


def test_windows_and_replacement_ids(rng):
    keras.utils.set_random_seed(0)
    model = pooled_classifier(6)
    ids = pre_padded_ids(rng, 3, 6, [6, 4, 1])
    target = np.array([1, 0, 1])
    windowed = occlusion(model, ids, target=target, window=2)
    np.testing.assert_allclose(
        windowed.scores, occlusion_by_loop(model, ids, target, window=2), atol=1e-6
    )
    replaced = occlusion(model, ids, target=target, replace_with=VOCAB - 1)
    np.testing.assert_allclose(
        replaced.scores,
        occlusion_by_loop(model, ids, target, replacement=VOCAB - 1),
        atol=1e-6,
    )


def test_sequential_nested_and_subclassed_models(rng):
    keras.utils.set_random_seed(0)
    sequential = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            layers.Embedding(VOCAB, 4, mask_zero=True),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    inner_ids = keras.Input((5,), dtype="int32")
    inner = keras.Model(
        inner_ids,
        layers.GlobalAveragePooling1D()(
            layers.Embedding(VOCAB, 4, mask_zero=True)(inner_ids)
        ),
    )
    outer_ids = keras.Input((5,), dtype="int32")
    nested = keras.Model(
        outer_ids, layers.Dense(2, activation="softmax")(inner(outer_ids))
    )

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.embedding = layers.Embedding(VOCAB, 4, mask_zero=True)
            self.pooling = layers.GlobalAveragePooling1D()
            self.dense = layers.Dense(1, activation="sigmoid")

        def call(self, ids):
            return self.dense(self.pooling(self.embedding(ids)))

    subclassed = Subclassed()
    ids = pre_padded_ids(rng, 3, 5, [5, 2, 4])
    subclassed(ids)
    for model in (sequential, nested, subclassed):
        attribution = occlusion(model, ids)
        expected = occlusion_by_loop(model, ids, attribution.target)
        np.testing.assert_allclose(attribution.scores, expected, atol=1e-6)


def test_a_model_with_several_inputs(rng):
    keras.utils.set_random_seed(0)
    ids_input = keras.Input((5,), dtype="int32", name="ids")
    extra = keras.Input((2,), name="extra")
    pooled = layers.GlobalAveragePooling1D()(
        layers.Embedding(VOCAB, 4, mask_zero=True)(ids_input)
    )
    joined = layers.Concatenate()([pooled, extra])
    model = keras.Model(
        {"ids": ids_input, "extra": extra},
        layers.Dense(1, activation="sigmoid")(joined),
    )
    ids = pre_padded_ids(rng, 3, 5, [5, 2, 4])
    inputs = {"ids": ids, "extra": rng.normal(size=(3, 2)).astype("float32")}
    attribution = occlusion(model, inputs, target=1)
    full = target_outputs(model, inputs, [1, 1, 1])
    for i, j in [(0, 0), (1, 4), (2, 2)]:
        edited = {"ids": ids.copy(), "extra": inputs["extra"]}
        edited["ids"][i, j] = 0
        drop = full[i] - target_outputs(model, edited, [1, 1, 1])[i]
        assert attribution.scores[i, j] == pytest.approx(drop, abs=1e-6)


@pytest.mark.tensorflow_only  # TextVectorization takes TF string tensors
def test_ids_computed_inside_a_functional_graph_are_masked_too():
    # The mask Keras computes from TextVectorization's ids is an operation of
    # the graph beside the Embedding: removing a word must reach it as well.
    keras.utils.set_random_seed(0)
    text = keras.Input((1,), dtype="string")
    vectorize = layers.TextVectorization(
        vocabulary=["what", "a", "superb", "day"], output_sequence_length=6
    )
    words = layers.Embedding(8, 4, mask_zero=True)(vectorize(text))
    model = keras.Model(
        text,
        layers.Dense(1, activation="sigmoid")(layers.GlobalAveragePooling1D()(words)),
    )
    texts = np.array([["what a superb day"], ["a day"]])
    attribution = occlusion(model, texts, target=1)
    assert attribution.key_mask.sum(axis=1).tolist() == [4, 2]
    full = target_outputs(model, texts, [1, 1])
    without_superb = target_outputs(model, np.array([["what a day"]]), [1])
    assert attribution.scores[0, 2] == pytest.approx(
        full[0] - without_superb[0], abs=1e-6
    )
