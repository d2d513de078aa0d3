"""`AttentionMonitor`: history, TensorBoard events, the epoch page, bad input.

One small model (a self-attention layer, then attention pooling) trains for 3
epochs once per module; the tests read what the monitor kept and wrote.
Keras cannot train with XLA under MirroredStrategy on logical CPUs (a variable
on another device), so each is tested on its own: MirroredStrategy in a fresh
process.
"""

import importlib.util
import io
import json
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import keras
import matplotlib.image
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from render.test_html_escaping import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    HOSTILE,
    OUR_STYLE,
    AuditParser,
    markup_text,
)
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

import keras_attnviz
from keras_attnviz import AttentionMap, AttentionMonitor, AttentionProbe
from keras_attnviz.callbacks.epoch_figures import (
    attention_figure,
    figure_pixels,
    update_attention_figure,
)
from keras_attnviz.callbacks.epoch_page import SCRIPT, EpochPage
from keras_attnviz.callbacks.tensorboard_writer import row_entropies

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LENGTH, VOCAB, CUE = 8, 12, 7
HEADS = 2
# Two watched samples, post-padded to 5 and 8 real tokens, named by hostile text.
WATCHED = np.array([[3, 7, 1, 9, 2, 0, 0, 0], [4, 4, 7, 1, 5, 8, 2, 6]], "int32")
TOKENS = [HOSTILE[:5], HOSTILE[:8]]
EPOCHS = 3


def cue_data():
    """64 post-padded id rows, positive where they hold the cue id."""
    rng = np.random.default_rng(1)
    ids = np.zeros((64, LENGTH), "int32")
    for row, length in zip(ids, rng.integers(3, LENGTH + 1, 64), strict=True):
        row[:length] = rng.integers(1, VOCAB, length)
    return ids, (ids == CUE).any(axis=1).astype("float32")


def build_model(seed=0, *, self_attention=True, **compile_kwargs):
    keras.utils.set_random_seed(seed)
    ids = keras.Input((LENGTH,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 8, mask_zero=True)(ids)
    if self_attention:
        x = keras.layers.MultiHeadAttention(HEADS, 4, name="self_attention")(x, x)
    x = keras.layers.Dropout(0.2)(x)
    x = keras_attnviz.AdditiveAttention(name="pooling")(x)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(x))
    # A high learning rate, so that 3 epochs of 4 batches move the weights.
    model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy", **compile_kwargs)
    return model


def fit(model, *callbacks, epochs=EPOCHS, **kwargs):
    x, y = cue_data()
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=epochs,
        verbose=0,
        callbacks=list(callbacks),
        **kwargs,
    )
    return model


class BatchCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.batches += 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The model trained for 3 epochs beside Keras's TensorBoard callback."""
    log_dir = tmp_path_factory.mktemp("logs")
    monitor = AttentionMonitor(WATCHED, tokens=TOKENS, log_dir=log_dir)
    model = fit(build_model(), keras.callbacks.TensorBoard(log_dir), monitor)
    return model, monitor, log_dir


def read_run(folder):
    run = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.TENSORS: 0}
    )
    run.Reload()
    return run


# History and probe


def test_history_holds_every_epoch_with_the_watched_shapes(trained):
    _, monitor, _ = trained
    assert sorted(monitor.history) == [0, 1, 2, 3]
    for result in monitor.history.values():
        assert result.outputs is None  # weights and masks only
        assert result.attention["self_attention"].shape == (2, HEADS, LENGTH, LENGTH)
        assert result.attention["pooling"].shape == (2, LENGTH)
        np.testing.assert_array_equal(result.key_masks["pooling"], WATCHED != 0)
        assert result.self_attention == {"self_attention"}


def test_weights_change_and_the_last_epoch_is_the_trained_model(trained):
    model, monitor, _ = trained
    first, last = monitor.history[0], monitor.history[EPOCHS]
    for name in ("self_attention", "pooling"):
        assert not np.allclose(first.attention[name], last.attention[name], atol=1e-3)
    now = AttentionProbe(model).predict(WATCHED, verbose=0)
    for name in ("self_attention", "pooling"):
        np.testing.assert_allclose(last.attention[name], now.attention[name], atol=1e-6)


