"""Writes Keras 2 model files with `tf_keras`, with tf_keras's own predictions.

Run as a script, in a process of its own (tf_keras and Keras 3 do not share a
process well):

    TF_USE_LEGACY_KERAS=1 python tests/saving/legacy_models.py OUT_DIR

For each model NAME it writes `NAME.h5`, `NAME.keras` and `NAME.npy`, the
predictions on `inputs.npy`, so the tests can compare what
`keras_attnviz.load_model` gives with Keras 2's numbers;
`recipe_attention.npy` and `multi_head_scores.npy` hold attention weights.
The lambda of `marker.h5` writes the file `marker.txt` into OUT_DIR when it
runs.
"""

import os
import sys

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import backend as K

L = keras.layers
VOCABULARY, LENGTH, UNITS = 30, 7, 6


def masked_gru():
    tokens = L.Input((LENGTH,))
    x = L.Embedding(VOCABULARY, 8, mask_zero=True)(tokens)
    x = L.GRU(UNITS)(x)
    return keras.Model(tokens, L.Dense(2)(x))


def lstm():
    return keras.Sequential(
        [
            L.Embedding(VOCABULARY, 8, input_length=LENGTH),
            L.LSTM(UNITS),
            L.Dense(3, activation="softmax"),
        ]
    )


def bidirectional():
    return keras.Sequential(
        [
            L.Embedding(VOCABULARY, 8, mask_zero=True, input_length=LENGTH),
            L.Bidirectional(L.LSTM(4, return_sequences=True)),
            L.Bidirectional(L.GRU(3), merge_mode="sum"),
            L.Dense(1),
        ]
    )


def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = masked_gru()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model


def nested():
    encoder = keras.Sequential(
        [
            L.InputLayer((LENGTH,)),
            L.Embedding(VOCABULARY, 8, mask_zero=True),
            L.GRU(4, return_sequences=True),
        ],
        name="encoder",
    )
    tokens = L.Input((LENGTH,))
    pooled = L.GlobalAveragePooling1D()(encoder(tokens))
    return keras.Model(tokens, L.Dense(1)(pooled))


def keras_attention():
    """Keras's own attention layers, whose configs changed in Keras 3."""
    tokens = L.Input((LENGTH,))
    x = L.Embedding(VOCABULARY, 8, mask_zero=True)(tokens)
    states = L.GRU(8, return_sequences=True)(x)
    dot = L.Attention(name="dot")([states, states])
    additive = L.AdditiveAttention(name="additive")([dot, states])
    return keras.Model(tokens, L.Dense(1)(L.GlobalAveragePooling1D()(additive)))


def multi_head():
    tokens = L.Input((LENGTH,))
    x = L.Embedding(VOCABULARY, 8, mask_zero=True)(tokens)
    states = L.GRU(8, return_sequences=True)(x)
    mha = L.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")
    context = mha(states, states)
    model = keras.Model(tokens, L.Dense(1)(L.GlobalAveragePooling1D()(context)))
    _, scores = mha(states, states, return_attention_scores=True)
    return model, keras.Model(tokens, scores)


def tf_ops():
    """The recipe with TensorFlow functions where a Lambda used to be."""
    tokens = L.Input((LENGTH,))
    states = L.GRU(UNITS, return_sequences=True)(L.Embedding(VOCABULARY, 8)(tokens))
    scores = tf.squeeze(L.Dense(1, activation="tanh")(states), axis=-1)
    weights = tf.nn.softmax(scores, name="weights")
    context = tf.reduce_sum(states * weights[:, :, tf.newaxis], axis=1)
    features = tf.concat([context, states[:, -1] * 2.0 + 1.0], axis=-1)
    return keras.Model(tokens, L.Dense(1)(features))


