import html.parser

import matplotlib.image

from keras_attnviz.demo import DemoSummary, run_demo


class _TagCounter(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.counts = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1


def test_demo_writes_every_view_and_finds_the_cue(tmp_path):
    summary = run_demo(tmp_path, epochs=4, n_train=2000, n_test=60, verbose=0)
    assert isinstance(summary, DemoSummary)
    assert summary.accuracy >= 0.9
    assert summary.cue_hit_rate >= 0.9
    names = {path.rsplit("/", 1)[-1] for path in summary.paths}
    assert {"report.html", "heatmap.png", "table.html", "model.h5",
            "vocab.json"} <= names

    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert _TagCounter(report).counts["tr"] >= 20
    assert "peak on the cue" in report
    assert matplotlib.image.imread(tmp_path / "heatmap.png").ndim == 3
    table = (tmp_path / "table.html").read_text(encoding="utf-8")
    assert _TagCounter(table).counts["td"] >= len("superb")
    assert "background-color" in table
    assert "accuracy" in str(summary) and "cue" in str(summary)
