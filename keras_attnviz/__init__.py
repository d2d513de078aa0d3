"""keras-attnviz: attention layers, a probe for attention weights, and renderers.

The public names load on first use (PEP 562), so `import keras_attnviz` stays
cheap, and `keras_attnviz.render` or a pickled `ProbeResult` work where Keras
and TensorFlow cannot be imported at all.

Example:

```python
import keras
import keras_attnviz

inputs = keras.Input((None,), dtype="int32")
x = keras.layers.Embedding(1000, 32, mask_zero=True)(inputs)
x = keras.layers.GRU(32, return_sequences=True)(x)
context = keras_attnviz.AdditiveAttention(name="attention")(x)
model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(context))
```
"""

import sys

from keras_attnviz._lazy import lazy_attributes
from keras_attnviz.version import __version__

_PUBLIC = {
    "AdditiveAttention": "layers",
    "AttentionMap": "probe.results",
    "AttentionMonitor": "callbacks",
    "AttentionProbe": "probe.attention_probe",
    "Attribution": "attribution.attribution",
    "DotProductAttention": "layers",
    "FaithfulnessReport": "faithfulness",
    "ProbeResult": "probe.results",
    "Vocabulary": "vocabulary",
    "faithfulness_report": "faithfulness",
    "integrated_gradients": "attribution.gradients",
    "load_model": "saving.load",
    "occlusion": "attribution.leave_one_out",
}

__all__ = [*sorted(_PUBLIC), "__version__"]
__getattr__ = lazy_attributes(__name__, _PUBLIC)


def __dir__():
    return __all__


if sys.modules.get("keras") is not None:
    # Keras is loaded already, so registering the layers costs nothing and lets
    # `keras.models.load_model` find them by name after `import keras_attnviz`.
    # Without Keras, `keras_attnviz.load_model` or any import of
    # `keras_attnviz.layers` registers them.
    import keras_attnviz.layers  # noqa: F401
