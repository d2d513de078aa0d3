"""`Attribution`: per-token scores of a batch, as plain NumPy arrays.

This module imports NumPy only (and the probe's NumPy-only results), so an
`Attribution` pickles, and renders, where Keras cannot be imported.
"""

import numpy as np

from keras_attnviz.probe.results import ProbeResult


class Attribution:
    """Per-token scores for one output of a model, one row per sample.

    Made by `integrated_gradients`, `gradient_x_input`, `saliency` and
    `occlusion`. Scores are signed (positive: the token raises the target
    output) except for `saliency`, a gradient norm. Padding positions score 0.

    Args:
        scores: float array `(N, T)`, one score per position of the
            embedding layer's input.
        key_mask: boolean array `(N, T)`, `True` = a real position, `False` =
            padding (as `ProbeResult.key_masks`).
        method: the name of the method, e.g. `"integrated_gradients"`.
        target: int array `(N,)`, the class each row explains.
        target_output: float array `(N,)`, the target output at the inputs.
        layer: the name of the embedding layer the scores were taken at.
        baseline_output: for integrated gradients, the target output at the
            baseline, `(N,)`; `None` otherwise.

    Attributes:
        scores, key_mask, method, target, target_output, layer,
        baseline_output: as above.
        completeness_gap: for integrated gradients, `(N,)`: how far the
            scores are from summing to the change of the output along the
            path, `|sum(scores) - (f(x) - f(baseline))| / |f(x) - f(baseline)|`
            (large where the output hardly changes along the path); a gap of
            a few percent calls for more `steps`. `None` for other methods.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.attribution import Attribution
    >>> attribution = Attribution(
    ...     np.array([[0.0, 0.5, -0.25]]),
    ...     key_mask=np.array([[False, True, True]]),  # pre-padded
    ...     method="occlusion",
    ...     target=np.array([1]),
    ...     target_output=np.array([0.9]),
    ... )
    >>> sample = attribution.sample(0, tokens=["good", "dull"])
    >>> sample.weights
    array([ 0.5 , -0.25])
    >>> sample.top(1)
    [('good', 0.5)]
    ```
    """

    def __init__(
        self,
        scores,
        key_mask,
        *,
        method,
        target,
        target_output,
        layer=None,
        baseline_output=None,
    ):
        self.scores = np.asarray(scores, dtype=np.float64)
        self.key_mask = np.asarray(key_mask, dtype=bool)
        if self.scores.ndim != 2 or self.key_mask.shape != self.scores.shape:
            raise ValueError(
                "`scores` and `key_mask` must both be (N, T) arrays. Received: "
                f"scores of shape {self.scores.shape} and key_mask of shape "
                f"{self.key_mask.shape}"
            )
        self.method = method
        self.target = np.asarray(target)
        self.target_output = np.asarray(target_output, dtype=np.float64)
        self.layer = layer
        self.baseline_output = (
            None
            if baseline_output is None
            else np.asarray(baseline_output, dtype=np.float64)
        )

    @property
    def completeness_gap(self):
        """How far integrated gradients' scores are from complete (see above)."""
        if self.baseline_output is None:
            return None
        change = self.target_output - self.baseline_output
        total = self.scores.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(total - change) / np.abs(change)

    def __len__(self):
        return len(self.scores)

    def sample(self, i, tokens=None, *, padding=None):
        """The scores of sample `i` over its real positions, ready to render.

        Args:
            i: index of the sample.
            tokens: optional tokens, one per real position or one per padded
                position.
            padding: `"pre"` or `"post"`, only needed when `tokens` is
                shorter than the sequence and no position is masked.

        Returns:
            An `AttentionMap` (the renderers' per-sample input) whose
            `weights` are the scores and whose `layer` is the method's name.
            Renderers colour signed scores on a diverging scale centred on
            0 as soon as one is negative; give `cmap="RdBu_r"` with
            `vmin=-m, vmax=m` to keep that scale for every sample.

        Raises:
            ValueError: if `i` is out of range or the tokens do not fit.
        """
        # The probe's result holds the one implementation of "real positions
        # and their tokens"; an attribution is one layer of it.
        by_method = ProbeResult(
            None, {self.method: self.scores}, key_masks={self.method: self.key_mask}
        )
        return by_method.sample(i, self.method, tokens=tokens, padding=padding)

    def __repr__(self):
        return (
            f"Attribution(method={self.method!r}, samples={len(self)}, "
            f"positions={self.scores.shape[1]}, layer={self.layer!r})"
        )
