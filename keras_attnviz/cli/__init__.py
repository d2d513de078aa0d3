"""The `keras-attnviz` command: the parser, and one module per command.

Only the parser loads at start-up, so `--help`, `--version` and arguments that
are wrong on their face answer before Keras and TensorFlow are imported.
"""

from keras_attnviz.cli.main import main

__all__ = ["main"]
