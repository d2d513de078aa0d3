"""Attention inside custom layers, at any depth, called in every way Keras allows."""

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz import AttentionProbe

from .builders import VOCAB, assert_outputs_equal, layers, scores_by_hand, token_ids
from .user_models import keras_io_classifier


def test_keras_io_transformer_block(rng):
    model = keras_io_classifier()
    probe = AttentionProbe(model)
    assert probe.layer_names == ["transformer_block/att"]
    [(name, layer_class, shape)] = probe.describe()
    assert (layer_class, shape) == ("MultiHeadAttention", (None, 2, 10, 10))
    ids = rng.integers(1, 40, (5, 10))
    result = probe.predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    block = model.get_layer("transformer_block")
    [expected] = scores_by_hand(block.att, model, ids)
    np.testing.assert_allclose(result.attention[name], expected, atol=1e-6)
    np.testing.assert_allclose(result.attention[name].sum(axis=-1), 1, rtol=1e-5)
    assert result.self_attention == {name}
    assert result.causal == set()


class AttendingBlock(layers.Layer):
    """Calls its attention in one of the forms Keras layers are called."""

    def __init__(self, form, attention=None, **kwargs):
        super().__init__(**kwargs)
        self.form = form
        self.att = attention or layers.MultiHeadAttention(2, 4)

    def call(self, x, padding=None):
        att = self.att
        if self.form == "positional":
            return att(x, x)
        if self.form == "keywords":
            return att(query=x, value=x, key=x)
        if self.form == "attention_mask":
            mask = padding[:, None, :] & padding[:, :, None]
            return att(x, x, attention_mask=mask)
        if self.form == "query_and_key_masks":
            return att(x, x, query_mask=padding, key_mask=padding)
        if self.form == "causal":
            return att(x, x, use_causal_mask=True)
        if self.form == "scores_asked":
            out, self.scores = att(x, x, return_attention_scores=True)
            return out
        if self.form == "list":  # Keras `Attention`, ours: [query, value]
            return att([x, x], mask=[padding, padding])
        raise AssertionError(self.form)


def _block_model(form, attention=None):
    ids = keras.Input((7,), dtype="int32")
    padding = keras.ops.not_equal(ids, 0)
    x = layers.Embedding(VOCAB, 8)(ids)
    x = AttendingBlock(form, attention, name="block")(x, padding)
    model = keras.Model(ids, layers.Dense(1)(layers.GlobalAveragePooling1D()(x)))
    return model, model.get_layer("block")


FORMS = [
    "positional",
    "keywords",
    "attention_mask",
    "query_and_key_masks",
    "causal",
    "scores_asked",
]


@pytest.mark.parametrize("form", FORMS)
def test_every_call_form_gives_the_layers_own_weights(rng, form):
    model, block = _block_model(form)
    ids = token_ids(rng, 4, 7, [7, 3, 5, 1])
    result = AttentionProbe(model).predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    [expected] = scores_by_hand(block.att, model, ids)
    weights = result.attention["block/att"]
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    masked = form in ("attention_mask", "query_and_key_masks")
    if masked:
        np.testing.assert_array_equal(result.key_masks["block/att"], ids != 0)
        assert np.all(np.where((ids == 0)[:, None, None, :], weights, 0) == 0)
        amap = result.sample(1, tokens=["a", "b", "c"])
        assert amap.weights.shape == (2, 3, 3)
    else:
        assert "block/att" not in result.key_masks
    future = np.triu(np.ones((7, 7), bool), k=1)
    if form == "causal":
        assert np.all(weights[..., future] == 0)
        assert result.causal == {"block/att"}
    else:
        assert result.causal == set()


@pytest.mark.parametrize(
    "attention",
    [
        lambda: layers.Attention(),
        lambda: keras_attnviz.DotProductAttention(),
        lambda: keras_attnviz.AdditiveAttention(4),
    ],
    ids=["keras", "ours_dot", "ours_additive"],
)
def test_list_form_layers_inside_a_custom_layer_report_their_masks(rng, attention):
    model, block = _block_model("list", attention())
    ids = token_ids(rng, 4, 7, [7, 3, 5, 1])
    result = AttentionProbe(model).predict(ids, verbose=0)
    assert_outputs_equal(result, model.predict(ids, verbose=0))
    [expected] = scores_by_hand(block.att, model, ids)
    np.testing.assert_allclose(result.attention["block/att"], expected, atol=1e-6)
    np.testing.assert_array_equal(result.key_masks["block/att"], ids != 0)
    assert np.all(result.attention["block/att"][ids[:, None, :].repeat(7, 1) == 0] == 0)
    assert result.self_attention == {"block/att"}
    assert result.sample(2, tokens=list("abcde")).weights.shape == (5, 5)


