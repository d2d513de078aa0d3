"""Integrated gradients, gradient x input and saliency against what they must equal."""

import keras
import numpy as np
import pytest

from keras_attnviz.attribution import (
    gradient_x_input,
    integrated_gradients,
    saliency,
)

from .models import (
    VOCAB,
    gru_classifier,
    layers,
    linear_over_embeddings,
    pooled_classifier,
    pre_padded_ids,
)


def analytic_contributions(model, ids, baseline_vectors=0.0):
    """Per token, Dense weights . (embedding - baseline): exact for a linear model."""
    table = model.get_layer("embedding").embeddings.numpy()
    kernel = model.layers[-1].kernel.numpy()[:, 0]  # (T * D,)
    length, dim = ids.shape[1], table.shape[1]
    moved = table[ids] - baseline_vectors  # (N, T, D)
    return (moved * kernel.reshape(length, dim)).sum(axis=-1)


def test_integrated_gradients_are_complete_on_a_gru_classifier(rng):
    keras.utils.set_random_seed(0)
    model = gru_classifier(10)
    ids = pre_padded_ids(rng, 16, 10, rng.integers(3, 11, 16))
    attribution = integrated_gradients(model, ids, steps=128)
    change = attribution.target_output - attribution.baseline_output
    assert np.median(np.abs(change)) > 0.05  # the gap is relative to the change
    assert attribution.completeness_gap.max() < 0.01
    np.testing.assert_allclose(attribution.scores.sum(axis=1), change, atol=1e-4)
    # The gap measures convergence: one step is far from complete.
    one_step = integrated_gradients(model, ids, steps=1)
    assert np.median(one_step.completeness_gap) > 0.05


def test_on_a_linear_model_both_equal_the_analytic_contributions(rng):
    keras.utils.set_random_seed(0)
    model = linear_over_embeddings()
    ids = rng.integers(0, VOCAB, (4, 5))
    expected = analytic_contributions(model, ids)
    for method in (gradient_x_input, integrated_gradients):
        attribution = method(model, ids, target=1)
        np.testing.assert_allclose(attribution.scores, expected, rtol=1e-4, atol=1e-6)


def test_a_baseline_id_moves_from_that_token_s_embedding(rng):
    keras.utils.set_random_seed(0)
    model = linear_over_embeddings()
    ids = rng.integers(1, VOCAB, (3, 5))
    padding_vector = model.get_layer("embedding").embeddings.numpy()[0]
    attribution = integrated_gradients(model, ids, target=1, baseline=0, steps=4)
    expected = analytic_contributions(model, ids, padding_vector)
    np.testing.assert_allclose(attribution.scores, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(attribution.completeness_gap, 0.0, atol=1e-4)


def test_padding_scores_zero_and_changes_nothing_else(rng):
    keras.utils.set_random_seed(0)
    model = pooled_classifier()  # any length: the same sample padded or not
    short = rng.integers(1, VOCAB, (2, 4))
    padded = np.concatenate([np.zeros((2, 3), int), short], axis=1)
    for method in (integrated_gradients, gradient_x_input, saliency):
        on_padded = method(model, padded)
        on_short = method(model, short)
        assert not on_padded.key_mask[:, :3].any()
        assert (on_padded.scores[:, :3] == 0).all()
        np.testing.assert_allclose(
            on_padded.scores[:, 3:], on_short.scores, rtol=1e-4, atol=1e-7
        )


def test_rows_batched_in_any_size_give_the_same_scores(rng):
    keras.utils.set_random_seed(0)
    model = pooled_classifier(6)
    ids = pre_padded_ids(rng, 5, 6, [6, 2, 4, 1, 5])
    whole = integrated_gradients(model, ids, steps=8)
    in_pieces = integrated_gradients(model, ids, steps=8, batch_size=7)
    np.testing.assert_allclose(whole.scores, in_pieces.scores, rtol=1e-5, atol=1e-8)


def test_class_zero_of_a_sigmoid_output_is_one_minus_it(rng):
    keras.utils.set_random_seed(0)
    model = pooled_classifier(6)
    ids = pre_padded_ids(rng, 3, 6, [6, 3, 5])
    positive = integrated_gradients(model, ids, target=1, steps=16)
    negative = integrated_gradients(model, ids, target=[0, 0, 0], steps=16)
    np.testing.assert_allclose(negative.scores, -positive.scores, atol=1e-7)
    np.testing.assert_allclose(negative.target_output, 1 - positive.target_output)


def test_the_predicted_class_is_explained_by_default(rng):
    keras.utils.set_random_seed(0)
    model = pooled_classifier(6, classes=3)
    ids = pre_padded_ids(rng, 4, 6, [6, 3, 5, 2])
    probabilities = model.predict(ids, verbose=0)
    attribution = gradient_x_input(model, ids)
    np.testing.assert_array_equal(attribution.target, probabilities.argmax(axis=1))
    np.testing.assert_allclose(attribution.target_output, probabilities.max(axis=1))


def test_saliency_is_the_norm_of_the_gradient_at_the_embeddings(rng):
    keras.utils.set_random_seed(0)
    model = pooled_classifier(6, classes=3)
    ids = pre_padded_ids(rng, 2, 6, [6, 4])
    # p = softmax(W mean(real vectors) + b): at a real position, the gradient
    # of p_2 is W (p_2 (e_2 - p)) / n, the same for every real position.
    kernel = keras.ops.convert_to_numpy(model.layers[-1].kernel)
    probabilities = model.predict(ids, verbose=0)
    real = ids != 0
    logit_gradient = probabilities[:, 2:3] * (np.eye(3)[2] - probabilities)
    per_vector = logit_gradient @ kernel.T / real.sum(axis=1, keepdims=True)
    expected = np.where(real, np.linalg.norm(per_vector, axis=-1)[:, None], 0.0)
    attribution = saliency(model, ids, target=2)
    np.testing.assert_allclose(attribution.scores, expected, rtol=1e-4, atol=1e-8)
    assert (attribution.scores >= 0).all()


def test_a_layer_of_your_own_that_looks_ids_up(rng):
    class Lookup(layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(VOCAB, 3), name="table")

        def call(self, ids):
            return keras.ops.take(self.table, ids, axis=0)

    keras.utils.set_random_seed(0)
    ids_input = keras.Input((4,), dtype="int32")
    vectors = Lookup(name="lookup")(ids_input)
    model = keras.Model(ids_input, layers.Dense(1)(layers.Flatten()(vectors)))
    ids = rng.integers(0, VOCAB, (2, 4))
    with pytest.raises(ValueError, match="no Embedding layer"):
        gradient_x_input(model, ids, target=1)
    by_name = gradient_x_input(model, ids, target=1, layer="lookup")
    kernel = model.layers[-1].kernel.numpy()[:, 0].reshape(4, 3)
    expected = (model.get_layer("lookup").table.numpy()[ids] * kernel).sum(-1)
    np.testing.assert_allclose(by_name.scores, expected, rtol=1e-4, atol=1e-6)
