"""Keras callbacks: `AttentionMonitor` records attention while a model trains.

Its epoch page, figures and TensorBoard summaries are drawn by the modules
beside it; TensorFlow loads only when a monitor writes to TensorBoard.
"""

from keras_attnviz._lazy import lazy_attributes

_PUBLIC = {"AttentionMonitor": "attention_monitor"}

__all__ = sorted(_PUBLIC)
__getattr__ = lazy_attributes(__name__, _PUBLIC)
