"""`AttentionMonitor`: a Keras callback that records attention while a model trains."""

import numbers

import keras
import numpy as np

from keras_attnviz.callbacks.epoch_figures import epochs_figure
from keras_attnviz.callbacks.epoch_page import EpochPage
from keras_attnviz.probe.attention_probe import AttentionProbe
from keras_attnviz.probe.results import ProbeResult
from keras_attnviz.render.html_spans import _per_sample
from keras_attnviz.tokens import is_text


class AttentionMonitor(keras.callbacks.Callback):
    """Records the attention of a few samples at every epoch of `fit`.

    Once before the first epoch and after every `every_n_epochs`-th one, the
    monitor probes the watched samples with the model being trained: the model
    itself, not a copy, through one `AttentionProbe` built when training
    begins, whose forward pass is traced and compiled once. It keeps their
    attention weights and masks, not the model's outputs, so memory stays
    small. It works under a `tf.distribute` strategy and with models compiled
    with `jit_compile=True`, and changes nothing in training.

    With `log_dir`, it also writes TensorBoard summaries, following Keras's
    `TensorBoard` callback, which may share the `log_dir`: beside its runs
    `train/` and `validation/`, a run `attention/` holds, per layer and
    watched sample, the heatmap as an image (tag `attention/<layer>/<sample>`)
    and, per layer, a histogram of the entropy in nats of every attention row
    of the watched samples (tag `attention_entropy/<layer>`). The Images and
    Histograms tabs of `tensorboard --logdir LOG_DIR` then show attention
    sharpening. The step is the number of epochs trained, as in `history`;
    Keras's callback writes the metrics of the first epoch at step 0.

    A record costs one forward pass of the watched samples: about 10 ms for 8
    sentences through the demo's GRU classifier on 2 CPU cores. Images cost
    more, about 0.1 s of CPU each (one per layer and sample), so with short
    epochs watch fewer samples or record every few epochs.

    Args:
        inputs: the samples to watch, as `model.predict` takes them: an
            array, or a list or dict of arrays for a model with several
            inputs. The first `max_samples` are watched.
        tokens: optional, one list of tokens per sample of `inputs`: one token
            per real position, or one per position (padding dropped by the
            key mask), as `ProbeResult.sample` takes them.
        layers: optional list of the layers to watch, by name or as layer
            objects, as `AttentionProbe` takes it. Defaults to every
            attention layer.
        every_n_epochs: record after every `every_n_epochs`-th epoch.
        log_dir: optional folder for TensorBoard summaries (a path, or a URL
            TensorFlow writes to such as `gs://...`).
        max_samples: how many samples of `inputs` to watch at most.

    Attributes:
        history: dict from epoch to a `ProbeResult` of the watched samples.
            The epoch is the number of epochs trained: 0 before the first
            (`initial_epoch` when `fit` resumes). A result holds attention,
            masks, `self_attention` and `causal`; its `outputs` are `None`.
        probe: the `AttentionProbe` of the model, built when training begins.

    Raises:
        TypeError: if `every_n_epochs` or `max_samples` is not an int, or
            `tokens` is one string.
        ValueError: if `every_n_epochs` or `max_samples` is below 1. When
            training begins, before any batch: if the samples do not fit the
            model's inputs, `layers` names a layer the model does not have,
            `tokens` do not fit the samples, or `log_dir` cannot be written.
        ImportError: when training begins with a `log_dir`, if the
            `tensorboard` package is missing.

    Example:

    ```python
    import keras
    import numpy as np
    import keras_attnviz

    ids = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(ids)
    x = keras_attnviz.AdditiveAttention(name="attention")(x)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy")

    x_train = np.random.default_rng(0).integers(1, 20, (64, 6))
    y_train = (x_train == 7).any(axis=1)
    monitor = keras_attnviz.AttentionMonitor(
        x_train[:2],
        tokens=[[f"id{i}" for i in row] for row in x_train[:2]],
        log_dir="logs",  # then: tensorboard --logdir logs
    )
    model.fit(x_train, y_train, epochs=2, verbose=0, callbacks=[monitor])
    print(sorted(monitor.history))  # [0, 1, 2]
    monitor.render(sample=0).save("attention_epochs.html")
    monitor.to_figure(sample=0).savefig("attention_epochs.png")
    ```
    """

    def __init__(
        self,
        inputs,
        *,
        tokens=None,
        layers=None,
        every_n_epochs=1,
        log_dir=None,
        max_samples=8,
    ):
        super().__init__()
        _check_count(every_n_epochs, "every_n_epochs")
        _check_count(max_samples, "max_samples")
        if tokens is not None and is_text(tokens):
            raise TypeError(
                "`tokens` must hold one list of tokens per sample, not one "
                f"string. Received: tokens={tokens!r}"
            )
        self.inputs = inputs
        self.tokens = tokens
        self.layers = layers
        self.every_n_epochs = every_n_epochs
        self.log_dir = log_dir
        self.max_samples = max_samples
        self.history = {}
        self.probe = None
        self._samples = None
        self._n_watched = None
        self._watched_tokens = None
        self._writer = None
        self._before_training = None

    def on_train_begin(self, logs=None):
        self._samples, n_samples = _watched_samples(
            self.inputs, self.model, self.max_samples
        )
        self._n_watched = min(n_samples, self.max_samples)
        tokens = _per_sample(self.tokens, "tokens", n_samples)
        self._watched_tokens = None if tokens is None else tokens[: self._n_watched]
        if self.probe is None or self.probe.model.source is not self.model:
            self.probe = AttentionProbe(self.model, layers=self.layers)
        # Probed now, so that samples and tokens that do not fit fail here;
        # kept at `on_epoch_begin`, where the epoch `fit` starts from is known.
        self._before_training = self._probe_watched()
        self._maps(self._before_training)
        if self.log_dir is not None:
            from keras_attnviz.callbacks.tensorboard_writer import TensorBoardWriter

            self._writer = TensorBoardWriter(self.log_dir)

    def on_epoch_begin(self, epoch, logs=None):
        if self._before_training is not None:
            self._keep(epoch, self._before_training)
            self._before_training = None

    def on_epoch_end(self, epoch, logs=None):
        trained = epoch + 1
        if trained % self.every_n_epochs == 0:
            self._keep(trained, self._probe_watched())

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def render(self, sample=0, *, layer=None, level="auto", cmap=None):
        """One offline HTML page: the sample's attention at each recorded epoch.

        A slider (and a play button) steps through the epochs: coloured spans
        for 1-D weights, a heatmap for 2-D weights, one per head for
        multi-head weights, all on one colour scale. The page's CSS and script
        are inline; tokens are escaped as on every page.

        Args:
            sample: the index of a watched sample.
            layer: the layer to show; may be left out when one is watched.
            level: what one token is, for 1-D weights: `"char"`, `"word"`,
                `"token"` or `"auto"`, as in `render.html_spans`.
            cmap: matplotlib colormap or its name.

        Returns:
            An `EpochPage`: `save(path)` writes it, Jupyter displays it.

        Raises:
            ValueError: if nothing was recorded yet, or `sample` or `layer`
                is not one watched.
        """
        epochs, maps = self._sample_maps(sample, layer)
        caption = f"Layer {maps[0].layer}, sample {sample}: attention after each epoch"
        if epochs[0] == 0:
            caption += " (epoch 0: before training)"
        return EpochPage(epochs, maps, caption=caption, level=level, cmap=cmap)

    def to_figure(self, sample=0, *, layer=None, cmap=None):
        """The static twin of `render`: one heatmap row per recorded epoch.

        Args:
            sample: the index of a watched sample.
            layer: the layer to show; may be left out when one is watched.
            cmap: matplotlib colormap or its name.

        Returns:
            A `matplotlib.figure.Figure`, made without pyplot.

        Raises:
            ValueError: if nothing was recorded yet, or `sample` or `layer`
                is not one watched.
        """
        return epochs_figure(*self._sample_maps(sample, layer), cmap=cmap)

    def _probe_watched(self):
        """The attention and masks of the watched samples, with current weights."""
        # One batch, so `predict_on_batch`: for a few samples, a tenth of the
        # time of `predict`, which sets up a data adapter and callbacks.
        [result] = self.probe.iter_batches(
            self._samples, batch_size=self._n_watched, verbose=0
        )
        return ProbeResult(
            None,
            result.attention,
            result.key_masks,
            result.query_masks,
            result.self_attention,
            causal=result.causal,
        )

    def _keep(self, epoch, result):
        self.history[epoch] = result
        if self._writer is not None:
            self._writer.write(epoch, self._maps(result))

    def _maps(self, result):
        """The `AttentionMap`s of every watched sample, by layer."""
        return {
            name: [self._map(result, i, name) for i in range(len(result))]
            for name in result.layer_names
        }

    def _map(self, result, i, name):
        if self._watched_tokens is None:
            return result.sample(i, name)
        try:
            return result.sample(i, name, tokens=self._watched_tokens[i])
        except (TypeError, ValueError) as error:
            raise type(error)(
                f"`tokens[{i}]` must fit sample {i} of `inputs` in layer "
                f"{name!r}: {error}"
            ) from None

    def _sample_maps(self, sample, layer):
        if not self.history:
            raise ValueError(
                "The monitor has recorded nothing yet: pass it to "
                "`model.fit(..., callbacks=[monitor])` first. Received: an "
                "empty `history`"
            )
        epochs = sorted(self.history)
        first = self.history[epochs[0]]
        names = first.layer_names
        if layer is None and len(names) == 1:
            layer = names[0]
        if layer not in names:
            raise ValueError(
                f"`layer` must be one of the watched layers {names}. Received: "
                f"layer={layer!r}"
            )
        if isinstance(sample, bool) or not isinstance(sample, numbers.Integral):
            raise ValueError(f"`sample` must be an int. Received: sample={sample!r}")
        if not 0 <= sample < len(first):
            raise ValueError(
                f"`sample` must index one of the {len(first)} watched samples. "
                f"Received: sample={sample}"
            )
        maps = [self._map(self.history[epoch], sample, layer) for epoch in epochs]
        shapes = {
            epoch: amap.weights.shape for epoch, amap in zip(epochs, maps, strict=True)
        }
        if len(set(shapes.values())) > 1:
            # A layer's key mask is kept only where its weights respect it.
            raise ValueError(
                f"Layer {layer!r} must give sample {sample} weights of one shape "
                "at every epoch: it applied its key mask at some epochs only. "
                f"Received: shapes {shapes}"
            )
        return epochs, maps


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"`{name}` must be at least 1. Received: {name}={value}")


