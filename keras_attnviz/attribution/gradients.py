"""Gradient attributions at the embedding layer: integrated gradients,
gradient x input and saliency.

Gradients are taken at the embedding layer's output, one vector per token,
and summed (or, for saliency, normed) over the embedding axis, so each token
gets one score.
"""

import numpy as np

from keras_attnviz.attribution.runner import AttributionRunner, check_positive_int

DEFAULT_STEPS = 50


def integrated_gradients(
    model,
    inputs,
    *,
    target=None,
    baseline=None,
    steps=DEFAULT_STEPS,
    layer=None,
    key_mask=None,
    batch_size=None,
):
    """Integrated gradients (Sundararajan et al., 2017) of each input token.

    The score of a token is its embedding's difference from the baseline
    times the gradient of the target output, averaged along the straight
    path from the baseline to the input, summed over the embedding axis. The
    scores of a sample add up to the change of the target output from the
    baseline to the input (completeness); `Attribution.completeness_gap`
    reports how closely they do. The path integral is a Gauss-Legendre rule
    with `steps` nodes, so a smooth model converges in far fewer steps than
    a Riemann sum takes; a model whose output jumps along the path (a trained
    recurrent classifier can go from 0 to 1 within 1% of it) needs many more
    for those samples, and their gap shows it. All samples and steps run as
    rows of batched gradient calls, not one call per step. Only real
    positions move along the path; padding keeps its embedding and scores 0.

    The target output is read as the model computes it: for a sigmoid or
    softmax output, the probability (see `keras_attnviz.attribution.targets`;
    class 0 of a single sigmoid unit is `1 - p`).

    Args:
        model: a built `keras.Model` with one output: Functional,
            Sequential, nested or subclassed, with one or several inputs.
        inputs: what `model.predict` takes for a batch: an array of ids, or
            a list or dict of arrays.
        target: the class to explain: `None` (each sample's predicted class),
            an int, or one int per sample.
        baseline: `None` for all-zero embeddings, or a token id whose
            embedding is the baseline at every real position (the padding id
            0, or `[MASK]`).
        steps: number of points on the path.
        layer: the embedding layer, or its name; found by
            `find_embedding_layer` when `None`.
        key_mask: optional boolean `(N, T)`, `True` = real position, for
            padding the embedding layer does not mask (a `padding_mask`
            input); positions count as real where both masks say so.
        batch_size: rows (samples x steps) per gradient call; by default as
            many as hold about 8M embedding values (4096 rows of 64 tokens x
            32 dimensions), from 16 to 4096.

    Returns:
        An `Attribution` with `completeness_gap` and `baseline_output`.

    Raises:
        NotImplementedError: under the NumPy backend, which has no gradients.
        TypeError: for arguments of the wrong type.
        ValueError: if no embedding layer is found, `target` is out of range,
            `steps` or `batch_size` is below 1, or a sample is all padding.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_attnviz.attribution import integrated_gradients

    ids = keras.Input((6,), dtype="int32")
    vectors = keras.layers.Embedding(20, 8, mask_zero=True)(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(pooled))

    token_ids = np.array([[0, 0, 3, 7, 1, 5], [4, 4, 2, 9, 8, 6]])
    attribution = integrated_gradients(model, token_ids, steps=32)
    assert attribution.scores.shape == (2, 6)
    assert (attribution.scores[0, :2] == 0).all()  # padding scores 0
    assert attribution.completeness_gap.max() < 0.01
    ```
    """
    check_positive_int(steps, "steps")  # before the model runs
    runner = AttributionRunner(
        "integrated_gradients", model, inputs, layer, target, key_mask, batch_size
    )
    return integrate(runner, baseline=baseline, steps=steps)


