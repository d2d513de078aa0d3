"""The probe: attention weights of a model's layers, in one forward pass.

`results` holds the plain NumPy result objects and imports NumPy only; the
rest (layer discovery, the graph rebuild, batching) imports Keras. The public
names load on first use, so unpickling a `ProbeResult` needs no Keras.
"""

from keras_attnviz._lazy import lazy_attributes

_PUBLIC = {
    "AttentionMap": "results",
    "AttentionProbe": "attention_probe",
    "ProbeResult": "results",
}

__all__ = sorted(_PUBLIC)
__getattr__ = lazy_attributes(__name__, _PUBLIC)
