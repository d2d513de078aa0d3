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
    np.testing.assert_allclose(
        model.predict(np.load(legacy_dir / "inputs.npy"), verbose=0),
        np.load(legacy_dir / f"{name}.npy"),
        atol=1e-5,
    )
