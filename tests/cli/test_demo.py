import html.parser

import matplotlib.image

from keras_attnviz.cli import demo
from keras_attnviz.cli.demo import DemoSummary, run_demo


class _TagCounter(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.counts = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1


class _EpochFrames(html.parser.HTMLParser):
    """The `(epoch, [(character, weight), ...])` frames of an epoch page."""

    def __init__(self, text):
        super().__init__()
        self.frames = []
        self._title = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("class") == "kav-frame":
            self.frames.append((int(attrs["data-epoch"]), []))
        coloured = "background-color" in attrs.get("style", "")
        self._title = attrs["title"] if tag == "span" and coloured else None

    def handle_data(self, data):
        if self._title is not None:
            self.frames[-1][1].append((data, float(self._title)))
            self._title = None


def test_demo_writes_every_view_and_finds_the_cue(tmp_path):
    summary = run_demo(tmp_path, epochs=4, n_train=2000, n_test=60, verbose=0)
    assert isinstance(summary, DemoSummary)
    assert summary.accuracy >= 0.9
    assert summary.cue_hit_rate >= 0.9
    names = {path.rsplit("/", 1)[-1] for path in summary.paths}
    assert {
        "report.html",
        "heatmap.png",
        "table.html",
        "attention_epochs.html",
        "model.h5",
        "vocab.json",
    } <= names

    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert _TagCounter(report).counts["tr"] >= 20
    assert "peak on the cue" in report
    assert matplotlib.image.imread(tmp_path / "heatmap.png").ndim == 3
    table = (tmp_path / "table.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in table  # non-ASCII tokens survive from disk
    assert _TagCounter(table).counts["td"] >= len("superb")
    assert "background-color" in table
    assert "accuracy" in str(summary) and "cue" in str(summary)

    # The epoch page: one frame per epoch, the cue's weight growing.
    page = _EpochFrames((tmp_path / "attention_epochs.html").read_text("utf-8"))
    assert [epoch for epoch, _ in page.frames] == [0, 1, 2, 3, 4]
    cue = []
    for _, frame in page.frames:
        start = "".join(text for text, _ in frame).index("superb")
        cue.append(sum(weight for _, weight in frame[start : start + len("superb")]))
    assert cue[-1] > max(0.5, 2 * cue[0])


def test_demo_command_runs_the_demo_and_prints_what_it_wrote(
    run_cli, monkeypatch, tmp_path
):
    summary = DemoSummary(accuracy=1.0, cue_hit_rate=0.5, n_test=20, paths=("a", "b"))
    calls = []

    def fake_run_demo(out_dir, *, epochs, seed):
        calls.append((out_dir, epochs, seed))
        return summary

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    out_dir = tmp_path / "new" / "folder"
    code, out, err = run_cli("demo", "--out", out_dir, "--epochs", 2, "--seed", 3)
    assert code == 0, err
    assert calls == [(str(out_dir), 2, 3)]
    assert out.splitlines() == ["a", "b", str(summary)]


def test_final_state_query_over_gru_states_classifies_without_the_cue():
    # Backs the README: every GRU state after the cue carries it, so a query
    # made from the final state need not look at the cue (measured: 13-15% of
    # positives at 100% accuracy). The demo pools [embedding; state] instead.
    import keras
    import numpy as np

    from keras_attnviz import AttentionProbe, DotProductAttention, Vocabulary
    from keras_attnviz.cli.demo import MAXLEN
    from keras_attnviz.datasets import cue_sentences

    keras.utils.set_random_seed(1)
    train, test = cue_sentences(3000, seed=0), cue_sentences(300, seed=1)
    vocab = Vocabulary.from_texts(train.texts + test.texts)
    ids = keras.Input((MAXLEN,), dtype="int32")
    chars = keras.layers.Embedding(len(vocab), 32, mask_zero=True)(ids)
    states, final_state = keras.layers.GRU(
        32, return_sequences=True, return_state=True
    )(chars)
    context = DotProductAttention(name="attention")([final_state, states])
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(context))
    model.compile("adam", "binary_crossentropy")

    def encode(data):
        return vocab.encode(data.texts, maxlen=MAXLEN, padding="pre")

    model.fit(encode(train), train.labels, epochs=4, batch_size=64, verbose=0)
    result = AttentionProbe(model).predict(encode(test), verbose=0)
    accuracy = np.mean((result.outputs[:, 0] > 0.5) == test.labels)
    hits = [
        span[0] <= int(np.argmax(result.sample(i, "attention").weights)) < span[1]
        for i, span in enumerate(test.cue_spans)
        if span
    ]
    assert accuracy >= 0.95
    assert np.mean(hits) <= 0.4