def integrate(runner, *, baseline=None, steps=DEFAULT_STEPS):
    """Integrated gradients on a prepared `AttributionRunner`.

    Each sample takes `steps` rows on the path and one at the baseline
    itself, whose output completes the completeness check.
    """
    steps = check_positive_int(steps, "steps")
    baseline_id = _check_baseline(baseline, runner)
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    # Gauss-Legendre on [-1, 1], moved to the path's [0, 1].
    alphas = np.append((nodes + 1.0) / 2.0, 0.0)
    n_samples = runner.n_samples
    values, step_dot_gradient, _ = runner.path_gradients(
        np.repeat(np.arange(n_samples), steps + 1),
        np.tile(alphas, n_samples),
        baseline_id,
    )
    step_dot_gradient = step_dot_gradient.reshape(n_samples, steps + 1, -1)
    scores = np.einsum("s,nst->nt", weights / 2.0, step_dot_gradient[:, :steps])
    return runner.attribution(
        scores,
        "integrated_gradients",
        baseline_output=values.reshape(n_samples, steps + 1)[:, -1],
    )


def gradient_x_input(
    model, inputs, *, target=None, layer=None, key_mask=None, batch_size=None
):
    """Gradient x input: each token's embedding dotted with the gradient there.

    The first-order contribution of each token: exact for a model linear in
    its embeddings (where it equals integrated gradients with a zero
    baseline), a local estimate otherwise.

    Args:
        model, inputs, target, layer, key_mask: as in `integrated_gradients`.
        batch_size: samples per gradient call; default as in
            `integrated_gradients`.

    Returns:
        An `Attribution`.

    Raises:
        NotImplementedError, TypeError, ValueError: as `integrated_gradients`.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_attnviz.attribution import gradient_x_input

    ids = keras.Input((4,), dtype="int32")
    vectors = keras.layers.Embedding(10, 3)(ids)
    model = keras.Model(ids, keras.layers.Dense(1)(keras.layers.Flatten()(vectors)))
    attribution = gradient_x_input(model, np.array([[1, 2, 3, 4]]), target=1)
    # Linear in the embeddings: the scores add up to the output minus its bias.
    bias = model.layers[-1].bias.numpy()[0]
    output = model.predict(np.array([[1, 2, 3, 4]]), verbose=0)[0, 0]
    assert np.isclose(attribution.scores.sum(), output - bias, atol=1e-5)
    ```
    """
    return _at_inputs(
        model, inputs, target, layer, key_mask, batch_size, "gradient_x_input"
    )


def saliency(model, inputs, *, target=None, layer=None, key_mask=None, batch_size=None):
    """Saliency: the L2 norm of the gradient at each token's embedding.

    How sensitive the target output is to each token, not in which direction:
    the scores are never negative.

    Args:
        model, inputs, target, layer, key_mask: as in `integrated_gradients`.
        batch_size: samples per gradient call; default as in
            `integrated_gradients`.

    Returns:
        An `Attribution`.

    Raises:
        NotImplementedError, TypeError, ValueError: as `integrated_gradients`.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_attnviz.attribution import saliency

    ids = keras.Input((5,), dtype="int32")
    vectors = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    model = keras.Model(ids, keras.layers.Dense(3, activation="softmax")(pooled))
    attribution = saliency(model, np.array([[0, 2, 4, 6, 8]]), target=2)
    assert attribution.scores[0, 0] == 0 and (attribution.scores[0, 1:] > 0).all()
    ```
    """
    return _at_inputs(model, inputs, target, layer, key_mask, batch_size, "saliency")


def gradients_at_inputs(runner):
    """Gradient x input and saliency on a prepared runner, from one pass.

    Returns:
        A dict: method name -> `Attribution`.
    """
    n_samples = runner.n_samples
    _, step_dot_gradient, gradient_norm = runner.path_gradients(
        np.arange(n_samples), np.ones(n_samples), None
    )
    return {
        "gradient_x_input": runner.attribution(step_dot_gradient, "gradient_x_input"),
        "saliency": runner.attribution(gradient_norm, "saliency"),
    }


def _at_inputs(model, inputs, target, layer, key_mask, batch_size, method):
    runner = AttributionRunner(
        method, model, inputs, layer, target, key_mask, batch_size
    )
    return gradients_at_inputs(runner)[method]


def _check_baseline(baseline, runner):
    if baseline is None:
        return None
    return runner.token_id(baseline, "baseline", "None (zero embeddings)")
