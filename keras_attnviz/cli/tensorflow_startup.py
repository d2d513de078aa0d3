"""Starts TensorFlow without its C++ start-up log or its Python warnings.

On import and at its first op, TensorFlow's C++ code writes lines such as
"oneDNN custom operations are on", "Could not find cuda drivers" and absl's
"All log messages before absl::InitializeLog()" banner, some of them whatever
`TF_CPP_MIN_LOG_LEVEL` says. They go to file descriptor 2 directly, so only
pointing that descriptor elsewhere hides them.

TensorFlow's Python logger warns "N out of the last M calls to <function
...one_step_on_data_distributed> triggered tf.function retracing" whenever a
command builds several models (the demo trains two and probes each): it
counts the first trace of every model's `predict` as a retrace of one
function, since they share Keras's code. A command hides those warnings too.
"""

import contextlib
import logging
import os
import sys


def start_tensorflow(*, verbose):
    """Imports Keras and TensorFlow and creates TensorFlow's devices.

    Args:
        verbose: bool. If `False`, TensorFlow's C++ start-up log and the
            warnings of its Python logger are hidden (errors still show); if
            `True`, both are shown as TensorFlow writes them.

    Example:

    ```python
    from keras_attnviz.cli.tensorflow_startup import start_tensorflow

    start_tensorflow(verbose=False)  # silent, where `import keras` is not
    ```
    """
    if verbose:
        import keras  # noqa: F401

        return
    # Hides what TensorFlow's C++ code logs later on, such as oneDNN falling
    # back to Eigen while a model compiles, ERROR lines included: a failure
    # that matters reaches Python as an exception.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _file_descriptor_2_to_devnull():
        import keras

        logging.getLogger("tensorflow").setLevel(logging.ERROR)

        # TensorFlow creates its devices at the first op, and logs its CUDA
        # probe then: run one here, while the log is hidden.
        keras.ops.zeros(())


@contextlib.contextmanager
def _file_descriptor_2_to_devnull():
    # Whatever Python wrote to stderr so far must reach it, not /dev/null.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
