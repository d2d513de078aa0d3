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
    # Mixed precision: TensorFlow and another backend may round a float16
    # differently, a few units in its last place (2**-10 of the value).
    rtol = 2**-8 if expected.dtype == np.float16 else 1e-7
    np.testing.assert_allclose(
        model.predict(np.load(legacy_dir / "inputs.npy"), verbose=0),
        expected,
        rtol=rtol,
        atol=1e-5,
    )
