"""Tests for `keras_attnviz.saving.legacy`: Keras 2 configs, lambdas, `K`, TF ops."""