def _watched_samples(inputs, model, max_samples):
    """The first `max_samples` of `inputs` as arrays, and how many `inputs` holds.

    Raises:
        ValueError: if `inputs` are not arrays of one length that fit the
            model's inputs (for models that declare them).
    """
    expected = getattr(model, "inputs", None)
    if isinstance(inputs, dict):
        arrays = {name: _as_array(value) for name, value in inputs.items()}
    elif isinstance(inputs, list | tuple) and (expected is None or len(expected) > 1):
        # A list, not a tuple: `predict` would take a tuple for `(x, y)`.
        arrays = [_as_array(value) for value in inputs]
    else:
        arrays = _as_array(inputs)
    flat = keras.tree.flatten(arrays)
    lengths = {len(array) if array.ndim else 0 for array in flat}
    if not flat or len(lengths) > 1 or 0 in lengths:
        shapes = [array.shape for array in flat]
        raise ValueError(
            "`inputs` must hold at least one sample, with as many in each "
            f"array. Received: arrays of shapes {shapes}"
        )
    if expected is not None:
        _check_fit(flat, expected, model)
    watched = keras.tree.map_structure(lambda array: array[:max_samples], arrays)
    return watched, lengths.pop()


def _as_array(value):
    try:
        return np.asarray(value)
    except ValueError as error:
        raise ValueError(
            "`inputs` must be arrays, or lists of rows of one length. "
            f"Received: {error}"
        ) from None


def _check_fit(flat, expected, model):
    wanted = [tuple(tensor.shape) for tensor in expected]
    received = [array.shape for array in flat]
    fits = len(flat) == len(expected) and all(
        len(shape) == len(want)
        and all(w is None or w == s for w, s in zip(want[1:], shape[1:], strict=True))
        for shape, want in zip(received, wanted, strict=True)
    )
    if not fits:
        raise ValueError(
            f"`inputs` must fit the inputs of model {model.name!r}, of shapes "
            f"{wanted}. Received: arrays of shapes {received}"
        )