def tracing_count(model):
    """How often `model.predict` traced: `tf.function` tells; elsewhere None."""
    if keras.backend.backend() != "tensorflow":
        return None
    return model.predict_function.experimental_get_tracing_count()


def test_the_probe_runs_the_model_itself_traced_once(trained):
    model, monitor, _ = trained
    assert monitor.probe.model.source is model
    # Four records (epochs 0 to 3), one trace: no recompiling per epoch.
    assert tracing_count(monitor.probe.model) in (1, None)


def test_monitor_changes_nothing_in_training(tmp_path):
    plain = fit(build_model(seed=3, self_attention=False))
    monitor = AttentionMonitor(WATCHED[:1], log_dir=tmp_path)
    watched = fit(build_model(seed=3, self_attention=False), monitor)
    assert sorted(monitor.history) == [0, 1, 2, 3]
    for before, after in zip(plain.get_weights(), watched.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


def test_jit_compiled_model_every_n_epochs_and_a_resumed_fit():
    model = build_model(self_attention=False, jit_compile=True)
    monitor = AttentionMonitor(WATCHED, tokens=TOKENS, every_n_epochs=2, max_samples=1)
    fit(model, monitor, epochs=4)
    assert model.jit_compile and monitor.probe.model.jit_compile
    assert sorted(monitor.history) == [0, 2, 4]
    assert monitor.history[4].attention["pooling"].shape == (1, LENGTH)
    assert monitor.render().maps[0].tokens == TOKENS[0]
    # Resumed: recorded where it starts; the probe of the same model is kept.
    probe = monitor.probe
    fit(model, monitor, epochs=7, initial_epoch=5)
    assert sorted(monitor.history) == [0, 2, 4, 5, 6]
    assert monitor.probe is probe
    assert tracing_count(probe.model) in (1, None)


# TensorBoard


def test_event_files_hold_images_and_entropy_histograms_per_epoch(trained):
    _, monitor, log_dir = trained
    assert sorted(path.name for path in log_dir.iterdir()) == ["attention", "train"]
    run = read_run(log_dir / "attention")
    images = {
        f"attention/{name}/{i}" for name in monitor.probe.layer_names for i in (0, 1)
    }
    histograms = {f"attention_entropy/{name}" for name in monitor.probe.layer_names}
    tags = set(run.Tags()["tensors"])
    assert tags == images | histograms
    for tag in tags:
        plugin = run.SummaryMetadata(tag).plugin_data.plugin_name
        assert plugin == ("images" if tag in images else "histograms")
        assert [event.step for event in run.Tensors(tag)] == [0, 1, 2, 3]

    width, height, png = run.Tensors("attention/pooling/1")[-1].tensor_proto.string_val
    pixels = matplotlib.image.imread(io.BytesIO(png))
    assert pixels.shape[:2] == (int(height), int(width))
    assert pixels.std() > 0.05  # a drawn heatmap, not a blank image

    for name, rows in [("pooling", 2), ("self_attention", HEADS * (5 + 8))]:
        for event in run.Tensors(f"attention_entropy/{name}"):
            buckets = tensor_util.make_ndarray(event.tensor_proto)
            assert buckets[:, 2].sum() == rows  # one entropy per real query row
            assert buckets[0, 0] >= 0.0 and buckets[-1, 1] <= np.log(LENGTH) + 1e-6


def test_keras_tensorboard_callback_still_writes_its_run(trained):
    _, _, log_dir = trained
    run = read_run(log_dir / "train")
    assert [event.step for event in run.Tensors("epoch_loss")] == [0, 1, 2]


@pytest.mark.parametrize("shape", [(7,), (4, 7), (HEADS, 5, 5)])
def test_a_redrawn_image_is_the_image_drawn_anew(rng, shape):
    # The writer redraws each sample's figure every epoch instead of drawing
    # it again: the pixels must be the same.
    tokens = [f"t{i}" for i in range(shape[-1])]
    before, after = (AttentionMap(rng.random(shape) * k, tokens=tokens) for k in (1, 3))
    figure = attention_figure(before)
    figure_pixels(figure)
    update_attention_figure(figure, after)
    fresh = figure_pixels(attention_figure(after))
    np.testing.assert_array_equal(figure_pixels(figure), fresh)


def test_row_entropies_are_per_query_in_nats():
    weights = np.array([[[0.25] * 4, [1.0, 0.0, 0.0, 0.0]]])  # 1 head, 2 queries
    np.testing.assert_allclose(
        row_entropies(AttentionMap(weights)), [np.log(4), 0.0], atol=1e-12
    )


# The epoch page and figure

PAGE_TAGS = ALLOWED_TAGS | {"script", "button", "input", "img"}
PAGE_ATTRIBUTES = ALLOWED_ATTRIBUTES | {
    "id", "hidden", "type", "min", "max", "step", "value", "aria-label",
    "data-epoch", "src", "alt",
}  # fmt: skip
ROOT_ID = re.compile(r"kav-epochs-[0-9a-f]{32}")
PNG_SOURCE = re.compile(r"data:image/png;base64,[A-Za-z0-9+/]+=*")


class PageParser(AuditParser):
    """`AuditParser`, and the frames, images and scripts of an epoch page."""

    def __init__(self):
        self.frames, self.images, self.scripts, self.root_ids = [], [], [], []
        self._in_script = False
        super().__init__()

    def handle_starttag(self, tag, attrs):
        super().handle_starttag(tag, attrs)
        attrs = dict(attrs)
        if attrs.get("class") == "kav-frame":
            self.frames.append(int(attrs["data-epoch"]))
        if tag == "img":
            self.images.append(attrs["src"])
        if "id" in attrs:
            self.root_ids.append(attrs["id"])
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        super().handle_endtag(tag)
        self._in_script = False

    def handle_data(self, data):
        super().handle_data(data)
        if self._in_script:
            self.scripts[-1] += data


def audit_page(markup):
    """Checks an epoch page as `test_html_escaping.audit` checks spans.

    Besides what every page holds: the slider, the frames, PNG images of our
    own, and one script, exactly ours.
    """
    parser = PageParser()
    parser.feed(markup)
    parser.close()
    assert parser.tags <= PAGE_TAGS, parser.tags - PAGE_TAGS
    assert not parser.comments
    for name, value in parser.attributes:
        assert name in PAGE_ATTRIBUTES, name
        if name == "style":
            assert OUR_STYLE.fullmatch(value), value
    assert all(PNG_SOURCE.fullmatch(source) for source in parser.images)
    [root_id] = parser.root_ids
    assert ROOT_ID.fullmatch(root_id)
    assert parser.scripts == [f'\n({SCRIPT})(document.getElementById("{root_id}"));\n']
    return parser


def test_page_has_one_frame_per_epoch_and_tokens_stay_text(trained, tmp_path):
    _, monitor, _ = trained
    path = tmp_path / "page.html"
    monitor.render(sample=1, layer="pooling").save(path, title=HOSTILE[0])
    parser = audit_page(path.read_text(encoding="utf-8"))
    assert parser.frames == [0, 1, 2, 3]
    assert parser.texts == TOKENS[1] * 4
    weights = [float(title) for title in parser.titles]
    np.testing.assert_allclose(
        weights[-8:], monitor.history[3].attention["pooling"][1], rtol=1e-6
    )


def test_page_of_multi_head_weights_shows_a_heatmap_per_epoch(trained):
    _, monitor, _ = trained
    page = monitor.render(sample=0, layer="self_attention")
    parser = audit_page(page.to_html())
    assert parser.frames == [0, 1, 2, 3]
    assert len(parser.images) == 4
    assert [amap.weights.shape for amap in page.maps] == [(HEADS, 5, 5)] * 4


def test_hostile_caption_and_tokens_in_a_page():
    maps = [AttentionMap([0.2, 0.8], tokens=HOSTILE[:2])] * 2
    markup = EpochPage([0, 1], maps, caption=HOSTILE[1]).to_html()
    parser = audit_page(markup)
    assert parser.texts == HOSTILE[:2] * 2
    assert HOSTILE[1] not in markup


@pytest.mark.parametrize(
    ("epochs", "n_maps", "error", "match"),
    [
        (['0" onclick="alert(1)'], 1, TypeError, "`epochs` must hold ints"),
        ([], 0, ValueError, "at least one. Received: 0 maps and 0 epochs"),
        ([0, 1], 1, ValueError, "one attention map per epoch"),
    ],
)
def test_epoch_page_needs_one_map_per_whole_epoch(epochs, n_maps, error, match):
    maps = [AttentionMap([0.5, 0.5], tokens=["a", "b"])] * n_maps
    with pytest.raises(error, match=match):
        EpochPage(epochs, maps)


@settings(max_examples=30, deadline=None)
@given(st.lists(markup_text, min_size=1, max_size=6))
def test_any_tokens_survive_escaping_in_every_frame(tokens):
    weights = np.arange(1, len(tokens) + 1, dtype=float)
    maps = [AttentionMap(weights / weights.sum(), tokens=tokens)] * 3
    parser = audit_page(EpochPage([0, 2, 4], maps).to_html())
    assert parser.texts == tokens * 3


# Four views on one page, driven by a script of the test: untouched, slid to
# epoch 1, played to the end, played and paused after 1 s (800 ms a frame).
DRIVER = """<script>
var views = document.querySelectorAll(".kav-epochs");
function slide(view, epoch) {
  var slider = views[view].querySelector(".kav-epochs-slider");
  slider.value = String(epoch);
  slider.dispatchEvent(new Event("input"));
}
function play(view) { views[view].querySelector(".kav-epochs-play").click(); }
slide(1, 1);
slide(2, 0); play(2);
slide(3, 0); play(3); setTimeout(function () { play(3); }, 1000);
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is missing")
def test_browser_slider_and_play_button(trained, tmp_path):
    _, monitor, _ = trained
    views = [monitor.render(sample=0, layer="pooling").to_html() for _ in range(4)]
    page = tmp_path / "page.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f"{''.join(views)}{DRIVER}</body></html>",
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    hidden = re.findall(
        r'<div class="kav-frame" data-epoch="\d"( hidden="")?>', done.stdout
    )
    shown = [
        [epoch for epoch in range(4) if not hidden[4 * view + epoch]]
        for view in range(4)
    ]
    assert shown == [[3], [1], [3], [1]]
    assert re.findall(r'class="kav-epochs-play">(\w+)<', done.stdout) == ["play"] * 4
    # The script shows the controls; each view has its own.
    assert done.stdout.count('<div class="kav-epochs-controls">') == 4


def test_figure_has_a_row_per_epoch(trained):
    _, monitor, _ = trained
    ax = monitor.to_figure(sample=1, layer="pooling").axes[0]
    assert ax.images[0].get_array().shape == (4, 8)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        f"epoch {epoch}" for epoch in range(4)
    ]
    figure = monitor.to_figure(sample=0, layer="self_attention")
    panels = figure.axes[: 4 * HEADS]
    assert [panels[row * HEADS].get_ylabel() for row in range(4)] == [
        f"epoch {epoch}" for epoch in range(4)
    ]
    assert panels[0].images[0].get_array().shape == (5, 5)


# Bad input


@pytest.fixture(scope="module")
def untrained():
    """A model that bad input keeps from training: no batch runs."""
    return build_model(self_attention=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"inputs": WATCHED[:, :5]},
            ValueError,
            r"fit the inputs of model .*\(None, 8\)",
        ),
        ({"inputs": [WATCHED, WATCHED]}, ValueError, "fit the inputs of model"),
        ({"inputs": WATCHED[:0]}, ValueError, "at least one sample"),
        ({"inputs": [[1, 2], [3]]}, ValueError, "must be arrays"),
        ({"layers": ["poolin"]}, ValueError, "names no layer.*'pooling'"),
        ({"tokens": [["a"]]}, ValueError, "one entry per sample. Received: 2 samples"),
        ({"tokens": [["a"], ["b"]]}, ValueError, r"`tokens\[0\]` must fit sample 0"),
    ],
)
def test_bad_input_fails_before_any_batch(untrained, kwargs, error, match):
    counter = BatchCounter()
    monitor = AttentionMonitor(**{"inputs": WATCHED, **kwargs})
    with pytest.raises(error, match=match):
        fit(untrained, monitor, counter, epochs=1)
    assert counter.batches == 0


def test_unwritable_log_dir_fails_before_any_batch(untrained, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    counter = BatchCounter()
    monitor = AttentionMonitor(WATCHED, log_dir=blocker / "logs")
    with pytest.raises(ValueError, match="`log_dir` must be a folder .*a_file"):
        fit(untrained, monitor, counter, epochs=1)
    assert counter.batches == 0


def test_missing_tensorboard_says_how_to_install_it(untrained, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monitor = AttentionMonitor(WATCHED, log_dir=tmp_path)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        fit(untrained, monitor, epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"every_n_epochs": 0}, ValueError, "`every_n_epochs` must be at least 1"),
        ({"every_n_epochs": 1.5}, TypeError, "`every_n_epochs` must be an int"),
        ({"every_n_epochs": True}, TypeError, "`every_n_epochs` must be an int"),
        ({"max_samples": 0}, ValueError, "`max_samples` must be at least 1"),
        ({"tokens": "superb"}, TypeError, "not one string"),
    ],
)
def test_bad_arguments_fail_at_once(kwargs, error, match):
    with pytest.raises(error, match=match):
        AttentionMonitor(WATCHED, **kwargs)


def test_render_needs_a_recorded_sample_and_layer(trained):
    with pytest.raises(ValueError, match="recorded nothing yet"):
        AttentionMonitor(WATCHED).render()
    _, monitor, _ = trained
    with pytest.raises(ValueError, match=r"one of the watched layers .* layer=None"):
        monitor.to_figure(sample=0)
    with pytest.raises(
        ValueError, match="one of the 2 watched samples. Received: sample=2"
    ):
        monitor.render(sample=2, layer="pooling")


# MirroredStrategy, in a fresh process: logical CPUs must be set up before
# TensorFlow runs anything.

MIRRORED = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
sys.path.insert(0, {tests!r})
import test_callbacks as t
import keras_attnviz
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = t.build_model(self_attention=False)
monitor = keras_attnviz.AttentionMonitor(t.WATCHED, log_dir="logs", layers=["pooling"])
t.fit(model, monitor, epochs=1)
now = keras_attnviz.AttentionProbe(model).predict(t.WATCHED, verbose=0)
print(json.dumps({{
    "replicas": strategy.num_replicas_in_sync,
    "epochs": sorted(monitor.history),
    "shape": list(monitor.history[1].attention["pooling"].shape),
    "current": bool(np.allclose(
        monitor.history[1].attention["pooling"], now.attention["pooling"], atol=1e-6
    )),
    "traces": monitor.probe.model.predict_function.experimental_get_tracing_count(),
}}))
"""


@pytest.mark.tensorflow_only
def test_mirrored_strategy_with_two_cpus(tmp_path):
    script = MIRRORED.format(tests=str(ROOT / "tests"))
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "replicas": 2,
        "epochs": [0, 1],
        "shape": [2, LENGTH],
        "current": True,
        "traces": 1,
    }
    run = read_run(tmp_path / "logs" / "attention")
    assert sorted(run.Tags()["tensors"]) == [
        "attention/pooling/0",
        "attention/pooling/1",
        "attention_entropy/pooling",
    ]


