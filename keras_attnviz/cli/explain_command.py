"""`keras-attnviz explain MODEL ...`: attention beside attribution, and how
faithful each is.

As in `render`, the texts, `--out` and `--vocab` are checked before TensorFlow
starts; this module imports neither it nor NumPy at load time.
"""

import contextlib
import html
import os

from keras_attnviz.cli import render_command
from keras_attnviz.cli.user_input import (
    UserInputError,
    as_user_error,
    check_file,
    load_model_file,
)

# The attributions shown beside the attention, by their rows in the report.
_ATTRIBUTIONS = {
    "integrated_gradients": "integrated gradients",
    "occlusion": "occlusion",
}
_PAGE_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#000;background:#fff}
.kav-faithfulness{border-collapse:collapse;margin:0.5em 0}
.kav-faithfulness th,.kav-faithfulness td{border-bottom:1px solid #ddd;
padding:0.3em 0.6em;text-align:right}
.kav-faithfulness th:first-child,.kav-faithfulness tbody th{text-align:left}
.kav-faithfulness-report p{font-size:0.9em;color:#333;max-width:60em}
</style>"""


def run(args):
    """Writes the attention, the attributions and the faithfulness table to `args.out`.

    The attributions explain each text's predicted class. Prints the path
    written.

    Raises:
        UserInputError: for bad texts, paths or options, a model file that
            cannot be loaded, a model without attention or an embedding layer,
            or texts the model cannot read.
    """
    reader = render_command
    texts = (
        reader._read_texts(args.texts) if args.texts else reader._check_texts(args.text)
    )
    _check_out(args.out, len(texts))
    if args.vocab is not None:
        check_file(args.vocab, "--vocab")
    model = load_model_file(args.model, verbose=args.verbose)
    from keras_attnviz.attribution import find_embedding_layer
    from keras_attnviz.faithfulness import faithfulness_report
    from keras_attnviz.probe import AttentionProbe

    # ValueError here: no (or several) embedding layers, no layer named
    # --embedding or --layer, or no attention to probe.
    with as_user_error(ValueError):
        find_embedding_layer(model, args.embedding)
        probe = AttentionProbe(model, layers=[args.layer] if args.layer else None)
    inputs, token_lists = reader._model_inputs(model, texts, args)
    empty = [
        text for text, tokens in zip(texts, token_lists, strict=True) if not tokens
    ]
    if empty:
        raise UserInputError(
            "Every text must hold at least one token the model reads. "
            f"Received: {empty[0]!r}"
        )
    # A layer named by --layer that turns out not to output attention weights,
    # or whose keys are not the tokens, is the user's choice.
    named = as_user_error(ValueError) if args.layer else contextlib.nullcontext()
    with named:
        report = faithfulness_report(
            model,
            inputs,
            layer=args.embedding,
            attention_layers=[args.layer] if args.layer else None,
            steps=args.steps,
        )
    by_string = model.inputs[0].dtype == "string"
    page = _page(
        report,
        token_lists,
        attention=f"attention: {args.layer or probe.layer_names[0]}",
        level="token" if by_string else args.level,
        padding=args.pad,
        title=f"Attention and attribution of {os.path.basename(args.model)}",
    )
    # --out was checked, but writing can still fail (a full disk).
    with as_user_error(OSError), open(args.out, "w", encoding="utf-8") as file:
        file.write(page)
    print(args.out)


def _check_out(out, n_texts):
    if os.path.splitext(out)[1].lower() != ".html":
        raise UserInputError(f"--out must end with .html. Received: {out!r}")
    render_command._check_out(out, n_texts)


def _page(report, token_lists, *, attention, level, padding, title):
    """The standalone page: the faithfulness table, then one row per text."""
    from keras_attnviz.render import html_spans

    columns = {attention: attention, **_ATTRIBUTIONS}
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
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n{_PAGE_STYLE}\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<h2>How faithful is each?</h2>\n"
        f"{report.to_html()}\n<h2>The texts</h2>\n"
        "<p>Attention from 0 (white) to its largest weight; attributions on a "
        "diverging scale: red raises the predicted class, blue lowers it.</p>\n"
        f'<table class="kav-report"><thead><tr>{header}</tr></thead><tbody>'
        f"{''.join(rows)}</tbody></table>\n</body>\n</html>\n"
    )


def _scale(name, sample):
    """Attention's own scale; a diverging one centred on 0 for signed scores."""
    if name not in _ATTRIBUTIONS:
        return {}
    bound = float(abs(sample.weights).max()) or 1.0
    return {"cmap": "RdBu_r", "vmin": -bound, "vmax": bound}
