"""Renderers: attention weights as HTML spans, styled DataFrames and heatmaps.

This package never imports keras or tensorflow; tensors are read with
`np.asarray`.
"""

from keras_attnviz.render.head_view import head_view
from keras_attnviz.render.heads_grid import heads_grid
from keras_attnviz.render.heatmap import heatmap
from keras_attnviz.render.html_spans import html_report, html_spans
from keras_attnviz.render.model_view import model_view
from keras_attnviz.render.styler import styler

__all__ = [
    "head_view",
    "heads_grid",
    "heatmap",
    "html_report",
    "html_spans",
    "model_view",
    "styler",
]
