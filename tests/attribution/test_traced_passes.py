"""The traced passes are kept with the model: traced once, and never keeping it
alive."""

import gc
import weakref

import keras
import numpy as np
import pytest

from keras_attnviz.attribution import integrated_gradients, occlusion
from keras_attnviz.attribution.runner import _EmbeddingHook

from .models import pooled_classifier, pre_padded_ids


@pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="PyTorch runs every pass eagerly"
)
def test_a_second_call_traces_nothing(rng, monkeypatch):
    keras.utils.set_random_seed(0)
    model = pooled_classifier(5)
    ids = pre_padded_ids(rng, 3, 5, [5, 2, 4])
    first = integrated_gradients(model, ids, steps=4)
    traces = []
    reset = _EmbeddingHook.reset
    monkeypatch.setattr(
        _EmbeddingHook,
        "reset",
        lambda self, **kw: traces.append(1) or reset(self, **kw),
    )
    if keras.backend.backend() == "tensorflow":
        # `tf.function` traces once for every batch size: more samples.
        more_samples = pre_padded_ids(rng, 7, 5, rng.integers(1, 6, 7))
        second, rows = np.concatenate([ids, more_samples]), [0, 1, 2]
    else:
        # `jax.jit` compiles once per batch shape: the samples, reordered.
        second, rows = ids[::-1], [2, 1, 0]
    again = integrated_gradients(model, second, steps=4)
    assert traces == []  # the hook is reset only when a pass traces
    np.testing.assert_allclose(again.scores[rows], first.scores, rtol=1e-6)
    occlusion(model, ids)
    assert len(traces) == 1  # removal is a pass of its own


def test_the_model_is_not_kept_alive(rng):
    model = pooled_classifier(5)
    ids = pre_padded_ids(rng, 2, 5, [5, 3])
    integrated_gradients(model, ids, steps=2)
    occlusion(model, ids)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None
