"""Fixtures of the command-line tests: saved models, and ways to run the command."""

import json
import os
import subprocess
import sys

import pytest

from keras_attnviz.cli import main

# Runs `keras-attnviz ARGS` in a fresh interpreter and reports which of the
# heavy packages it imported.
_FRESH_RUN = """
import json, sys
from keras_attnviz.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
loaded = [name for name in ("keras", "tensorflow", "numpy") if name in sys.modules]
print(json.dumps({"code": code, "loaded": loaded}))
"""


@pytest.fixture(scope="session")
def char_model(tmp_path_factory):
    """An (untrained) demo classifier saved as .h5, with its vocabulary."""
    import keras

    from keras_attnviz.cli.demo import build_classifier
    from keras_attnviz.vocabulary import Vocabulary

    folder = tmp_path_factory.mktemp("char_model")
    vocab = Vocabulary.from_texts(["abcdefghijklmnopqrstuvwxyz <>/"])
    keras.utils.set_random_seed(0)
    model = build_classifier(len(vocab))
    model.save(folder / "model.h5")
    vocab.save(folder / "vocab.json")
    return folder


@pytest.fixture(scope="session")
def string_model(tmp_path_factory):
    """A model whose input is raw strings, split by a TextVectorization layer."""
    import keras

    import keras_attnviz

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TextVectorization in a model takes TF string tensors")
    folder = tmp_path_factory.mktemp("string_model")
    text = keras.Input((1,), dtype="string")
    vectorize = keras.layers.TextVectorization(
        vocabulary=["what", "a", "superb", "day"], output_sequence_length=6
    )
    words = keras.layers.Embedding(10, 8, mask_zero=True)(vectorize(text))
    pooled = keras_attnviz.DotProductAttention(name="word_attention")(words)
    model = keras.Model(text, keras.layers.Dense(1)(pooled))
    model.save(folder / "model.keras")
    return folder


@pytest.fixture
def run_cli(capsys):
    """Runs `keras-attnviz ARGV` in this process: `(exit code, stdout, stderr)`."""

    def run(*argv):
        code = main([str(arg) for arg in argv])
        printed = capsys.readouterr()
        return code, printed.out, printed.err

    return run


@pytest.fixture
def user_error(run_cli):
    """Runs `keras-attnviz ARGV`, checks it failed on bad input, returns the message.

    Bad input exits with code 2 and one line on stderr, without a traceback.
    """

    def run(*argv):
        code, _, err = run_cli(*argv)
        assert code == 2, err
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("keras-attnviz: error: ")
        return lines[0].removeprefix("keras-attnviz: error: ")

    return run


@pytest.fixture
def fresh_env():
    """The environment for a fresh `keras-attnviz`: no TF_CPP_MIN_LOG_LEVEL.

    tests/conftest.py sets it for the test process; the command must hide
    TensorFlow's log without the user's help.
    """
    return {
        name: value
        for name, value in os.environ.items()
        if name != "TF_CPP_MIN_LOG_LEVEL"
    }


@pytest.fixture
def run_fresh(fresh_env):
    """Runs `keras-attnviz ARGV` in a fresh interpreter.

    Returns:
        `(exit code, stdout without the report line, stderr, loaded)`, where
        `loaded` lists which of keras, tensorflow and numpy were imported.
    """

    def run(*argv):
        done = subprocess.run(
            [sys.executable, "-c", _FRESH_RUN, *map(str, argv)],
            capture_output=True,
            text=True,
            timeout=300,
            env=fresh_env,
        )
        *out, report = done.stdout.splitlines()
        report = json.loads(report)
        return report["code"], "\n".join(out), done.stderr, report["loaded"]

    return run


@pytest.fixture(scope="session")
def transformer_model(tmp_path_factory):
    """A word-level id model: two self-attention blocks, then attention pooling.

    Saved as .keras with its vocabulary; the blocks are keras.io's shape
    (`MultiHeadAttention` with 2 heads, residual and normalisation).
    """
    import keras

    import keras_attnviz
    from keras_attnviz.vocabulary import Vocabulary

    folder = tmp_path_factory.mktemp("transformer_model")
    vocab = Vocabulary.from_texts(
        ["what a superb day", "a slow <b>day</b>"], level="word"
    )
    keras.utils.set_random_seed(0)
    ids = keras.Input((8,), dtype="int32")
    x = keras.layers.Embedding(len(vocab), 16, mask_zero=True)(ids)
    for block in range(2):
        attended = keras.layers.MultiHeadAttention(
            num_heads=2, key_dim=8, name=f"self_attention_{block}"
        )(x, x)
        x = keras.layers.LayerNormalization()(x + attended)
    pooled = keras_attnviz.DotProductAttention(name="pooling")(x)
    model = keras.Model(ids, keras.layers.Dense(1)(pooled))
    model.save(folder / "model.keras")
    vocab.save(folder / "vocab.json")
    return folder
