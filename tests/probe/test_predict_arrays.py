"""`probe.predict` over NumPy arrays: batch by batch into place, as Keras's loop."""

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz import AttentionProbe
from keras_attnviz.probe import batches

from .builders import assert_outputs_equal, classifier, token_ids


@pytest.fixture(scope="module")
def probed():
    rng = np.random.default_rng(2)
    model = classifier(keras_attnviz.AdditiveAttention(name="att"))
    ids = token_ids(rng, 70, 9, rng.integers(1, 10, 70))
    return model, AttentionProbe(model), ids


def _keras_loop(probe, x, **kwargs):
    """The same probe, through `model.predict`'s own loop (the `steps` path)."""
    outputs, tensors = probe.model.predict(x, verbose=0, **kwargs)
    return probe._result(outputs, tensors)


@pytest.mark.parametrize("batch_size", [None, 16, 70, 500])
def test_arrays_give_what_the_keras_loop_gives(probed, batch_size):
    model, probe, ids = probed

    result = probe.predict(ids, batch_size=batch_size, verbose=0)
    expected = _keras_loop(probe, ids, batch_size=batch_size)

    assert_outputs_equal(result, model.predict(ids, batch_size=batch_size, verbose=0))
    np.testing.assert_array_equal(result.attention["att"], expected.attention["att"])
    np.testing.assert_array_equal(result.key_masks["att"], expected.key_masks["att"])
    assert result.attention["att"].flags.owndata  # not a view of one batch


def test_float64_inputs_are_cast_to_floatx_as_keras_casts_them():
    # Keras's loop rounds float64 arrays to floatx before the model sees them,
    # even a model that computes in float64: its outputs show the rounding
    # (about 1e-8 here), which the tolerance (for XLA's fusions) would not hide.
    inputs = keras.Input((5, 4), dtype="float64")
    context = keras_attnviz.DotProductAttention(dtype="float64", name="att")(inputs)
    model = keras.Model(inputs, context)
    x = np.random.default_rng(0).normal(size=(6, 5, 4))

    result = AttentionProbe(model).predict(x, batch_size=4, verbose=0)

    expected = model.predict(x, batch_size=4, verbose=0)  # float32 under JAX
    assert result.outputs.dtype == expected.dtype
    np.testing.assert_allclose(result.outputs, expected, rtol=1e-12)


class _ShapeChangingModel:
    """Stands for a model whose outputs are as long as each batch's longest row."""

    def __init__(self):
        self.calls = 0

    def predict_on_batch(self, x):
        self.calls += 1
        longest = int((x != 0).sum(axis=1).max())
        return (np.ones((len(x), longest), "float32"), [])


def test_outputs_that_change_shape_between_batches_go_to_keras_loop():
    ids = np.zeros((6, 8), "int32")
    ids[:3, :2] = 1
    ids[3:, :5] = 1
    model = _ShapeChangingModel()

    assert batches.predict_arrays(model.predict_on_batch, ids, 3, num_inputs=1) is None
    assert model.calls == 2


def test_outputs_are_written_into_arrays_of_all_samples():
    class Doubling:
        def predict_on_batch(self, x):
            return {"twice": 2 * x["a"], "first": x["b"][:, :1]}

    class Counter:
        added = 0

        def add(self, n):
            self.added += n

    x = {"a": np.arange(10).reshape(5, 2), "b": np.arange(15.0).reshape(5, 3)}
    progbar = Counter()

    got = batches.predict_arrays(
        Doubling().predict_on_batch, x, 2, num_inputs=2, progbar=progbar
    )

    np.testing.assert_array_equal(got["twice"], 2 * x["a"])
    np.testing.assert_array_equal(got["first"], x["b"][:, :1])
    assert got["first"].dtype == keras.backend.floatx()  # float64 in, cast
    assert progbar.added == 3


@pytest.mark.parametrize(
    "x, expected",
    [
        (np.zeros((3, 2)), True),
        ([np.zeros((3, 2)), np.zeros((3,))], True),
        ({"a": np.zeros((3, 2)), "b": np.zeros((3, 1))}, True),
        ([np.zeros((3, 2)), np.zeros((4, 2))], False),  # Keras's loop says why
        (np.zeros((0, 2)), False),
        (np.zeros(()), False),
        ([[1, 2], [3, 4]], False),
        (np.array(["a day", "a slow day"]), False),  # Keras makes string tensors
        (np.array([{"a": 1}], dtype=object), False),
        (np.zeros((3, 2), "float16"), True),
        (np.zeros((3, 2), bool), True),
        ((np.zeros((3, 2)), None), False),
    ],
)
def test_which_inputs_take_the_array_path(x, expected):
    assert batches.are_numpy_arrays(x) is expected


@pytest.mark.parametrize("verbose", [0, 1, 2, "auto"])
def test_verbose_shows_a_progress_bar_unless_0(probed, capsys, verbose):
    _, probe, ids = probed
    capsys.readouterr()

    probe.predict(ids, batch_size=16, verbose=verbose)

    assert bool(capsys.readouterr().out) == (verbose != 0)


def _mixed_dtype_model():
    """Outputs of float32, bfloat16, booleans, int64 and strings."""
    inputs = keras.Input((3,), dtype="int32")
    floats = keras.layers.Embedding(5, 2)(inputs)
    narrow = keras.layers.Dense(2, dtype="bfloat16")(floats)
    flags = keras.layers.Lambda(lambda x: keras.ops.greater(x, 2))(inputs)
    wide = keras.layers.Lambda(lambda x: keras.ops.cast(x, "int64"))(inputs)
    words = keras.layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)(inputs)
    return keras.Model(inputs, [floats, narrow, flags, wide, words])


@pytest.mark.tensorflow_only
def test_batch_views_equal_predict_on_batch_for_every_dtype():
    from keras_attnviz import keras_internals

    model = _mixed_dtype_model()
    x = np.array([[1, 2, 3], [4, 0, 1]], "int32")

    viewed = keras_internals.predict_on_batch_views(model, x)
    copied = model.predict_on_batch(x)

    assert len(viewed) == len(copied) == 5
    for got, expected in zip(viewed, copied, strict=True):
        assert isinstance(got, np.ndarray)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    # Numbers and booleans are views of the tensors, the rest copies.
    assert [a.flags.writeable for a in viewed] == [False, True, False, False, True]


@pytest.mark.tensorflow_only
def test_batch_views_stay_valid_after_the_model_runs_again(probed):
    from keras_attnviz import keras_internals

    _, probe, ids = probed
    first = keras_internals.predict_on_batch_views(probe.model, ids[:8])
    kept = keras.tree.map_structure(np.copy, first)

    for _ in range(3):
        keras_internals.predict_on_batch_views(probe.model, ids[8:16])

    for got, expected in zip(
        keras.tree.flatten(first), keras.tree.flatten(kept), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


def test_results_are_writable_arrays_of_their_own(probed):
    _, probe, ids = probed

    result = probe.predict(ids, batch_size=16, verbose=0)

    for array in (result.attention["att"], result.key_masks["att"], result.outputs):
        assert array.flags.owndata and array.flags.writeable
