"""Tokens are untrusted: nothing in them may become markup in any HTML output."""

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_attnviz.render import html_report, html_spans

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "</span></div><iframe src=javascript:alert(1)>",
    "<style>body{display:none}</style>",
    "&lt;already escaped&gt;",
    "<!-- comment",
    "<svg/onload=alert(1)>",
]

# Every element and attribute our HTML legitimately contains.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body",
    "div", "span", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"lang", "charset", "class", "style", "title"}
OUR_STYLE = re.compile(
    r"background-color:#[0-9a-f]{6};color:#[0-9a-f]{6}"
    r"|background:linear-gradient\(to right(,#[0-9a-f]{6})+\)"
)


# Markup characters are rare in plain `st.text()`; mix them in on purpose.
# Lone surrogates become U+FFFD (tests/render/test_hostile_input.py).
markup_text = st.text(
    st.one_of(
        st.sampled_from("<>&\"'=/!- a"), st.characters(exclude_categories=["Cs"])
    ),
    max_size=12,
)


class AuditParser(HTMLParser):
    """Records every tag, attribute and the text of each coloured span."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes, self.texts, self.titles = set(), [], [], []
        self.comments = []
        self._in_span = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.extend(attrs)
        attrs = dict(attrs)
        self._in_span = tag == "span" and "background-color" in (
            attrs.get("style") or ""
        )
        if self._in_span:
            self.texts.append("")
            self.titles.append(attrs["title"])

    def handle_endtag(self, tag):
        self._in_span = False

    def handle_data(self, data):
        if self._in_span:
            self.texts[-1] += data

    def handle_comment(self, data):
        self.comments.append(data)


def audit(markup):
    parser = AuditParser()
    parser.feed(markup)
    parser.close()
    assert parser.tags <= ALLOWED_TAGS, parser.tags - ALLOWED_TAGS
    assert not parser.comments
    for name, value in parser.attributes:
        assert name in ALLOWED_ATTRIBUTES, name
        if name == "style":
            assert OUR_STYLE.fullmatch(value), value
    return parser


def test_hostile_tokens_render_as_text():
    spans = html_spans(HOSTILE, np.linspace(0.1, 1, len(HOSTILE)))
    parser = audit(spans.to_html())
    assert parser.texts == HOSTILE


def test_hostile_characters_render_as_text():
    text = "".join(HOSTILE)
    parser = audit(html_spans(text, np.ones(len(text))).to_html())
    assert "".join(parser.texts) == text


@pytest.mark.parametrize("merge", [False, True])
def test_hostile_tokens_in_a_saved_page(tmp_path, merge):
    path = tmp_path / "page.html"
    tokens = [token if i % 2 else "##" + token for i, token in enumerate(HOSTILE)]
    html_spans(tokens, np.ones(len(tokens)), merge_subwords=merge).save(
        path, title="</title><script>alert(1)</script>"
    )
    parser = audit(path.read_text(encoding="utf-8"))
    assert "".join(parser.texts).replace("##", "") == "".join(HOSTILE)


def test_hostile_predictions_and_labels_in_a_report():
    report = html_report(
        HOSTILE[:2],
        [np.ones(len(HOSTILE[0])), np.ones(len(HOSTILE[1]))],
        predictions=HOSTILE[2:4],
        labels=HOSTILE[4:6],
    )
    markup = report.to_html()
    audit(markup)
    for text in HOSTILE[2:6]:
        assert text not in markup


@settings(max_examples=60, deadline=None)
@given(st.lists(markup_text, max_size=8))
def test_any_tokens_survive_escaping(tokens):
    parser = audit(html_spans(tokens, np.arange(len(tokens), dtype=float)).to_html())
    assert parser.texts == tokens
    assert parser.titles == [f"{w:.6g}" for w in range(len(tokens))]


@settings(max_examples=60, deadline=None)
@given(st.lists(markup_text, max_size=4).map("".join))
def test_any_text_survives_escaping_character_by_character(text):
    parser = audit(html_spans(text, np.ones(len(text))).to_html())
    assert "".join(parser.texts) == text
