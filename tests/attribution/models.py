"""Tiny models for the attribution tests, and the loop attribution must match."""

import keras
import numpy as np

layers = keras.layers
VOCAB = 12


def pre_padded_ids(rng, n, length, real):
    """Ids in [1, VOCAB), pre-padded with 0 before the last `real[i]` positions."""
    ids = rng.integers(1, VOCAB, (n, length))
    ids[np.arange(length)[None, :] < length - np.asarray(real)[:, None]] = 0
    return ids


def linear_over_embeddings(length=5, classes=1):
    """Flatten(Embedding) -> Dense: the output is linear in the embeddings."""
    ids = keras.Input((length,), dtype="int32")
    vectors = layers.Embedding(VOCAB, 3, name="embedding")(ids)
    return keras.Model(ids, layers.Dense(classes)(layers.Flatten()(vectors)))


def pooled_classifier(length=None, classes=1):
    """Embedding(mask_zero) -> masked mean -> Dense(sigmoid or softmax)."""
    ids = keras.Input((length,), dtype="int32")
    vectors = layers.Embedding(VOCAB, 4, mask_zero=True, name="embedding")(ids)
    pooled = layers.GlobalAveragePooling1D()(vectors)
    return keras.Model(
        ids, layers.Dense(classes, activation=_activation(classes))(pooled)
    )


def gru_classifier(length=None, units=8):
    """Embedding(mask_zero) -> GRU -> Dense(sigmoid).

    Its embeddings and output weights are drawn from N(0, 1) and N(0, 4), not
    Keras's small defaults, so the output moves far from the zero-embedding
    baseline through the GRU's saturating gates: a real test of integrated
    gradients' convergence.
    """
    ids = keras.Input((length,), dtype="int32")
    vectors = layers.Embedding(
        VOCAB,
        units,
        mask_zero=True,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
        name="embedding",
    )(ids)
    states = layers.GRU(units)(vectors)
    output = layers.Dense(
        1,
        activation="sigmoid",
        kernel_initializer=keras.initializers.RandomNormal(stddev=2.0),
    )(states)
    return keras.Model(ids, output)


def _activation(classes):
    return "sigmoid" if classes == 1 else "softmax"


def target_outputs(model, inputs, target):
    """The model's outputs read as attribution reads them: class 1 is p, class 0
    is 1 - p."""
    outputs = keras.ops.convert_to_numpy(model(inputs, training=False))
    outputs = outputs.reshape(len(outputs), -1)
    if outputs.shape[1] == 1:
        return np.where(np.asarray(target) == 1, outputs[:, 0], 1 - outputs[:, 0])
    return outputs[np.arange(len(outputs)), target]


def occlusion_by_loop(model, ids, target, replacement=0, window=1):
    """Occlusion the slow way: re-run the model once per window of real tokens."""
    full = target_outputs(model, ids, target)
    total, covered = np.zeros(ids.shape), np.zeros(ids.shape)
    for i, row in enumerate(ids):
        real = np.flatnonzero(row != 0)
        width = min(window, len(real))
        for start in range(len(real) - width + 1):
            window_positions = real[start : start + width]
            edited = row.copy()
            edited[window_positions] = replacement
            drop = full[i] - target_outputs(model, edited[None], target[i : i + 1])[0]
            total[i, window_positions] += drop
            covered[i, window_positions] += 1
    return np.divide(total, covered, out=np.zeros(ids.shape), where=covered > 0)
