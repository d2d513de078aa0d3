"""keras-attnviz: attention layers, a probe for attention weights, and renderers.

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

from keras_attnviz.attention_map import AttentionMap, ProbeResult
from keras_attnviz.layers import AdditiveAttention, DotProductAttention
from keras_attnviz.loading import load_model
from keras_attnviz.probe import AttentionProbe
from keras_attnviz.version import __version__
from keras_attnviz.vocabulary import Vocabulary

__all__ = [
    "AdditiveAttention",
    "AttentionMap",
    "AttentionProbe",
    "DotProductAttention",
    "ProbeResult",
    "Vocabulary",
    "__version__",
    "load_model",
]
