"""Mixed precision, XLA compilation and MirroredStrategy."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from attention_reference import as_numpy, reference_attention

from keras_attnviz.layers import AdditiveAttention, DotProductAttention

LAYERS = {
    "additive": AdditiveAttention,
    "dot": lambda **kw: DotProductAttention(scale=False, **kw),
    "general": lambda **kw: DotProductAttention(score="general", **kw),
}


@pytest.mark.parametrize("pooling", [True, False], ids=["pooling", "query"])
@pytest.mark.parametrize("name", LAYERS)
def test_mixed_float16_large_logits_stay_finite(rng, name, pooling):
    # Dot products of these vectors reach ~1e6, far past float16's 65504.
    values = (300 * rng.normal(size=(2, 6, 16))).astype("float16")
    query = (300 * rng.normal(size=(2, 3, 16))).astype("float16")
    mask = np.array([[1, 1, 1, 0, 1, 0], [0] * 6], bool)
    layer = LAYERS[name](dtype="mixed_float16")
    inputs, call_mask = (values, mask) if pooling else ([query, values], [None, mask])
    context, weights = layer(inputs, mask=call_mask, return_attention_scores=True)
    dtypes = {keras.backend.standardize_dtype(x.dtype) for x in (context, weights)}
    assert dtypes == {"float16"}
    context, weights = as_numpy(context, "float32"), as_numpy(weights, "float32")
    assert np.all(np.isfinite(context)) and np.all(np.isfinite(weights))
    np.testing.assert_allclose(weights[0].sum(-1), 1.0, atol=2e-3)
    assert np.all(weights[1] == 0) and np.all(context[1] == 0)
    expected = reference_attention(
        layer,
        values=values,
        query=None if pooling else query,
        value_mask=mask,
    )
    np.testing.assert_allclose(weights, expected[1], atol=2e-2)


def masked_classifier(dtype=None):
    tokens = keras.Input((None,), dtype="int32")
    states = keras.layers.Embedding(12, 8, mask_zero=True, dtype=dtype)(tokens)
    states = keras.layers.GRU(8, return_sequences=True, dtype=dtype)(states)
    pooled = AdditiveAttention(dropout=0.2, seed=0, dtype=dtype)(states)
    attended = DotProductAttention(score="general", dtype=dtype)(
        [states, states], use_causal_mask=True
    )
    features = keras.layers.Concatenate(dtype=dtype)(
        [pooled, keras.layers.GlobalAveragePooling1D(dtype=dtype)(attended)]
    )
    return keras.Model(tokens, keras.layers.Dense(1, dtype="float32")(features))


def toy_data():
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 12, size=(16, 7))
    tokens[::2, 4:] = 0
    return tokens, (tokens[:, 0] > 6).astype("float32")


@pytest.mark.parametrize("dtype", [None, "mixed_float16"])
def test_jit_compiled_training_and_prediction(dtype):
    model = masked_classifier(dtype)
    tokens, labels = toy_data()
    eager = model.predict(tokens, verbose=0)
    model.compile("adam", "mse", jit_compile=True)
    compiled = model.predict(tokens, verbose=0)
    tolerance = 1e-5 if dtype is None else 1e-2
    np.testing.assert_allclose(compiled, eager, rtol=tolerance, atol=tolerance)
    history = model.fit(tokens, labels, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


MIRRORED = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import test_distribution as cases

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    tokens, labels = cases.toy_data()
    with strategy.scope():
        model = cases.masked_classifier()
        model.compile("adam", "mse")
    history = model.fit(tokens, labels, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"])), history.history
    distributed = model.predict(tokens, batch_size=8, verbose=0)
    single = cases.masked_classifier()
    single.set_weights(model.get_weights())
    np.testing.assert_allclose(
        distributed, single.predict(tokens, verbose=0), rtol=1e-5, atol=1e-6
    )
    print("mirrored ok")
    """
)


@pytest.mark.tensorflow_only
def test_mirrored_strategy_on_two_logical_cpus():
    # Logical devices must be set before TensorFlow initialises: a new process.
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=__file__.rsplit("/", 1)[0],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "mirrored ok" in result.stdout
