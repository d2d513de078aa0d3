"""The probe computes with the model's current weights."""

import keras
import numpy as np

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
    np.testing.assert_allclose(after.attention["att"], direct, atol=1e-6)
