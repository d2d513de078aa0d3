"""Keras 2 compatibility: configs, lambdas, the `K` backend and TF-op layers."""
