"""The token data the saving tests predict on, and checks of what reloads predict."""

import keras
import numpy as np

VOCABULARY, LENGTH = 30, 7


def expect_same(loaded, original, x):
    """Checks that the reloaded model predicts what the saved one did on `x`."""
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), original.predict(x, verbose=0), atol=1e-6
    )


def expect_keras2_numbers(model, legacy_dir, name):
    """Checks that `model` predicts what tf_keras's model `name` did.

    `legacy_dir` is the folder `legacy_models.py` wrote.
    """
    assert isinstance(model, keras.Model)
    expected = np.load(legacy_dir / f"{name}.npy")
    atol = 1e-5
    if expected.dtype == np.float16:
        # Mixed precision: the backends may round each float16 hidden unit
        # (|h| < 1) differently, by half an epsilon (2**-11), and the output
        # layer sums those through its kernel; the weights are random, so the
        # bound is taken from them.
        kernel = keras.ops.convert_to_numpy(model.layers[-1].kernel)
        atol = 2**-11 * np.abs(kernel).sum(axis=0).max()
    np.testing.assert_allclose(
        model.predict(np.load(legacy_dir / "inputs.npy"), verbose=0),
        expected,
        rtol=1e-7,
        atol=atol,
    )
