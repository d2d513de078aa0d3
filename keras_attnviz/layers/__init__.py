"""Attention layers: additive (Bahdanau) and dot-product (Luong)."""

from keras_attnviz.layers.additive_attention import AdditiveAttention
from keras_attnviz.layers.dot_product_attention import DotProductAttention

__all__ = ["AdditiveAttention", "DotProductAttention"]
