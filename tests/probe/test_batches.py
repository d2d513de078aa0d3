"""`iter_batches` over arrays, generators, datasets and PyDatasets."""

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz import AttentionProbe
from keras_attnviz.probe.results import ProbeResult

from .builders import classifier, layers, token_ids


@pytest.fixture(scope="module")
def batch_setup():
    rng = np.random.default_rng(1)
    model = classifier(keras_attnviz.AdditiveAttention(name="att"))
    ids = token_ids(rng, 50, 9, rng.integers(1, 10, 50))
    probe = AttentionProbe(model)
    return probe, ids, probe.predict(ids, verbose=0)


def _concat(results):
    return np.concatenate([r.attention["att"] for r in results])


def test_iter_batches_over_arrays_generator_and_dataset(batch_setup):
    # tf.data works under every backend (TensorFlow is installed with us).
    import tensorflow as tf

    probe, ids, whole = batch_setup
    labels = np.zeros((len(ids), 1))

    by_arrays = list(probe.iter_batches(ids, batch_size=16, verbose=0))
    assert [len(r) for r in by_arrays] == [16, 16, 16, 2]

    def generator():
        for start in range(0, len(ids), 20):
            yield ids[start : start + 20], labels[start : start + 20]

    by_generator = list(probe.iter_batches(generator(), verbose=0))
    dataset = tf.data.Dataset.from_tensor_slices((ids, labels)).batch(16)
    by_dataset = list(probe.iter_batches(dataset, verbose=0))
    plain_dataset = tf.data.Dataset.from_tensor_slices(ids).batch(25)
    by_plain = list(probe.iter_batches(plain_dataset, verbose=0))

    for results in (by_arrays, by_generator, by_dataset, by_plain):
        assert all(isinstance(r, ProbeResult) for r in results)
        np.testing.assert_allclose(_concat(results), whole.attention["att"], atol=1e-6)
        np.testing.assert_array_equal(
            np.concatenate([r.key_masks["att"] for r in results]), ids != 0
        )
        np.testing.assert_allclose(
            np.concatenate([r.outputs for r in results]), whole.outputs, atol=1e-6
        )


def test_iter_batches_for_several_inputs_takes_a_tuple_as_x(rng):
    a, b = keras.Input((3, 4)), keras.Input((5, 4))
    model = keras.Model([a, b], layers.Attention(name="att")([a, b]))
    x = (rng.normal(size=(6, 3, 4)), rng.normal(size=(6, 5, 4)))
    probe = AttentionProbe(model)
    whole = probe.predict(list(x), verbose=0).attention["att"]
    by_arrays = list(probe.iter_batches(x, batch_size=4, verbose=0))
    by_pairs = list(probe.iter_batches(iter([x, (x, np.zeros(6))]), verbose=0))
    np.testing.assert_allclose(_concat(by_arrays), whole, atol=1e-6)
    np.testing.assert_allclose(
        _concat(by_pairs), np.concatenate([whole, whole]), atol=1e-6
    )


def test_iter_batches_over_a_pydataset(batch_setup):
    probe, ids, whole = batch_setup

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            rows = ids[index * 20 : (index + 1) * 20]
            return rows, np.zeros(len(rows))

    results = list(probe.iter_batches(Batches(), verbose=0))
    assert [len(r) for r in results] == [20, 20, 10]
    np.testing.assert_allclose(_concat(results), whole.attention["att"], atol=1e-6)


def test_iter_batches_rejects_bad_arguments(batch_setup):
    import tensorflow as tf

    probe, ids, _ = batch_setup
    dataset = tf.data.Dataset.from_tensor_slices(ids).batch(8)
    with pytest.raises(ValueError, match="must be `None` for a dataset"):
        next(probe.iter_batches(dataset, batch_size=8))
    with pytest.raises(ValueError, match="must be positive"):
        next(probe.iter_batches(ids, batch_size=0))
    with pytest.raises(TypeError, match="iterable of batches"):
        next(probe.iter_batches(3.5))


def test_progress_bar_only_when_verbose(batch_setup, capsys):
    probe, ids, _ = batch_setup
    list(probe.iter_batches(ids, batch_size=25, verbose=0))
    probe.predict(ids, verbose=0)
    assert capsys.readouterr().out == ""
    list(probe.iter_batches(ids, batch_size=25, verbose=1))
    assert "2/2" in capsys.readouterr().out
