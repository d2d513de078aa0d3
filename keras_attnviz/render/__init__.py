"""Renderers: attention weights as HTML spans, styled DataFrames and heatmaps.

This package never imports keras or tensorflow; tensors are read with
`np.asarray`.
"""
