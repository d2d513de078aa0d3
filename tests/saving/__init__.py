"""Tests for `keras_attnviz.saving`, laid out as the package is."""
