"""Analyses of attention weights: rollout, flow and per-head statistics.

These functions read a probe's `ProbeResult` or plain arrays, and import NumPy
only (pandas inside `head_summary`), never Keras or TensorFlow: a saved result
can be analysed on a machine without them.

Example:

```python
>>> import numpy as np
>>> from keras_attnviz.analysis import attention_rollout, head_summary
>>> rng = np.random.default_rng(0)
>>> # Two layers of two heads over three positions, rows summing to 1.
>>> layers = [rng.dirichlet(np.ones(3), size=(2, 3)) for _ in range(2)]
>>> attention_rollout(layers).shape
(3, 3)
>>> list(head_summary(layers)["head"])
[0, 1, 0, 1]
```
"""

from keras_attnviz.analysis.flow import attention_flow
from keras_attnviz.analysis.head_summary import head_summary
from keras_attnviz.analysis.rollout import attention_rollout

__all__ = ["attention_flow", "attention_rollout", "head_summary"]
