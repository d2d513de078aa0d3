import re
from html.parser import HTMLParser

import matplotlib.colors
import numpy as np
import openpyxl
import pytest
from pandas.io.formats.style import Styler

from keras_attnviz.render import styler
from keras_attnviz.render.color_scale import ColorScale, relative_luminance

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='x",
]


def cell_colors(table):
    """Maps (row, col) to (background, text colour) from the rendered CSS."""
    markup = table.to_html()
    colors = {}
    rule = (
        r"((?:#T_\w+_row\d+_col\d+,?\s*)+)"
        r"\{\s*background-color: (#\w+);\s*color: (#\w+);"
    )
    for selectors, background, text in re.findall(rule, markup):
        for row, col in re.findall(r"row(\d+)_col(\d+)", selectors):
            colors[int(row), int(col)] = (background, text)
    return colors


class CellParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.cells, self._in_td = set(), [], False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        assert not any(name.startswith("on") for name, _ in attrs)
        self._in_td = tag == "td"
        if self._in_td:
            self.cells.append("")

    def handle_endtag(self, tag):
        self._in_td = False

    def handle_data(self, data):
        if self._in_td:
            self.cells[-1] += data


def test_one_character_per_cell_wrapped_at_width(rng):
    text = "attention, please"
    table = styler(text, rng.random(len(text)), width=5)
    assert isinstance(table, Styler)
    frame = table.data
    assert frame.shape == (4, 5)
    assert list(frame.index) == [0, 5, 10, 15]
    assert "".join(frame.to_numpy().ravel()) == text
    assert list(frame.iloc[-1]) == ["s", "e", "", "", ""]


def test_colours_follow_the_scale_and_blank_cells_stay_unstyled(rng):
    weights = rng.random(7)
    colors = cell_colors(styler("abcdefg", weights, width=3))
    scale = ColorScale(weights)
    expected = zip(scale.css(weights), scale.text_colors(weights), strict=True)
    for index, pair in enumerate(expected):
        assert colors[divmod(index, 3)] == pair
    assert (2, 1) not in colors and (2, 2) not in colors


def test_heavier_cell_is_never_lighter(rng):
    weights = rng.random(40)
    colors = cell_colors(styler(["t"] * 40, weights, width=8))
    backgrounds = [colors[divmod(i, 8)][0] for i in np.argsort(weights)]
    rgb = np.array([matplotlib.colors.to_rgb(color) for color in backgrounds])
    assert np.all(np.diff(relative_luminance(rgb)) <= 0)


def test_cells_are_always_escaped():
    parser = CellParser()
    parser.feed(styler(HOSTILE, [0.2, 0.3, 0.5]).to_html())
    assert parser.tags <= {"style", "table", "thead", "tbody", "tr", "th", "td"}
    assert parser.cells[:3] == HOSTILE


def test_to_excel_keeps_colours(tmp_path):
    weights = np.array([0.0, 0.5, 1.0, 0.25])
    path = tmp_path / "attention.xlsx"
    styler(["a", "<b>", "c", "d"], weights, width=2).to_excel(path)
    sheet = openpyxl.load_workbook(path).active
    scale = ColorScale(weights)
    cells = [sheet.cell(row, col) for row in (2, 3) for col in (2, 3)]
    assert [cell.value for cell in cells] == ["a", "<b>", "c", "d"]
    fills = ["#" + cell.fill.fgColor.rgb[-6:].lower() for cell in cells]
    fonts = ["#" + cell.font.color.rgb[-6:].lower() for cell in cells]
    assert fills == scale.css(weights)
    assert fonts == scale.text_colors(weights)


def test_padding_merging_and_cmap_are_applied():
    table = styler(
        ["\u2581a", "b", "\u2581c"],
        [0.0, 0.1, 0.2, 0.7],
        width=2,
        padding="pre",
        merge_subwords=True,
        cmap="Greens",
    )
    assert list(table.data.iloc[0]) == ["ab", "c"]
    greens = matplotlib.colormaps["Greens"]
    assert cell_colors(table)[0, 1][0] == matplotlib.colors.to_hex(greens(1.0))
    assert cell_colors(table)[0, 0][0] == matplotlib.colors.to_hex(greens(0.3 / 0.7))


def test_bad_width_is_refused():
    with pytest.raises(ValueError, match="width=0"):
        styler("ab", [1.0, 1.0], width=0)
    with pytest.raises(TypeError, match="width=2.5"):
        styler("ab", [1.0, 1.0], width=2.5)


def test_length_mismatch_and_nan_are_refused():
    with pytest.raises(ValueError, match="2 tokens and 3 weights"):
        styler("ab", [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="NaN at position 0"):
        styler("ab", [np.nan, 1.0])


def test_empty_text_gives_an_empty_row():
    # One blank cell: no wider than the tokens need, whatever `width` says.
    assert styler("", []).data.shape == (1, 1)


def test_missing_jinja2_names_the_install_command(monkeypatch):
    import sys

    # A None entry in sys.modules makes the import fail as if not installed.
    monkeypatch.setitem(sys.modules, "pandas.io.formats.style", None)
    with pytest.raises(ImportError, match="pip install jinja2"):
        styler("ab", [0.5, 0.5])


FORMULAS = [
    '=HYPERLINK("http://evil.example/","click")',
    "=1+1",
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "{=1+1}",
    "ok",
    "<b>",
]


def test_to_excel_writes_formula_tokens_as_text(tmp_path):
    weights = np.linspace(0.1, 1.0, len(FORMULAS))
    table = styler(FORMULAS, weights, width=3)
    path = tmp_path / "attention.xlsx"
    table.to_excel(path)
    sheet = openpyxl.load_workbook(path).active
    cells = [sheet.cell(row, col) for row in (2, 3, 4) for col in (2, 3, 4)]
    assert [cell.data_type for cell in cells] == ["s"] * len(FORMULAS)
    # The documented neutralising prefix, on formula-leading tokens only.
    expected = ["'" + token for token in FORMULAS[:7]] + FORMULAS[7:]
    assert [cell.value for cell in cells] == expected
    fills = ["#" + cell.fill.fgColor.rgb[-6:].lower() for cell in cells]
    assert fills == ColorScale(weights).css(weights)
    # Only the workbook is neutralised: the data and the HTML keep the tokens.
    assert list(table.data.to_numpy().ravel()) == FORMULAS
    parser = CellParser()
    parser.feed(table.to_html())
    assert parser.cells == FORMULAS


def test_to_excel_neutralises_a_carriage_return_lead(tmp_path):
    path = tmp_path / "attention.xlsx"
    styler(["\r=1+1"], [1.0]).to_excel(path)
    cell = openpyxl.load_workbook(path).active.cell(2, 2)
    assert cell.data_type == "s"
    assert cell.value.startswith("'")
