"""What the user gives the command line, and the one error that blames it.

`UserInputError` is the only error `main` reports as bad input (one line, exit
code 2); anything else is a bug. Our own checks raise it; `as_user_error`
turns the errors of a step that reads the user's input into it.

The model, `--texts` and `--vocab` must be regular files: a FIFO, a device
(`/dev/zero`) or a folder is refused from `os.stat`, before anything opens it,
so nothing blocks or reads without end. `--texts` may hold at most
`MAX_TEXTS_BYTES` (4 MiB, some 40,000 texts of 100 characters) and `--vocab`
at most `MAX_VOCAB_BYTES` (32 MiB); both must be UTF-8. These checks need no
model, so they run before TensorFlow starts.
"""

import contextlib

from keras_attnviz.cli.tensorflow_startup import start_tensorflow
from keras_attnviz.text_files import check_regular_file, read_text_file
from keras_attnviz.vocabulary import MAX_FILE_BYTES, Vocabulary

MAX_TEXTS_BYTES = 4 * 2**20
MAX_VOCAB_BYTES = MAX_FILE_BYTES
# The suffixes `keras_attnviz.saving.load_model` reads (it imports Keras, so
# they are repeated here; tests/cli/test_start_up.py checks they agree).
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class UserInputError(Exception):
    """Bad input from the user: a path, a file, a text or an option."""


@contextlib.contextmanager
def as_user_error(*error_types):
    """Re-raises the `error_types` raised inside as `UserInputError`.

    Wrap only a step whose errors of these types can only come from the
    user's input (their model file, vocabulary or texts); the same error
    from any other step is a bug, and must not be reported as bad input.

    Args:
        *error_types: exception classes, such as `ValueError` and `OSError`.

    Example:

    ```python
    from keras_attnviz.cli.user_input import UserInputError, as_user_error
    from keras_attnviz.vocabulary import Vocabulary

    try:
        with as_user_error(ValueError, OSError):
            Vocabulary.load("no-such-vocab.json")
    except UserInputError as error:
        print(error)  # The vocabulary file must be an existing file. Received: ...
    ```
    """
    try:
        yield
    except error_types as error:
        raise UserInputError(str(error) or type(error).__name__) from error


def check_file(path, name, *, max_bytes=None):
    """Refuses a `path` that is not an existing regular file, without opening it.

    Args:
        path: the path the user gave.
        name: how the command line calls it (`"MODEL"`, `"--vocab"`).
        max_bytes: the largest size accepted, or `None` for any.

    Raises:
        UserInputError: if `path` is missing, is a folder, FIFO, device or
            socket, or is larger than `max_bytes`.
    """
    with as_user_error(ValueError, OSError):
        check_regular_file(path, name, max_bytes=max_bytes)


def read_texts(path):
    """The non-blank lines of the `--texts` file.

    Raises:
        UserInputError: if the file is not a regular file, is larger than
            `MAX_TEXTS_BYTES`, is not UTF-8 (the message gives where), or
            holds no non-blank line.
    """
    with as_user_error(ValueError, OSError):
        text = read_text_file(path, "--texts", max_bytes=MAX_TEXTS_BYTES)
    # Universal newlines, as a file opened in text mode reads them.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise UserInputError(
            f"--texts must hold at least one non-blank line. Received: {path!r}"
        )
    return lines


def read_vocabulary(path, *, level):
    """The `--vocab` file as a `Vocabulary`, or `None` without one (`path=None`).

    Needs no model, nor TensorFlow, so a bad file is reported at once.

    Raises:
        UserInputError: if the file is not a regular file, is larger than
            `MAX_VOCAB_BYTES`, or is not a vocabulary (see `Vocabulary.load`).
    """
    if path is None:
        return None
    check_file(path, "--vocab", max_bytes=MAX_VOCAB_BYTES)
    # Vocabulary.load names the file in its errors: not UTF-8, bad JSON,
    # nested too deeply, no tokens, repeated tokens or ids.
    with as_user_error(ValueError, OSError):
        return Vocabulary.load(path, level=level, max_bytes=MAX_VOCAB_BYTES)


def load_model_file(path, *, verbose):
    """Loads the model file the user named, starting TensorFlow on the way.

    Args:
        path: the MODEL argument, a `.keras` or `.h5` file.
        verbose: bool, whether to show TensorFlow's start-up log.

    Returns:
        A `keras.Model`.

    Raises:
        UserInputError: if there is no such file, it is not a regular file
            (a folder, FIFO or device), its name does not end in a model
            suffix, or the loader cannot read it.
    """
    # Checked before TensorFlow starts, so a typo costs no start-up time.
    check_file(path, "MODEL")
    if not str(path).lower().endswith(MODEL_SUFFIXES):
        raise UserInputError(
            f"MODEL must be a file ending in one of {', '.join(MODEL_SUFFIXES)}. "
            f"Received: {str(path)!r}"
        )
    start_tensorflow(verbose=verbose)
    from keras_attnviz.saving.load import load_model

    # The loader's errors for a file it cannot read are ValueError and OSError,
    # and they name the file.
    with as_user_error(ValueError, OSError):
        return load_model(path)
