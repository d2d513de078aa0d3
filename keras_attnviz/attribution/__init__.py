"""Attribution: which input tokens drive a model's prediction.

Per-token scores, one per position of the embedding layer's input, for one
output of the model:

- `integrated_gradients`: Sundararajan et al. (2017), along the path from a
  baseline embedding, complete up to a gap each result reports;
- `gradient_x_input` and `saliency` (the gradient's norm), at the inputs;
- `occlusion`: the drop of the output when a token is removed.

Each returns an `Attribution` (plain NumPy); `Attribution.sample(i, tokens)`
renders with `render.html_spans`, `heatmap` and `styler` like attention.
`keras_attnviz.faithfulness` measures whether scores (attention's included)
pick the tokens the prediction rests on. Any backend with gradients does:
TensorFlow, JAX or PyTorch (occlusion also runs on NumPy's).

The public names load on first use, so unpickling an `Attribution` needs no
Keras.
"""

from keras_attnviz._lazy import lazy_attributes

_PUBLIC = {
    "Attribution": "attribution",
    "find_embedding_layer": "embedding_layer",
    "gradient_x_input": "gradients",
    "integrated_gradients": "gradients",
    "occlusion": "leave_one_out",
    "saliency": "gradients",
}

__all__ = sorted(_PUBLIC)
__getattr__ = lazy_attributes(__name__, _PUBLIC)
