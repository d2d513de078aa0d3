"""Fixtures of the saving tests: Keras 2 files, token ids and a masked model."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from .predictions import LENGTH, VOCABULARY


@pytest.fixture(scope="session")
def legacy_dir(tmp_path_factory):
    """Keras 2 `.h5` and `.keras` files and their predictions, by tf_keras, once."""
    out = tmp_path_factory.mktemp("keras2")
    subprocess.run(
        [sys.executable, str(Path(__file__).with_name("legacy_models.py")), str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"},
    )
    return out


@pytest.fixture
def tokens():
    """Token ids of `LENGTH` below `VOCABULARY`; rows 0 and 1 padded with 0."""
    x = np.random.default_rng(1).integers(1, VOCABULARY, size=(4, LENGTH))
    x[0, :3] = 0  # pre-padded
    x[1, -2:] = 0  # post-padded
    return x


@pytest.fixture
def make_masked_model():
    """Builds Embedding(mask_zero=True) -> GRU [-> `attention`] -> Dense(2)."""

    def make(attention=None):
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(VOCABULARY, 8, mask_zero=True)(inputs)
        x = keras.layers.GRU(6, return_sequences=attention is not None)(x)
        if attention is not None:
            x = attention(x)
        return keras.Model(inputs, keras.layers.Dense(2)(x))

    return make
