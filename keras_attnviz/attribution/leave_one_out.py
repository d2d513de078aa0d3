"""Occlusion: how much the target output drops when a token is removed."""

import numpy as np

from keras_attnviz.attribution.runner import AttributionRunner, check_positive_int


def occlusion(
    model,
    inputs,
    *,
    target=None,
    replace_with="mask",
    window=1,
    layer=None,
    key_mask=None,
    batch_size=None,
):
    """Leave-one-out: the drop of the target output when a token is removed.

    Each real position (or each run of `window` consecutive real positions)
    is removed in its own copy of the sample, and its score is the target
    output of the sample minus that of the copy: positive where the token
    supports the target. With `window > 1`, a position scores the mean drop
    of the windows that cover it. All copies run as rows of batched model
    calls.

    Removing a token means replacing its id where the embedding layer reads
    it, for its vector and its mask alike: with `replace_with="mask"` by 0,
    the padding id, which `Embedding(mask_zero=True)` masks, so the model
    sees the sample as if the token were not there; or by a given id (an
    `[UNK]` or `[MASK]` token) for models that mask otherwise.
    `comprehensiveness` and `sufficiency` remove tokens the same way.

    Args:
        model: a built `keras.Model` with one output.
        inputs: what `model.predict` takes for a batch.
        target: `None` (each sample's predicted class), a class, or one per
            sample.
        replace_with: `"mask"`, or the token id that replaces removed tokens.
        window: how many consecutive real positions are removed together.
        layer: the embedding layer, or its name (see `find_embedding_layer`).
        key_mask: optional boolean `(N, T)`, `True` = real position, as in
            `integrated_gradients`.
        batch_size: copies per model call; default as in
            `integrated_gradients`.

    Returns:
        An `Attribution`.

    Raises:
        TypeError: for arguments of the wrong type.
        ValueError: if no embedding layer is found, `target` is out of range,
            `window` is below 1, `replace_with` is no id of the embedding, or
            a sample is all padding.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_attnviz.attribution import occlusion

    ids = keras.Input((5,), dtype="int32")
    vectors = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(pooled))

    token_ids = np.array([[0, 2, 4, 6, 8]])
    attribution = occlusion(model, token_ids, target=1)
    # The same as running the model without each token, one at a time:
    full = model.predict(token_ids, verbose=0)[0, 0]
    without_4 = model.predict(np.array([[0, 2, 0, 6, 8]]), verbose=0)[0, 0]
    assert np.isclose(attribution.scores[0, 2], full - without_4, atol=1e-6)
    ```
    """
    check_positive_int(window, "window")  # before the model runs
    runner = AttributionRunner(
        "occlusion", model, inputs, layer, target, key_mask, batch_size
    )
    return occlude(runner, replace_with=replace_with, window=window)


def occlude(runner, *, replace_with="mask", window=1):
    """Occlusion on a prepared `AttributionRunner`."""
    replacement = runner.replacement_id(replace_with)
    sample_index, remove = _windows(
        runner.key_mask, check_positive_int(window, "window")
    )
    drops = runner.target_output[sample_index] - runner.target_after_removal(
        sample_index, remove, replacement
    )
    total = np.zeros(runner.key_mask.shape)
    covered = np.zeros(runner.key_mask.shape)
    np.add.at(total, sample_index, remove * drops[:, np.newaxis])
    np.add.at(covered, sample_index, remove)
    scores = np.divide(total, covered, out=np.zeros_like(total), where=covered > 0)
    return runner.attribution(scores, "occlusion")


def _windows(key_mask, window):
    """One row per window of consecutive real positions of each sample.

    Returns:
        `(sample_index, remove)`: `(R,)` the sample of each row, `(R, T)`
        boolean, the positions the row removes.
    """
    samples, blocks = [], []
    for i, real in enumerate(key_mask):
        positions = np.flatnonzero(real)
        width = min(window, len(positions))
        starts = np.arange(len(positions) - width + 1)
        block = np.zeros((len(starts), key_mask.shape[1]), dtype=bool)
        covered = positions[starts[:, np.newaxis] + np.arange(width)]
        block[starts[:, np.newaxis], covered] = True
        samples.append(np.full(len(starts), i))
        blocks.append(block)
    return np.concatenate(samples), np.concatenate(blocks)