class _Stack(layers.Layer):
    """Blocks in a list, heads in a dict, and a Sequential of blocks."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [AttendingBlock("positional") for _ in range(2)]
        self.heads = {"left": layers.MultiHeadAttention(1, 4)}
        self.tail = keras.Sequential([AttendingBlock("causal", name="last")])

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        x = x + self.heads["left"](x, x)
        return self.tail(x)


def test_attention_in_lists_dicts_and_held_sequentials(rng):
    inputs = keras.Input((6, 8))
    model = keras.Model(inputs, _Stack(name="stack")(inputs))
    probe = AttentionProbe(model)
    assert probe.layer_names == [
        "stack/blocks[0]/att",
        "stack/blocks[1]/att",
        "stack/heads[left]",
        "stack/tail/last/att",
    ]
    x = rng.normal(size=(3, 6, 8)).astype("float32")
    result = probe.predict(x, verbose=0)
    assert_outputs_equal(result, model.predict(x, verbose=0))
    stack = model.get_layer("stack")
    attention_layers = [
        stack.blocks[0].att,
        stack.blocks[1].att,
        stack.heads["left"],
        stack.tail.layers[0].att,
    ]
    for name, layer in zip(probe.layer_names, attention_layers, strict=True):
        [expected] = scores_by_hand(layer, model, x)
        np.testing.assert_allclose(result.attention[name], expected, atol=1e-6)
    assert result.causal == {"stack/tail/last/att"}


def test_layer_in_a_layer_in_a_nested_model_is_named_from_its_graph(rng):
    class Outer(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = AttendingBlock("keywords")

        def call(self, x):
            return self.inner(x)

    nested_in = keras.Input((5, 8))
    nested = keras.Model(nested_in, Outer(name="outer")(nested_in), name="encoder")
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, layers.Dense(1)(nested(inputs)))
    probe = AttentionProbe(model)
    assert probe.layer_names == ["outer/inner/att"]
    assert probe.describe()[0][1:] == ("MultiHeadAttention", (None, 2, 5, 5))
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    result = probe.predict(x, verbose=0)
    assert_outputs_equal(result, model.predict(x, verbose=0))
    layer = nested.get_layer("outer").inner.att
    [expected] = scores_by_hand(layer, model, x)
    np.testing.assert_allclose(result.attention["outer/inner/att"], expected, atol=1e-6)
    # The full path and the layer object select it too.
    for name in ("encoder/outer/inner/att", layer):
        assert AttentionProbe(model, layers=[name]).layer_names == ["outer/inner/att"]


def test_a_layer_asking_for_scores_itself_still_gets_them(rng):
    model, block = _block_model("scores_asked")
    ids = token_ids(rng, 2, 7, [7, 4])
    result = AttentionProbe(model).predict(ids, verbose=0)
    model(ids)
    scores = keras.ops.convert_to_numpy(block.scores)
    np.testing.assert_allclose(result.attention["block/att"], scores, atol=1e-6)


def test_a_layer_shared_by_two_blocks_is_one_layer_called_twice(rng):
    shared = layers.MultiHeadAttention(2, 4)
    first = AttendingBlock("positional", shared, name="first")
    second = AttendingBlock("positional", shared, name="second")
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, second(first(inputs)))
    probe = AttentionProbe(model)
    assert probe.layer_names == ["first/att", "first/att:1"]
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    result = probe.predict(x, verbose=0)
    assert_outputs_equal(result, model.predict(x, verbose=0))
    expected = scores_by_hand(shared, model, x)
    for name, want in zip(probe.layer_names, expected, strict=True):
        np.testing.assert_allclose(result.attention[name], want, atol=1e-6)