# The example and the README


def test_example_shows_attention_learning_in_tensorboard(tmp_path, monkeypatch, capsys):
    # As `python examples/attention_monitor.py` does, and as tests/test_examples.py
    # runs the other examples.
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    path = ROOT / "examples" / "attention_monitor.py"
    spec = importlib.util.spec_from_file_location("example_attention_monitor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    metrics = module.main(["--out", str(tmp_path), "--quick"])
    assert metrics["peak_on_cue"] >= 0.9 > metrics["untrained_peak_on_cue"]
    assert metrics["epochs"] == [0, 1, 2, 3, 4]
    assert f"tensorboard --logdir {metrics['log_dir']}" in capsys.readouterr().out
    [page] = metrics["pictures"]
    assert "background-color" in pathlib.Path(page).read_text(encoding="utf-8")
    images = read_run(pathlib.Path(metrics["log_dir"]) / "attention").Tags()["tensors"]
    assert "attention/word_attention/0" in images
    keras_run = read_run(pathlib.Path(metrics["log_dir"]) / "train")
    assert len(keras_run.Tensors("epoch_loss")) == 4


def test_readme_section_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Watching attention learn", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```py\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(textwrap.dedent(block), "README.md (monitor)", "exec"), {})
    assert (tmp_path / "attention_epochs.html").stat().st_size > 0
    assert (tmp_path / "attention_epochs.png").stat().st_size > 0
    assert sorted(path.name for path in (tmp_path / "logs").iterdir()) == [
        "attention",
        "train",
    ]
