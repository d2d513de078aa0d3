"""The probe computes with the model's current weights."""

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz import AttentionProbe

from .builders import assert_outputs_equal, classifier, token_ids


def test_probe_follows_further_training(rng):
    model = classifier(keras_attnviz.AdditiveAttention(name="att"))
    probe = AttentionProbe(model)
    ids = token_ids(rng, 16, 9, rng.integers(2, 10, 16))
    before = probe.predict(ids, verbose=0).attention["att"]

    model.compile(optimizer=keras.optimizers.SGD(5.0), loss="binary_crossentropy")
    model.fit(ids, rng.integers(0, 2, (16, 1)), epochs=1, verbose=0)
    after = probe.predict(ids, verbose=0)

    assert not np.allclose(after.attention["att"], before)
    assert_outputs_equal(after, model.predict(ids, verbose=0))
    states = keras.Model(model.input, model.layers[2].output).predict(ids, verbose=0)
    _, direct = model.get_layer("att")(
        states, mask=ids != 0, return_attention_scores=True
    )
    direct = keras.ops.convert_to_numpy(direct)
    np.testing.assert_allclose(after.attention["att"], direct, atol=1e-6)


@pytest.mark.parametrize("setting", ["jit_compile", "run_eagerly"])
def test_the_probe_predicts_as_the_compiled_model_does(rng, setting):
    model = classifier(keras_attnviz.AdditiveAttention(name="att"))
    model.compile(loss="binary_crossentropy", **{setting: True})
    probe = AttentionProbe(model)
    assert getattr(probe.model, setting) is True
    ids = token_ids(rng, 8, 9, rng.integers(1, 10, 8))
    result = probe.predict(ids, verbose=0)
    np.testing.assert_allclose(result.outputs, model.predict(ids, verbose=0), atol=1e-6)
    assert np.all(result.attention["att"][ids == 0] == 0)
