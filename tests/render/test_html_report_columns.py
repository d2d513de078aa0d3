import html.parser

import pytest

from keras_attnviz.render import html_report


class _Cells(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.tags, self.cells, self._in_cell = [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_cell = tag in ("td", "th")
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag):
        self._in_cell = self._in_cell and tag not in ("td", "th")

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def test_extra_columns_follow_the_label_and_are_escaped():
    report = html_report(
        ["ab", "cd"],
        [[0.2, 0.8], [0.5, 0.5]],
        labels=[1, 0],
        columns={"<i>note</i>": ["peak on cue", "<script>x</script>"]},
    )
    parsed = _Cells(report.to_html())
    assert "script" not in parsed.tags and "i" not in parsed.tags
    assert parsed.cells[:4] == ["#", "label", "<i>note</i>", "attention"]
    assert "peak on cue" in parsed.cells and "<script>x</script>" in parsed.cells


def test_column_length_mismatch_names_the_column():
    with pytest.raises(ValueError, match=r"columns\['note'\].*2 samples and 1"):
        html_report(["ab", "cd"], [[0.2, 0.8], [0.5, 0.5]], columns={"note": ["x"]})


def test_bytes_predictions_and_labels_show_as_text():
    report = html_report(
        ["ab"], [[0.2, 0.8]], predictions=[b"pos"], labels=[b"caf\xc3\xa9"]
    )
    assert _Cells(report.to_html()).cells[4:7] == ["0", "pos", "caf\u00e9"]
