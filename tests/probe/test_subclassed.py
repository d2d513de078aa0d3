"""Subclassed models: TensorFlow's translation tutorial; lists, dicts, tuples."""

import keras
import numpy as np
import pytest

from keras_attnviz import AttentionProbe

from .builders import assert_outputs_equal, layers, token_ids
from .user_models import Translator


@pytest.fixture(scope="module")
def translator():
    rng = np.random.default_rng(3)
    model = Translator(8, context_vocab=30, target_vocab=25)
    context = token_ids(rng, 4, 7, [7, 3, 5, 2]) % 30
    target = token_ids(rng, 4, 5, [5, 5, 2, 4]) % 25
    model([context, target])  # built by calling it once, as the tutorial does
    return model, context, target


@pytest.mark.parametrize("form", ["list", "dict", "tuple"])
def test_translator_weights_are_the_ones_the_model_stores(translator, form):
    model, context, target = translator
    x = {
        "list": [context, target],
        "dict": {"context": context, "target": target},
        "tuple": (context, target),
    }[form]
    probe = AttentionProbe(model)
    result = probe.predict(x, verbose=0)
    assert probe.layer_names == ["decoder/attention/mha"]
    name = probe.layer_names[0]
    expected_outputs = model.predict(x, verbose=0)
    assert_outputs_equal(result, expected_outputs)
    model([context, target])
    stored = keras.ops.convert_to_numpy(model.decoder.last_attention_weights)
    weights = result.attention[name]
    assert weights.shape == (4, 1, 5, 7)  # (B, heads, target, context)
    np.testing.assert_allclose(weights.mean(axis=1), stored, atol=1e-6)
    # The context's padding is the key mask the layer applied.
    np.testing.assert_array_equal(result.key_masks[name], context != 0)
    np.testing.assert_array_equal(result.query_masks[name], target != 0)
    assert np.all(np.where((context == 0)[:, None, None, :], weights, 0) == 0)
    amap = result.sample(
        1, tokens=["c1", "c2", "c3"], query_tokens=["t1", "t2", "t3", "t4", "t5"]
    )
    assert amap.weights.shape == (1, 5, 3)
    assert result.self_attention == set()


def test_iter_batches_and_describe_after_the_first_run(translator):
    model, context, target = translator
    probe = AttentionProbe(model)
    with pytest.raises(ValueError, match="call `predict` or `iter_batches` first"):
        _ = probe.layer_names
    # A tuple of arrays is the model's two inputs, as for `model.predict`,
    # not `(x, y)`.
    batches = list(probe.iter_batches((context, target), batch_size=3, verbose=0))
    assert [len(b) for b in batches] == [3, 1]
    whole = probe.predict([context, target], verbose=0)
    np.testing.assert_allclose(
        np.concatenate([b.attention["decoder/attention/mha"] for b in batches]),
        whole.attention["decoder/attention/mha"],
        atol=1e-6,
    )
    # A generator's batches follow Keras's `(x, y)` rule: the inputs go as
    # `x` of a one-element tuple.
    [batch] = probe.iter_batches(iter([((context, target),)]), verbose=0)
    np.testing.assert_allclose(
        batch.attention["decoder/attention/mha"],
        whole.attention["decoder/attention/mha"],
        atol=1e-6,
    )
    assert probe.describe() == [
        ("decoder/attention/mha", "MultiHeadAttention", (None, 1, 5, 7))
    ]


def test_subclassed_model_with_plain_array_input(rng):
    class Pooler(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed = layers.Embedding(20, 8, mask_zero=True)
            self.pool = layers.Attention()
            self.out = layers.Dense(1)

        def call(self, ids):
            x = self.embed(ids)
            return self.out(self.pool([x, x]))

    model = Pooler()
    ids = token_ids(rng, 3, 6, [6, 2, 4]) % 20
    model(ids)
    result = AttentionProbe(model).predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    np.testing.assert_array_equal(result.key_masks["pool"], ids != 0)
    assert result.self_attention == {"pool"}
