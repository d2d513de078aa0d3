"""The page of `explain` and of the demo: faithfulness tables, then each text's
attention beside its attributions.

Imports neither TensorFlow nor NumPy at load time.
"""

import html

# The attributions shown beside the attention, by their rows in the report.
ATTRIBUTIONS = {
    "integrated_gradients": "integrated gradients",
    "occlusion": "occlusion",
}
_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#000;background:#fff}
.kav-faithfulness{border-collapse:collapse;margin:0.5em 0}
.kav-faithfulness th,.kav-faithfulness td{border-bottom:1px solid #ddd;
padding:0.3em 0.6em;text-align:right}
.kav-faithfulness th:first-child,.kav-faithfulness tbody th{text-align:left}
.kav-faithfulness-report p{font-size:0.9em;color:#333;max-width:60em}
</style>"""


def section(report, token_lists, *, attention, level, padding, heading=None):
    """One model's faithfulness table, then one row per text (HTML fragment).

    Args:
        report: a `FaithfulnessReport` of the texts.
        token_lists: each text's tokens.
        attention: the report's attention row shown beside the attributions.
        level: `"char"`, `"word"` or `"token"`, as for `html_spans`.
        padding: where the padding lies when the model has no mask.
        heading: a heading over the section (escaped), or `None`.
    """
    from keras_attnviz.render import html_spans

    columns = {attention: attention, **ATTRIBUTIONS}
    header = "".join(
        f"<th>{html.escape(name)}</th>" for name in ["#", "explains", *columns.values()]
    )
    rows = []
    first = report.attributions[attention]
    for i, tokens in enumerate(token_lists):
        cells = [str(i), f"class {first.target[i]} ({first.target_output[i]:.3f})"]
        cells = [f"<td>{html.escape(cell)}</td>" for cell in cells]
        for name in columns:
            sample = report.attributions[name].sample(i, tokens, padding=padding)
            spans = html_spans(sample, level=level, **_scale(name, sample))
            cells.append(f"<td>{spans.to_html()}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    title = "" if heading is None else f"<h2>{html.escape(heading)}</h2>\n"
    return (
        f"{title}<h3>How faithful is each?</h3>\n{report.to_html()}\n"
        "<h3>The texts</h3>\n"
        "<p>Attention from 0 (white) to its largest weight; attributions on a "
        "diverging scale: red raises the predicted class, blue lowers it.</p>\n"
        f'<table class="kav-report"><thead><tr>{header}</tr></thead><tbody>'
        f"{''.join(rows)}</tbody></table>\n"
    )


def page(title, sections, *, intro=""):
    """A standalone UTF-8 page: `title` (escaped), `intro` and `sections` (HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n{_STYLE}\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{intro}{''.join(sections)}</body>\n</html>\n"
    )


def _scale(name, sample):
    """Attention's own scale; a diverging one centred on 0 for signed scores."""
    if name not in ATTRIBUTIONS:
        return {}
    bound = float(abs(sample.weights).max()) or 1.0
    return {"cmap": "RdBu_r", "vmin": -bound, "vmax": bound}
