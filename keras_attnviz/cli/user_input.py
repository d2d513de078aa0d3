"""What the user gives the command line, and the one error that blames it.

`UserInputError` is the only error `main` reports as bad input (one line, exit
code 2); anything else is a bug. Our own checks raise it; `as_user_error`
turns the errors of a step that reads the user's input into it.
"""

import contextlib
import os

from keras_attnviz.cli.tensorflow_startup import start_tensorflow


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
        print(error)  # Cannot read the vocabulary file. Received: 'no-such-...
    ```
    """
    try:
        yield
    except error_types as error:
        raise UserInputError(str(error) or type(error).__name__) from error


def check_file(path, name):
    """Refuses a `path` that is not an existing file.

    Args:
        path: the path the user gave.
        name: how the command line calls it (`"MODEL"`, `"--vocab"`).

    Raises:
        UserInputError: if `path` is missing or is a folder.
    """
    if not os.path.isfile(path):
        found = "a folder" if os.path.isdir(path) else "no such file"
        raise UserInputError(
            f"{name} must be an existing file. Received: {path!r} ({found})"
        )


def load_model_file(path, *, verbose):
    """Loads the model file the user named, starting TensorFlow on the way.

    Args:
        path: the MODEL argument, a `.keras` or `.h5` file.
        verbose: bool, whether to show TensorFlow's start-up log.

    Returns:
        A `keras.Model`.

    Raises:
        UserInputError: if there is no such file, or the loader cannot read it.
    """
    # Checked before TensorFlow starts, so a typo costs no start-up time.
    check_file(path, "MODEL")
    start_tensorflow(verbose=verbose)
    from keras_attnviz.saving.load import load_model

    # The loader's errors for a file it cannot read are ValueError and OSError,
    # and they name the file.
    with as_user_error(ValueError, OSError):
        return load_model(path)
