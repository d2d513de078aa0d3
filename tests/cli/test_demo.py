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
        "faithfulness.html",
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

    # The faithful and the unfaithful model, told apart by the numbers.
    attention = "attention: attention"
    demo_table = summary.faithfulness["demo"].table
    final_table = summary.faithfulness["final_state"].table
    # Backs the README: every GRU state after the cue carries it, so a query
    # made from the final state need not look at the cue.
    assert summary.final_state_accuracy >= 0.9
    assert summary.final_state_cue_hit_rate <= 0.4
    assert demo_table.loc[attention, "top1"] >= 0.9
    assert bool(demo_table.loc[attention, "beats_random"])
    assert final_table.loc[attention, "top1"] <= 0.4
    assert final_table.loc["occlusion", "top1"] == 1.0
    page = (tmp_path / "faithfulness.html").read_text(encoding="utf-8")
    assert page.count('class="dataframe kav-faithfulness"') == 2
    assert "final-state model" in str(summary)

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
