import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "tensorflow_only: needs the TensorFlow backend (tf.data, tf.distribute, "
        "TF string tensors); skipped under JAX and PyTorch",
    )


def pytest_runtest_setup(item):
    if item.get_closest_marker("tensorflow_only") is None:
        return
    # Keras is imported here, not with this file: some tests check what a
    # fresh interpreter imports, and the marked tests import it anyway.
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        pytest.skip(f"needs the TensorFlow backend; running on {backend}")


@pytest.fixture
def rng():
    """A seeded NumPy generator, so every test sees the same data."""
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