def recipe():
    """The attention recipe of the much-copied Stack Overflow answer."""
    tokens = L.Input((LENGTH,))
    x = L.Embedding(VOCABULARY, 8)(tokens)
    states = L.GRU(UNITS, return_sequences=True)(x)
    scores = L.TimeDistributed(L.Dense(1, activation="tanh"))(states)
    scores = L.Flatten()(scores)
    weights = L.Activation("softmax", name="attention_vec")(scores)
    weights = L.RepeatVector(UNITS)(weights)
    weights = L.Permute([2, 1])(weights)
    context = L.multiply([states, weights])
    context = L.Lambda(lambda x: K.sum(x, axis=1))(context)
    return keras.Model(tokens, L.Dense(1, activation="sigmoid")(context))


def lambdas():
    """Lambdas over the globals old code used: K, keras.backend and tf.keras."""
    tokens = L.Input((LENGTH,))
    x = L.Embedding(VOCABULARY, 4)(tokens)
    pooled = L.Lambda(lambda x: K.l2_normalize(K.max(x, axis=1), axis=-1))(x)
    mean = L.Lambda(lambda x: tf.reduce_mean(x, axis=1))(x)
    swapped = L.Lambda(lambda x: K.permute_dimensions(x, (0, 2, 1)))(x)
    last = L.Lambda(lambda x: keras.backend.sum(x, axis=-1))(swapped)
    scores = L.Lambda(lambda x: K.batch_dot(x, x, axes=[2, 2]))(x)
    # `tf.keras` is tf_keras here: the test runs this with TF_USE_LEGACY_KERAS=1.
    scores = L.Lambda(lambda x: tf.keras.backend.mean(x, axis=1))(scores)
    joined = L.Lambda(lambda xs: K.concatenate(xs))([pooled, mean, last, scores])
    return keras.Model(tokens, joined)


def sum_over_time(x):
    return K.sum(x, axis=1)


def named_function():
    tokens = L.Input((LENGTH,))
    x = L.Embedding(VOCABULARY, 4)(tokens)
    return keras.Model(tokens, L.Lambda(sum_over_time)(x))


def marker(out_dir):
    path = os.path.join(out_dir, "marker.txt")
    tokens = L.Input((LENGTH,))
    x = L.Embedding(VOCABULARY, 4)(tokens)
    x = L.Lambda(lambda x, path=path: (open(path, "w").close(), x)[1])(x)
    return keras.Model(tokens, x)


def compiled():
    model = masked_gru()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.MeanSquaredError(),
        metrics=["mae"],
    )
    return model


def main(out_dir):
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    inputs = rng.integers(1, VOCABULARY, size=(4, LENGTH))
    inputs[0, :3] = 0  # pre-padded
    inputs[1, -2:] = 0  # post-padded
    np.save(os.path.join(out_dir, "inputs.npy"), inputs)
    multi_head_model, multi_head_scores = multi_head()
    models = {
        "masked_gru": masked_gru(),
        "lstm": lstm(),
        "bidirectional": bidirectional(),
        "mixed_precision": mixed_precision(),
        "nested": nested(),
        "keras_attention": keras_attention(),
        "tf_ops": tf_ops(),
        "multi_head": multi_head_model,
        "recipe": recipe(),
        "lambdas": lambdas(),
        "named_function": named_function(),
        "compiled": compiled(),
    }
    for name, model in models.items():
        model.save(os.path.join(out_dir, f"{name}.h5"))
        np.save(os.path.join(out_dir, f"{name}.npy"), model.predict(inputs, verbose=0))
        # tf.keras 2.13 to 2.15 also wrote `.keras` archives.
        model.save(os.path.join(out_dir, f"{name}.keras"))
    scores = multi_head_scores.predict(inputs, verbose=0)
    np.save(os.path.join(out_dir, "multi_head_scores.npy"), scores)
    weights = models["recipe"].get_layer("attention_vec").output
    attention = keras.Model(models["recipe"].input, weights).predict(inputs, verbose=0)
    np.save(os.path.join(out_dir, "recipe_attention.npy"), attention)
    marker(out_dir).save(os.path.join(out_dir, "marker.h5"))
    # Building the model ran the lambda; the tests look for its next run.
    os.remove(os.path.join(out_dir, "marker.txt"))


if __name__ == "__main__":
    main(sys.argv[1])
