"""Reloading saved models: `.keras`, Keras 3 `.h5` and Keras 2 `.h5` files.

`load` is the entry point; `training_config` reads what a file says about its
compilation; `legacy/` rewrites Keras 2 configs and code for Keras 3.
"""

from keras_attnviz.saving.load import load_model

__all__ = ["load_model"]
