"""`TensorBoardWriter`: the monitor's image and histogram summaries.

Keras's `TensorBoard` callback writes one run per folder of its `log_dir`
(`train/`, `validation/`); these summaries go to a run of their own,
`attention/`, beside them. TensorBoard reads only the newest event file of a
folder unless told otherwise (`--reload_multifile`), so a second writer in
`train/` would hide one of the two.

TensorFlow is imported when a writer is made, not with this module.
"""

import os

import numpy as np

from keras_attnviz.callbacks.epoch_figures import (
    attention_figure,
    figure_pixels,
    update_attention_figure,
)

RUN = "attention"


class TensorBoardWriter:
    """Writes attention maps to `log_dir/attention` as TensorBoard summaries.

    Per layer and watched sample, an image of its heatmap (tag
    `attention/<layer>/<sample>`); per layer, a histogram of the entropy of
    every attention row of the watched samples, in nats (tag
    `attention_entropy/<layer>`). The step is the epoch.

    Args:
        log_dir: the folder that Keras's `TensorBoard` callback writes to, or
            would (a local path, or a URL TensorFlow writes to such as
            `gs://...`).

    Raises:
        ImportError: if the `tensorboard` package is missing: TensorFlow
            needs it to write images and histograms.
        ValueError: if `log_dir/attention` cannot be created and written.

    Example:

    ```python
    from keras_attnviz import AttentionMap
    from keras_attnviz.callbacks.tensorboard_writer import TensorBoardWriter

    writer = TensorBoardWriter("logs")
    amap = AttentionMap([0.1, 0.7, 0.2], tokens=["a", "superb", "day"])
    writer.write(0, {"attention": [amap]})
    writer.close()
    ```
    """

    def __init__(self, log_dir):
        try:
            import tensorboard.summary.v2  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "`log_dir` needs TensorBoard, which TensorFlow writes image and "
                "histogram summaries with: `pip install tensorboard`. "
                f"Received: {error}"
            ) from error
        import tensorflow as tf

        self.run_dir = os.path.join(os.fspath(log_dir), RUN)
        try:
            tf.io.gfile.makedirs(self.run_dir)
        except (OSError, tf.errors.OpError) as error:
            raise ValueError(_unwritable_message(log_dir, error)) from None
        if "://" not in self.run_dir and not os.access(self.run_dir, os.W_OK):
            raise ValueError(_unwritable_message(log_dir, "permission denied"))
        self._summary = tf.summary
        self._writer = tf.summary.create_file_writer(self.run_dir)
        # (layer, sample) -> the figure of its last image, redrawn each epoch.
        self._figures = {}

    def write(self, epoch, maps):
        """Writes the summaries of one epoch and flushes them.

        Args:
            epoch: the step to write at.
            maps: dict from layer name to the `AttentionMap`s of the watched
                samples.
        """
        with self._writer.as_default(step=epoch):
            for layer, layer_maps in maps.items():
                for sample, amap in enumerate(layer_maps):
                    pixels = figure_pixels(self._figure(layer, sample, amap))
                    self._summary.image(
                        f"attention/{layer}/{sample}", pixels[np.newaxis], max_outputs=1
                    )
                self._summary.histogram(
                    f"attention_entropy/{layer}",
                    np.concatenate([row_entropies(amap) for amap in layer_maps]),
                )
        self._writer.flush()

    def close(self):
        """Flushes and closes the event file."""
        self._writer.close()
        self._figures.clear()

    def _figure(self, layer, sample, amap):
        figure, shape = self._figures.get((layer, sample), (None, None))
        if shape == amap.weights.shape:
            update_attention_figure(figure, amap)
        else:
            figure = attention_figure(amap)
            self._figures[layer, sample] = figure, amap.weights.shape
        return figure


def row_entropies(amap):
    """The entropy, in nats, of each attention row of a map.

    A row is the weights of one query (of one head) over the real keys: 0 when
    all of it sits on one key, `log(T)` when it is spread evenly over `T`.

    Args:
        amap: an `AttentionMap`.

    Returns:
        A 1-D float64 array, one entropy per row.

    Example:

    ```python
    >>> from keras_attnviz import AttentionMap
    >>> from keras_attnviz.callbacks.tensorboard_writer import row_entropies
    >>> row_entropies(AttentionMap([[0.5, 0.5], [1.0, 0.0]])).round(4)
    array([0.6931, 0.    ])
    ```
    """
    rows = amap.weights.reshape(-1, amap.weights.shape[-1]).astype(np.float64)
    # 0 log 0 is 0: a key without weight adds nothing. `0.0 - x` rather than
    # `-x`, so that a one-hot row gives 0.0, not -0.0.
    logs = np.log(np.where(rows > 0, rows, 1.0))
    return 0.0 - np.sum(rows * logs, axis=-1)


def _unwritable_message(log_dir, reason):
    return (
        "`log_dir` must be a folder that can be created and written. "
        f"Received: log_dir={os.fspath(log_dir)!r} ({reason})"
    )
