"""AttentionProbe: discovery, one-pass predict, masks, batches, reloads, strategies."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_attnviz
from keras_attnviz import AttentionProbe
from keras_attnviz.probe.results import AttentionMap, ProbeResult

layers = keras.layers
VOCAB = 30


def _token_ids(rng, n, length, real):
    """Ids in [1, VOCAB), post-padded with 0 after `real[i]` positions."""
    ids = rng.integers(1, VOCAB, (n, length))
    ids[np.arange(length)[None, :] >= np.asarray(real)[:, None]] = 0
    return ids


def _classifier(attention, *, length=9, mask_zero=True, name="classifier"):
    """Embedding -> GRU -> pooling attention -> Dense."""
    inputs = keras.Input((length,), dtype="int32", name="tokens")
    x = layers.Embedding(VOCAB, 8, mask_zero=mask_zero)(inputs)
    x = layers.GRU(8, return_sequences=True)(x)
    context = attention(x)
    return keras.Model(
        inputs, layers.Dense(1, activation="sigmoid")(context), name=name
    )


def _assert_outputs_equal(result, expected):
    keras.tree.assert_same_structure(result.outputs, expected)
    for got, want in zip(
        keras.tree.flatten(result.outputs), keras.tree.flatten(expected), strict=True
    ):
        np.testing.assert_array_equal(got, want)


# --- every kind of attention layer, against the layer called directly ---------

QUERY_LENGTH, KEY_LENGTH, DIM = 4, 6, 8


def _keras_attention():
    return layers.Attention(name="attention"), "list"


def _keras_additive():
    return layers.AdditiveAttention(name="attention"), "list"


def _mha():
    return layers.MultiHeadAttention(2, 4, name="attention"), "mha"


def _gqa():
    return layers.GroupQueryAttention(4, 4, 2, name="attention"), "mha"


def _ours_dot():
    return keras_attnviz.DotProductAttention(name="attention"), "list"


def _ours_additive():
    return keras_attnviz.AdditiveAttention(8, name="attention"), "list"


@pytest.mark.parametrize(
    "make", [_keras_attention, _keras_additive, _mha, _gqa, _ours_dot, _ours_additive]
)
@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_weights_equal_the_layer_called_directly(rng, make, cross):
    layer, style = make()
    query_in = keras.Input((QUERY_LENGTH if cross else KEY_LENGTH, DIM))
    value_in = keras.Input((KEY_LENGTH, DIM))
    inputs = [query_in, value_in] if cross else [query_in]
    value = value_in if cross else query_in
    out = layer(query_in, value) if style == "mha" else layer([query_in, value])
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(out)))

    probe = AttentionProbe(model)
    query = rng.normal(size=(5, *query_in.shape[1:])).astype("float32")
    values = rng.normal(size=(5, KEY_LENGTH, DIM)).astype("float32")
    x = [query, values] if cross else [query]
    result = probe.predict(x, verbose=0)

    _assert_outputs_equal(result, model.predict(x, verbose=0))
    direct_values = values if cross else query
    if style == "mha":
        _, expected = layer(query, direct_values, return_attention_scores=True)
    else:
        _, expected = layer([query, direct_values], return_attention_scores=True)
    assert probe.layer_names == ["attention"]
    np.testing.assert_allclose(result.attention["attention"], expected, atol=1e-6)
    # The symbolic shape is right too, also for cross-attention (Tq != Tk).
    [(name, class_name, shape)] = probe.describe()
    assert (name, class_name) == ("attention", type(layer).__name__)
    assert shape == (None, *np.shape(expected)[1:])
    assert result.self_attention == (set() if cross else {"attention"})


def test_pooling_layer_gives_one_weight_per_key(rng):
    model = _classifier(keras_attnviz.AdditiveAttention(name="pool"), mask_zero=False)
    x = rng.integers(1, VOCAB, (7, 9))
    result = AttentionProbe(model).predict(x, verbose=0)
    assert result.attention["pool"].shape == (7, 9)
    np.testing.assert_allclose(result.attention["pool"].sum(axis=1), 1, rtol=1e-5)
    _assert_outputs_equal(result, model.predict(x, verbose=0))


def test_layer_already_returning_scores_is_found(rng):
    inputs = keras.Input((5, 4))
    out, scores = layers.Attention(name="att")(
        [inputs, inputs], return_attention_scores=True
    )
    model = keras.Model(inputs, [out, scores])
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    result = AttentionProbe(model).predict(x, verbose=0)
    _assert_outputs_equal(result, model.predict(x, verbose=0))
    np.testing.assert_array_equal(result.attention["att"], result.outputs[1])


# --- discovery -----------------------------------------------------------------


def _self_attention_encoder(attention_name):
    """A Functional model holding one self-attention layer, to nest in another."""
    inputs = keras.Input((None, 8))
    attention = layers.MultiHeadAttention(2, 4, name=attention_name)
    return keras.Model(inputs, attention(inputs, inputs), name="encoder")


def test_discovers_layers_inside_nested_functional_and_sequential(rng):
    encoder = _self_attention_encoder("attention")
    pooler = keras.Sequential(
        [keras.Input((None, 8)), keras_attnviz.AdditiveAttention(name="attention")],
        name="pooler",
    )
    inputs = keras.Input((6, 8))
    x = encoder(inputs)
    x = layers.Attention(name="outer")([x, x])
    model = keras.Model(inputs, layers.Dense(1)(pooler(x)))

    probe = AttentionProbe(model)
    # Two layers share the plain name "attention": both get their path.
    assert probe.layer_names == ["encoder/attention", "outer", "pooler/attention"]
    x_data = rng.normal(size=(4, 6, 8)).astype("float32")
    result = probe.predict(x_data, verbose=0)
    _assert_outputs_equal(result, model.predict(x_data, verbose=0))
    assert result.attention["encoder/attention"].shape == (4, 2, 6, 6)
    assert result.attention["pooler/attention"].shape == (4, 6)

    only = AttentionProbe(model, layers=["pooler/attention"])
    assert only.layer_names == ["attention"]
    np.testing.assert_array_equal(
        only.predict(x_data, verbose=0).attention["attention"],
        result.attention["pooler/attention"],
    )


@pytest.mark.filterwarnings("ignore:.*does not support masking")
def test_nested_attention_gets_the_mask_of_the_nested_input(rng):
    encoder = _self_attention_encoder("self")
    inputs = keras.Input((6,), dtype="int32")
    x = encoder(layers.Embedding(VOCAB, 8, mask_zero=True)(inputs))
    model = keras.Model(inputs, layers.Dense(1)(layers.Flatten()(x)))
    ids = _token_ids(rng, 3, 6, [6, 2, 4])
    result = AttentionProbe(model).predict(ids, verbose=0)
    np.testing.assert_array_equal(result.key_masks["self"], ids != 0)
    # Keras masks the nested layer at run time: padded keys get no weight.
    assert np.all(result.attention["self"][1][..., 2:] == 0)
    assert result.sample(1, tokens=["a", "b"]).weights.shape == (2, 2, 2)


@pytest.mark.filterwarnings("ignore:.*does not support masking")
@pytest.mark.parametrize("strides", [1, 2])
def test_nested_attention_behind_a_mask_dropping_layer_gets_no_mask(rng, strides):
    # Conv1D drops the mask (and with strides=2 halves the sequence): the
    # attention inside never sees the caller's mask, so none is reported.
    nested_in = keras.Input((10, 8))
    x = layers.Conv1D(8, 3, strides=strides, padding="same")(nested_in)
    nested = keras.Model(
        nested_in, keras_attnviz.AdditiveAttention(name="att")(x), name="inner"
    )
    result, _ = _probe_nested(rng, nested)
    weights = result.attention["att"]
    assert weights.shape == (3, 10 // strides)
    assert "att" not in result.key_masks
    amap = result.sample(0)
    np.testing.assert_array_equal(amap.weights, weights[0])
    np.testing.assert_allclose(amap.weights.sum(), 1, rtol=1e-5)


def _probe_nested(rng, nested):
    """Probes `nested` called on a masked Embedding; outputs checked."""
    inputs = keras.Input((10,), dtype="int32")
    x = nested(layers.Embedding(VOCAB, 8, mask_zero=True)(inputs))
    model = keras.Model(inputs, layers.Dense(1)(x))
    ids = _token_ids(rng, 3, 10, [6, 10, 3])
    result = AttentionProbe(model).predict(ids, verbose=0)
    _assert_outputs_equal(result, model.predict(ids, verbose=0))
    return result, ids


@pytest.mark.parametrize("sequential", [False, True])
def test_nested_attention_behind_mask_carrying_layers_keeps_the_mask(rng, sequential):
    # A GRU carries the caller's mask on inside the nested model, and the
    # attention applies it: the probe reports it, so sample() drops padding.
    if sequential:
        nested = keras.Sequential(
            [keras.Input((10, 8)), layers.GRU(8, return_sequences=True),
             keras_attnviz.AdditiveAttention(name="att")],
            name="inner",
        )
    else:
        nested_in = keras.Input((10, 8))
        states = layers.GRU(8, return_sequences=True)(nested_in)
        nested = keras.Model(
            nested_in, keras_attnviz.AdditiveAttention(name="att")(states),
            name="inner",
        )
    result, ids = _probe_nested(rng, nested)
    np.testing.assert_array_equal(result.key_masks["att"], ids != 0)
    assert np.all(result.attention["att"][ids == 0] == 0.0)
    amap = result.sample(2, "att", tokens=["a", "b", "c"])
    assert amap.weights.shape == (3,)
    np.testing.assert_allclose(amap.weights.sum(), 1, rtol=1e-5)


def test_mask_that_a_layer_did_not_apply_is_not_reported(rng):
    # MultiHeadAttention removes the masks of its inputs when it runs, so the
    # other layer attending over the same tensor sees none at run time.
    inputs = keras.Input((6,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(inputs)
    _, scores = keras_attnviz.DotProductAttention(name="self")(
        [x, x], return_attention_scores=True
    )
    mixed = layers.MultiHeadAttention(2, 4, name="mha")(x, x)
    model = keras.Model(inputs, [scores, mixed])
    ids = _token_ids(rng, 3, 6, [3, 6, 4])
    expected = model.predict(ids, verbose=0)
    assert expected[0][0][:, 3:].min() > 0.01  # the model itself used no mask
    result = AttentionProbe(model).predict(ids, verbose=0)
    _assert_outputs_equal(result, expected)
    np.testing.assert_array_equal(result.attention["self"], expected[0])
    assert "self" not in result.key_masks and "self" not in result.query_masks
    amap = result.sample(0, "self")
    np.testing.assert_allclose(amap.weights.sum(axis=-1), 1, rtol=1e-5)
    # The masks that are reported are the ones applied: padded keys weigh 0.
    for name, mask in result.key_masks.items():
        weights = result.attention[name]
        padded = ~mask.reshape(len(mask), *(1,) * (weights.ndim - 2), -1)
        assert np.all(np.where(padded, weights, 0) == 0)


def test_causal_pooling_trims_padded_queries_too(rng):
    inputs = keras.Input((6,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(inputs)
    x = keras_attnviz.AdditiveAttention(name="causal")(x, use_causal_mask=True)
    pooled = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, layers.Dense(1)(pooled))
    ids = np.array([[0, 0, 0, 4, 5, 6]])
    result = AttentionProbe(model).predict(ids, verbose=0)
    weights = result.attention["causal"]
    assert weights.shape == (1, 6, 6)  # each key position is also a query
    assert result.self_attention == {"causal"}
    amap = result.sample(0, tokens=["a", "b", "c"])
    assert amap.query_tokens == ["a", "b", "c"]
    np.testing.assert_array_equal(amap.weights, weights[0][3:, 3:])
    np.testing.assert_allclose(np.tril(amap.weights).sum(axis=-1), 1, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:.*does not support masking")
@pytest.mark.parametrize("kind", ["mha", "gqa"])
def test_masked_fused_attention_outputs_equal_predict_at_padded_queries(rng, kind):
    # The fused kernel gives padded queries the mean of the values; asked for
    # scores, Keras computes a softmax that gives them zeros. Flatten and mean
    # read the padded queries, so the probe must keep the fused outputs.
    if kind == "mha":
        attention = layers.MultiHeadAttention(2, 4, name="attention")
    else:
        attention = layers.GroupQueryAttention(4, 4, 2, name="attention")
    inputs = keras.Input((7,), dtype="int32")
    embedding = layers.Embedding(VOCAB, 8, mask_zero=True)
    x = attention(embedding(inputs), embedding(inputs))
    flat = layers.Dense(2)(layers.Flatten()(x))
    mean = keras.ops.mean(x, axis=1)
    model = keras.Model(inputs, [flat, mean])
    ids = _token_ids(rng, 4, 7, [7, 3, 5, 1])
    result = AttentionProbe(model).predict(ids, verbose=0)
    for got, want in zip(result.outputs, model.predict(ids, verbose=0), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # The scores are still those of the masked softmax.
    embedded = embedding(ids)
    _, expected = attention(embedded, embedded, return_attention_scores=True)
    np.testing.assert_allclose(result.attention["attention"], expected, atol=1e-6)
    np.testing.assert_array_equal(result.key_masks["attention"], ids != 0)
    assert np.all(result.attention["attention"][1][:, :3, 3:] == 0)


@pytest.mark.parametrize("make", [_mha, _gqa])
def test_causal_fused_attention_without_a_mask_keeps_predict_outputs(rng, make):
    # A causal mask alone leaves every query a key, so one call is enough.
    layer, _ = make()
    inputs = keras.Input((KEY_LENGTH, DIM))
    x = layer(inputs, inputs, use_causal_mask=True)
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))
    x_data = rng.normal(size=(5, KEY_LENGTH, DIM)).astype("float32")
    result = AttentionProbe(model).predict(x_data, verbose=0)
    _assert_outputs_equal(result, model.predict(x_data, verbose=0))
    weights = result.attention["attention"]
    future = np.triu(np.ones((KEY_LENGTH, KEY_LENGTH), bool), k=1)
    assert np.all(weights[..., future] == 0)


def test_sequential_model_and_shared_layer_calls(rng):
    shared = layers.Attention(name="att")
    a, b = keras.Input((3, 4), name="a"), keras.Input((5, 4), name="b")
    model = keras.Model(
        {"a": a, "b": b},
        {"first": shared([a, b]), "second": shared([b, a])},
    )
    probe = AttentionProbe(model)
    assert probe.layer_names == ["att", "att:1"]
    x = {"a": rng.normal(size=(2, 3, 4)), "b": rng.normal(size=(2, 5, 4))}
    result = probe.predict(x, verbose=0)
    _assert_outputs_equal(result, model.predict(x, verbose=0))
    # One entry per call, in the order the model computes them.
    shapes = {result.attention[name].shape for name in ("att", "att:1")}
    assert shapes == {(2, 3, 5), (2, 5, 3)}

    sequential = keras.Sequential(
        [
            keras.Input((7,)),
            layers.Embedding(VOCAB, 4),
            keras_attnviz.AdditiveAttention(),
        ]
    )
    ids = rng.integers(1, VOCAB, (3, 7))
    sequential_result = AttentionProbe(sequential).predict(ids, verbose=0)
    _assert_outputs_equal(sequential_result, sequential.predict(ids, verbose=0))


def test_several_inputs_and_outputs_keep_the_predict_structure(rng):
    q_in = keras.Input((4,), dtype="int32", name="query")
    v_in = keras.Input((6,), dtype="int32", name="values")
    embed = layers.Embedding(VOCAB, 8, mask_zero=True)
    q, v = embed(q_in), embed(v_in)
    cross = layers.MultiHeadAttention(2, 4, name="cross")(q, v)
    pooled = keras_attnviz.AdditiveAttention(name="pool")(v)
    model = keras.Model(
        [q_in, v_in],
        [
            layers.Dense(3)(layers.GlobalAveragePooling1D()(cross)),
            layers.Dense(1)(pooled),
        ],
    )
    x = [
        _token_ids(rng, 6, 4, [4, 3, 2, 4, 1, 4]),
        _token_ids(rng, 6, 6, [6, 2, 5, 1, 3, 6]),
    ]
    result = AttentionProbe(model).predict(x, batch_size=4, verbose=0)
    _assert_outputs_equal(result, model.predict(x, batch_size=4, verbose=0))
    assert result.attention["cross"].shape == (6, 2, 4, 6)  # (heads, Tq, Tk)
    np.testing.assert_array_equal(result.key_masks["cross"], x[1] != 0)
    np.testing.assert_array_equal(result.query_masks["cross"], x[0] != 0)
    np.testing.assert_array_equal(result.key_masks["pool"], x[1] != 0)
    amap = result.sample(1, "cross", tokens=["v1", "v2"], query_tokens=list("abc"))
    assert amap.weights.shape == (2, 3, 2)


# --- masks and padding -----------------------------------------------------------


@pytest.mark.parametrize(
    "attention",
    [
        lambda: keras_attnviz.AdditiveAttention(name="att"),
        lambda: keras_attnviz.DotProductAttention(name="att"),
    ],
    ids=["additive", "dot"],
)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padded_keys_get_zero_weight_and_samples_drop_them(rng, attention, padding):
    model = _classifier(attention())
    real = [9, 4, 1, 6]
    ids = _token_ids(rng, 4, 9, real)
    if padding == "pre":
        ids = np.stack([np.roll(row, 9 - n) for row, n in zip(ids, real, strict=True)])
    result = AttentionProbe(model).predict(ids, verbose=0)
    weights, mask = result.attention["att"], result.key_masks["att"]
    np.testing.assert_array_equal(mask, ids != 0)
    assert np.all(weights[~mask] == 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-5)
    for i, n in enumerate(real):
        tokens = [f"w{j}" for j in range(n)]
        amap = result.sample(i, tokens=tokens)
        assert isinstance(amap, AttentionMap)
        assert amap.tokens == tokens
        np.testing.assert_array_equal(amap.weights, weights[i][ids[i] != 0])


def test_self_attention_mask_trims_queries_and_keys(rng):
    inputs = keras.Input((7,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(inputs)
    x = layers.MultiHeadAttention(2, 4, name="mha")(x, x)
    model = keras.Model(inputs, layers.Dense(1)(layers.GlobalAveragePooling1D()(x)))
    ids = _token_ids(rng, 3, 7, [7, 3, 5])
    result = AttentionProbe(model).predict(ids, verbose=0)
    _assert_outputs_equal(result, model.predict(ids, verbose=0))
    assert np.all(result.attention["mha"][1][:, :3, 3:] == 0)
    amap = result.sample(1, tokens=["a", "b", "c"])
    assert amap.weights.shape == (2, 3, 3)
    assert amap.query_tokens == ["a", "b", "c"]
    np.testing.assert_allclose(amap.weights.sum(axis=-1), 1, rtol=1e-5)


# --- naming layers -----------------------------------------------------------------


def _recipe_model(length=8):
    """The Stack Overflow recipe: a softmax named `attention_vec`, no mask."""
    inputs = keras.Input((length,), dtype="int32")
    x = layers.Embedding(VOCAB, 8)(inputs)
    x = layers.GRU(8, return_sequences=True)(x)
    scores = layers.Flatten()(layers.Dense(1, activation="tanh", name="score")(x))
    weights = layers.Activation("softmax", name="attention_vec")(scores)
    context = layers.Dot(axes=1)([weights, x])
    output = layers.Dense(1, activation="sigmoid", name="output")(context)
    return keras.Model(inputs, output)


def test_named_softmax_layer_is_exposed(rng):
    model = _recipe_model()
    with pytest.raises(ValueError, match=r"layers=\['attention_vec'\]"):
        AttentionProbe(model)
    probe = AttentionProbe(model, layers=["attention_vec"])
    ids = rng.integers(1, VOCAB, (5, 8))
    result = probe.predict(ids, verbose=0)
    _assert_outputs_equal(result, model.predict(ids, verbose=0))
    softmax_out = keras.Model(model.input, model.get_layer("attention_vec").output)
    np.testing.assert_array_equal(
        result.attention["attention_vec"], softmax_out.predict(ids, verbose=0)
    )
    amap = result.sample(0, tokens=list("abc"), padding="pre")
    np.testing.assert_array_equal(
        amap.weights, result.attention["attention_vec"][0, 5:]
    )


def test_unknown_name_lists_closest_layers_first():
    model = _recipe_model()
    with pytest.raises(ValueError) as info:
        AttentionProbe(model, layers=["attention_vac"])
    message = str(info.value)
    assert "'attention_vac'" in message
    assert message.index("'attention_vec'") < message.index("'output'")


def test_named_layer_that_is_not_weights_is_refused(rng):
    model = _recipe_model()
    with pytest.raises(ValueError, match="output attention weights"):
        AttentionProbe(model, layers=[model.layers[0].name])  # the int input
    probe = AttentionProbe(model, layers=["score"])  # tanh scores, (N, T, 1)
    with pytest.raises(ValueError, match="sum to 1"):
        probe.predict(rng.integers(1, VOCAB, (2, 8)), verbose=0)


def test_float16_weights_of_long_sequences_are_accepted(rng):
    # A mixed_float16 softmax over 16000 keys sums to 1 only within float16's
    # precision; summed in float16 it is off by more than 1e-3.
    length = 16000
    inputs = keras.Input((length,))
    weights = layers.Activation("softmax", dtype="mixed_float16", name="attention_vec")(
        inputs
    )
    model = keras.Model(inputs, layers.Dense(1)(weights))
    x = (3 * rng.normal(size=(16, length))).astype("float32")
    result = AttentionProbe(model, layers=["attention_vec"]).predict(x, verbose=0)
    assert result.attention["attention_vec"].dtype == np.float16
    not_weights = layers.Activation("sigmoid", dtype="mixed_float16", name="s")(inputs)
    probe = AttentionProbe(keras.Model(inputs, not_weights), layers=["s"])
    with pytest.raises(ValueError, match="sum to 1"):
        probe.predict(x, verbose=0)


def test_bad_arguments():
    with pytest.raises(TypeError, match="must be a `keras.Model`"):
        AttentionProbe(layers.Dense(1))
    with pytest.raises(TypeError, match="names or layer objects"):
        AttentionProbe(_recipe_model(), layers=[3])
    with pytest.raises(ValueError, match="not part of"):
        AttentionProbe(_recipe_model(), layers=[layers.Dense(2)])

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.attention = layers.Attention()

        def call(self, x):
            return self.attention([x, x])

    subclassed = Subclassed()
    subclassed(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="Functional or Sequential"):
        AttentionProbe(subclassed)


# --- current weights ---------------------------------------------------------------


def test_probe_follows_further_training(rng):
    model = _classifier(keras_attnviz.AdditiveAttention(name="att"))
    probe = AttentionProbe(model)
    ids = _token_ids(rng, 16, 9, rng.integers(2, 10, 16))
    before = probe.predict(ids, verbose=0).attention["att"]

    model.compile(optimizer=keras.optimizers.SGD(5.0), loss="binary_crossentropy")
    model.fit(ids, rng.integers(0, 2, (16, 1)), epochs=1, verbose=0)
    after = probe.predict(ids, verbose=0)

    assert not np.allclose(after.attention["att"], before)
    _assert_outputs_equal(after, model.predict(ids, verbose=0))
    states = keras.Model(model.input, model.layers[2].output).predict(ids, verbose=0)
    _, direct = model.get_layer("att")(
        states, mask=ids != 0, return_attention_scores=True
    )
    np.testing.assert_allclose(after.attention["att"], direct, atol=1e-6)


# --- batches -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_setup():
    rng = np.random.default_rng(1)
    model = _classifier(keras_attnviz.AdditiveAttention(name="att"))
    ids = _token_ids(rng, 50, 9, rng.integers(1, 10, 50))
    probe = AttentionProbe(model)
    return probe, ids, probe.predict(ids, verbose=0)


def _concat(results):
    return np.concatenate([r.attention["att"] for r in results])


def test_iter_batches_over_arrays_generator_and_dataset(batch_setup):
    probe, ids, whole = batch_setup
    labels = np.zeros((len(ids), 1))

    by_arrays = list(probe.iter_batches(ids, batch_size=16, verbose=0))
    assert [len(r) for r in by_arrays] == [16, 16, 16, 2]

    def generator():
        for start in range(0, len(ids), 20):
            yield ids[start : start + 20], labels[start : start + 20]

    by_generator = list(probe.iter_batches(generator(), verbose=0))
    dataset = tf.data.Dataset.from_tensor_slices((ids, labels)).batch(16)
    by_dataset = list(probe.iter_batches(dataset, verbose=0))
    plain_dataset = tf.data.Dataset.from_tensor_slices(ids).batch(25)
    by_plain = list(probe.iter_batches(plain_dataset, verbose=0))

    for results in (by_arrays, by_generator, by_dataset, by_plain):
        assert all(isinstance(r, ProbeResult) for r in results)
        np.testing.assert_allclose(_concat(results), whole.attention["att"], atol=1e-6)
        np.testing.assert_array_equal(
            np.concatenate([r.key_masks["att"] for r in results]), ids != 0
        )
        np.testing.assert_allclose(
            np.concatenate([r.outputs for r in results]), whole.outputs, atol=1e-6
        )


def test_iter_batches_for_several_inputs_takes_a_tuple_as_x(rng):
    a, b = keras.Input((3, 4)), keras.Input((5, 4))
    model = keras.Model([a, b], layers.Attention(name="att")([a, b]))
    x = (rng.normal(size=(6, 3, 4)), rng.normal(size=(6, 5, 4)))
    probe = AttentionProbe(model)
    whole = probe.predict(list(x), verbose=0).attention["att"]
    by_arrays = list(probe.iter_batches(x, batch_size=4, verbose=0))
    by_pairs = list(probe.iter_batches(iter([x, (x, np.zeros(6))]), verbose=0))
    np.testing.assert_allclose(_concat(by_arrays), whole, atol=1e-6)
    np.testing.assert_allclose(
        _concat(by_pairs), np.concatenate([whole, whole]), atol=1e-6
    )


def test_iter_batches_over_a_pydataset(batch_setup):
    probe, ids, whole = batch_setup

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            rows = ids[index * 20 : (index + 1) * 20]
            return rows, np.zeros(len(rows))

    results = list(probe.iter_batches(Batches(), verbose=0))
    assert [len(r) for r in results] == [20, 20, 10]
    np.testing.assert_allclose(_concat(results), whole.attention["att"], atol=1e-6)


def test_iter_batches_rejects_bad_arguments(batch_setup):
    probe, ids, _ = batch_setup
    dataset = tf.data.Dataset.from_tensor_slices(ids).batch(8)
    with pytest.raises(ValueError, match="must be `None` for a dataset"):
        next(probe.iter_batches(dataset, batch_size=8))
    with pytest.raises(ValueError, match="must be positive"):
        next(probe.iter_batches(ids, batch_size=0))
    with pytest.raises(TypeError, match="iterable of batches"):
        next(probe.iter_batches(3.5))


def test_progress_bar_only_when_verbose(batch_setup, capsys):
    probe, ids, _ = batch_setup
    list(probe.iter_batches(ids, batch_size=25, verbose=0))
    probe.predict(ids, verbose=0)
    assert capsys.readouterr().out == ""
    list(probe.iter_batches(ids, batch_size=25, verbose=1))
    assert "2/2" in capsys.readouterr().out


# --- fresh processes: reloads and MirroredStrategy ------------------------------------


def _run_python(code, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_reloaded_models_give_identical_weights(rng, tmp_path):
    ids = _token_ids(rng, 6, 9, [9, 3, 5, 1, 7, 2])
    np.save(tmp_path / "ids.npy", ids)
    expected = {}
    for mask_zero in (True, False):
        model = _classifier(
            keras_attnviz.AdditiveAttention(name="att"), mask_zero=mask_zero
        )
        weights = AttentionProbe(model).predict(ids, verbose=0).attention["att"]
        for suffix in ("keras", "h5"):
            path = f"model_{int(mask_zero)}.{suffix}"
            model.save(tmp_path / path)
            np.save(tmp_path / f"{path}.npy", weights)
            expected[path] = mask_zero
    # The rebuilt model itself can be saved and reloaded too.
    probe_model = AttentionProbe(model).model
    assert isinstance(probe_model, keras.Model)
    probe_model.save(tmp_path / "probe.keras")
    np.savez(tmp_path / "probe.npz", *probe_model.predict(ids, verbose=0))

    out = _run_python(
        f"""
        import json
        import numpy as np
        import keras_attnviz
        ids = np.load("ids.npy")
        report = {{}}
        for path in {sorted(expected)!r}:
            model = keras_attnviz.load_model(path)
            result = keras_attnviz.AttentionProbe(model).predict(ids, verbose=0)
            same = np.array_equal(result.attention["att"], np.load(path + ".npy"))
            report[path] = [bool(same), "att" in result.key_masks]
        outputs = keras_attnviz.load_model("probe.keras").predict(ids, verbose=0)
        saved = np.load("probe.npz")
        report["probe.keras"] = [
            bool(np.array_equal(a, saved[f"arr_{{i}}"])) for i, a in enumerate(outputs)
        ]
        print(json.dumps(report))
        """,
        tmp_path,
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report.pop("probe.keras") == [True, True]  # outputs, weights (no mask)
    assert report == {path: [True, masked] for path, masked in expected.items()}


def test_mirrored_strategy_with_two_cpus(tmp_path):
    out = _run_python(
        """
        import json
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        import keras
        import numpy as np
        import keras_attnviz
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            inputs = keras.Input((6,), dtype="int32")
            x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
            x = keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x)
            x = keras_attnviz.AdditiveAttention(name="pool")(x)
            model = keras.Model(inputs, keras.layers.Dense(1)(x))
        ids = np.random.default_rng(0).integers(0, 20, (10, 6))
        probe = keras_attnviz.AttentionProbe(model)
        result = probe.predict(ids, batch_size=4, verbose=0)
        batches = list(probe.iter_batches(ids, batch_size=4, verbose=0))
        print(json.dumps({
            "replicas": strategy.num_replicas_in_sync,
            "outputs": bool(np.array_equal(
                result.outputs, model.predict(ids, batch_size=4, verbose=0))),
            "shape": list(result.attention["mha"].shape),
            "batches": [len(b) for b in batches],
            "same": bool(np.allclose(np.concatenate(
                [b.attention["pool"] for b in batches]), result.attention["pool"],
                atol=1e-6)),
            "masked": bool(np.all(result.attention["pool"][ids == 0] == 0)),
        }))
        """,
        tmp_path,
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {
        "replicas": 2,
        "outputs": True,
        "shape": [10, 2, 6, 6],
        "batches": [4, 4, 2],
        "same": True,
        "masked": True,
    }
