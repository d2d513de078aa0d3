"""keras-hub backbones built from a config: BERT, GPT-2, Llama and Gemma (GQA)."""

from unittest import mock

import keras
import numpy as np
import pytest

from keras_attnviz import AttentionProbe
from keras_attnviz.render import heads_grid, html_spans

from .builders import (
    HUB_LENGTH as LENGTH,
)
from .builders import (
    RecordedCalls,
    assert_outputs_equal,
    hub_backbone,
    softmax_by_hand,
)

# family: (layer names, whether its self-attention is causal)
BACKBONES = {
    "bert": ("transformer_layer_{}/self_attention_layer", False),
    "gpt2": ("transformer_layer_{}/self_attention", True),
    "llama": ("transformer_layer_{}/self_attention", True),
    "gemma": ("decoder_block_{}/attention", True),
}


def _attention_layer(backbone, name):
    block_name, attribute = name.split("/")
    block = backbone.get_layer(block_name)
    return next(child for child in block._layers if child.name == attribute)


def _by_hand(backbone, layer, x):
    """The weights the layer itself gives, called on what it received."""
    if isinstance(layer, keras.layers.MultiHeadAttention):
        with RecordedCalls(layer) as recorded:
            backbone(x, training=False)
        [(args, kwargs)] = recorded.calls
        kwargs = {**kwargs, "return_attention_scores": True}
        scores = layer(*args, **kwargs)[1]
        return keras.ops.convert_to_numpy(scores)
    from keras_hub.src.models.llama import llama_attention

    # Llama's explicit softmax, which JAX and PyTorch would skip for
    # `keras.ops.dot_product_attention`.
    with mock.patch.object(
        llama_attention, "fused_attention_op_available", lambda: False
    ):
        [weights] = softmax_by_hand(layer, backbone, x)
    return weights.reshape(len(weights), -1, *weights.shape[-2:])


@pytest.mark.parametrize("family", list(BACKBONES))
def test_backbone_weights_masks_and_outputs(family):
    pattern, causal = BACKBONES[family]
    backbone, x = hub_backbone(family)
    probe = AttentionProbe(backbone)
    names = [pattern.format(i) for i in range(2)]
    assert probe.layer_names == names
    result = probe.predict(x, verbose=0)
    assert_outputs_equal(result, backbone.predict(x, verbose=0))
    padding = x["padding_mask"]
    future = np.triu(np.ones((LENGTH, LENGTH), bool), k=1)
    for name in names:
        weights = result.attention[name]
        heads = 4 if family in ("llama", "gemma") else 2
        assert weights.shape == (3, heads, LENGTH, LENGTH)  # per head, never averaged
        expected = _by_hand(backbone, _attention_layer(backbone, name), x)
        np.testing.assert_allclose(weights, expected, atol=1e-6)
        np.testing.assert_array_equal(result.key_masks[name], padding)
        assert np.all(np.where(~padding[:, None, None, :], weights, 0) == 0)
        rows = weights.sum(axis=-1)[padding[:, None, :].repeat(heads, 1)]
        np.testing.assert_allclose(rows, 1, rtol=1e-5)
        if causal:
            assert np.all(weights[..., future] == 0)
    assert result.causal == (set(names) if causal else set())
    assert result.self_attention == set(names)
    amap = result.sample(2, names[1], tokens=["a", "b", "c"])
    assert amap.weights.shape == (heads, 3, 3)
    figure = heads_grid({name: result.sample(1, name) for name in names})
    assert len(figure.axes) >= 2 * heads
    html_spans(amap.tokens, amap.weights[0].mean(axis=0)).to_html()


def test_llama_fused_kernel_gives_the_softmax_weights(monkeypatch):
    # On TensorFlow keras-hub's Llama takes its explicit softmax path; on JAX
    # and PyTorch it calls `keras.ops.dot_product_attention`. Forcing that
    # path here, the probe computes the weights beside the fused kernel.
    from keras_hub.src.models.llama import llama_attention

    backbone, x = hub_backbone("llama")
    monkeypatch.setattr(llama_attention, "fused_attention_op_available", lambda: False)
    explicit = AttentionProbe(backbone).predict(x, verbose=0)
    monkeypatch.setattr(llama_attention, "fused_attention_op_available", lambda: True)
    fused = AttentionProbe(backbone).predict(x, verbose=0)
    for name, weights in explicit.attention.items():
        np.testing.assert_allclose(fused.attention[name], weights, atol=1e-5)
        np.testing.assert_array_equal(fused.key_masks[name], x["padding_mask"])
    assert fused.causal == explicit.causal == set(explicit.attention)
    np.testing.assert_allclose(fused.outputs, explicit.outputs, atol=1e-5)
