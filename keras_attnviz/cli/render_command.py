"""`keras-attnviz render MODEL ...`: a saved model's attention on texts.

The texts, `--out` and `--vocab` are checked before TensorFlow starts, so a
mistake in them is reported at once; this module imports neither it nor NumPy
at load time, so those checks run as soon as the arguments are parsed.
"""

import contextlib
import os

from keras_attnviz.cli.model_texts import check_out, check_texts, model_inputs
from keras_attnviz.cli.user_input import (
    UserInputError,
    as_user_error,
    load_model_file,
    read_texts,
    read_vocabulary,
)


def run(args):
    """Renders the attention `args.model` gives to the texts into `args.out`.

    Models whose input is integer ids need `--vocab`; models whose input is
    raw strings take their vocabulary from their `TextVectorization` layer.
    Prints the path written.

    Raises:
        UserInputError: for bad texts, paths or options, a model file that
            cannot be loaded, or texts the model cannot read.
    """
    texts = read_texts(args.texts) if args.texts else check_texts(args.text)
    suffix = check_out(args.out, len(texts))
    _check_view(args, suffix, len(texts))
    vocab = read_vocabulary(args.vocab, level=args.level)
    model = load_model_file(args.model, verbose=args.verbose)
    from keras_attnviz.probe import AttentionProbe

    # ValueError here: the model holds no attention layer, cannot be probed,
    # or has no layer named --layer.
    with as_user_error(ValueError):
        probe = AttentionProbe(model, layers=args.layer)
    name = probe.layer_names[0]
    inputs, token_lists = model_inputs(model, texts, args, vocab)
    for text, tokens in zip(texts, token_lists, strict=True):
        if not tokens:
            raise UserInputError(
                "Every text must hold at least one token the model reads. "
                f"Received: {text!r}"
            )
    # The probe raises ValueError when a layer it was told to show turns out
    # not to output attention weights; for layers it found itself, that would
    # be a bug.
    named = as_user_error(ValueError) if args.layer else contextlib.nullcontext()
    with named:
        result = probe.predict(inputs, verbose=1 if args.texts else 0)
    if args.view != "spans":
        _save_view(args, result, token_lists[0])
        print(args.out)
        return
    maps = [
        result.sample(i, name, tokens=tokens, padding=args.pad)
        for i, tokens in enumerate(token_lists)
    ]
    predictions = _first_output(result.outputs)
    if suffix == ".html":
        # A TextVectorization layer makes tokens, whatever --level says.
        by_string = model.inputs[0].dtype == "string"
        _save_html(
            args.out, maps, predictions, name, "token" if by_string else args.level
        )
    else:
        _save_png(args.out, maps, predictions, name)
    print(args.out)


def _check_view(args, suffix, n_texts):
    """--view, --layer and --rollout agree with each other and with --out."""
    if args.view == "spans":
        if args.layer and len(args.layer) > 1:
            raise UserInputError(
                "--view spans shows one layer: give --layer once, or use --view "
                f"heads|model for several. Received: --layer {args.layer}"
            )
        if args.rollout:
            raise UserInputError(
                "--rollout goes with --view heads or --view model. Received: "
                "--rollout with --view spans"
            )
        return
    if suffix != ".html":
        raise UserInputError(
            f"--view {args.view} is an interactive page: --out must end with "
            f".html. Received: {args.out!r}"
        )
    if n_texts != 1:
        raise UserInputError(
            f"--view {args.view} shows one text. Received: {n_texts} texts"
        )


def _save_view(args, result, tokens):
    """The head or model view of every layer probed, for the one text."""
    from keras_attnviz.render import head_view, model_view

    names = list(result.attention)
    # Cut to the text's tokens as for spans: by the layer's mask, else --pad.
    maps = {
        name: result.sample(0, name, tokens=tokens, padding=args.pad) for name in names
    }
    shapes = {name: amap.weights.shape[-2:] for name, amap in maps.items()}
    kinds = {name in result.self_attention for name in names}
    if len(set(shapes.values())) > 1 or len(kinds) > 1:
        raise UserInputError(
            f"--view {args.view} shows layers of one kind and shape (queries, "
            "keys); pick them with --layer. Received: "
            + ", ".join(
                f"{name!r} {'self' if name in result.self_attention else 'cross'}"
                f"-attention {shapes[name]}"
                for name in names
            )
        )
    if args.rollout:
        _check_rollout(maps, self_attention=kinds.pop(), pad=args.pad)
    make = head_view if args.view == "heads" else model_view
    view = make(maps, rollout=args.rollout)
    # As for spans: the write itself can still fail.
    with as_user_error(OSError):
        view.save(args.out, title=f"Attention of {os.path.basename(args.model)}")


def _check_rollout(maps, *, self_attention, pad):
    """Rollout composes self-attention that stays on the text's tokens."""
    if not self_attention:
        raise UserInputError(
            "--rollout needs self-attention layers, whose queries are the "
            f"tokens. Received: cross-attention layers {list(maps)}"
        )
    for name, amap in maps.items():
        lost = 1 - amap.weights.sum(axis=-1).min()
        if lost > 1e-3:
            raise UserInputError(
                "--rollout needs layers that attend to the text's tokens only; "
                f"{name!r} is not masked and gives up to {lost:.1%} of a "
                f"query's attention to padding. Received: --pad {pad}"
            )


def _first_output(outputs):
    while isinstance(outputs, (list, tuple, dict)):
        outputs = list(outputs.values())[0] if isinstance(outputs, dict) else outputs[0]
    # The probe's outputs are NumPy arrays.
    return outputs.reshape(len(outputs), -1)


def _format_prediction(row):
    if row.size == 1:
        return f"{row[0]:.3f}"
    return f"class {int(row.argmax())} ({row.max():.3f})"


def _one_row(amap):
    """1-D weights for spans: multi-query maps are averaged over queries."""
    weights = amap.weights
    if weights.ndim == 1:
        return amap
    from keras_attnviz.probe.results import AttentionMap

    mean = weights.reshape(-1, weights.shape[-1]).mean(axis=0)
    return AttentionMap(mean, tokens=amap.tokens, layer=amap.layer)


def _save_html(out, maps, predictions, name, level):
    from keras_attnviz.render import html_report

    rank = max(amap.weights.ndim for amap in maps)
    title = f"Attention of layer {name!r}"
    if rank > 1:
        over = "heads and queries" if rank > 2 else "queries"
        title += f" (averaged over {over})"
    report = html_report(
        [_one_row(amap) for amap in maps],
        predictions=[_format_prediction(row) for row in predictions],
        level=level,
    )
    # --out was checked, but writing can still fail: a full disk, a folder
    # removed meanwhile.
    with as_user_error(OSError):
        report.save(out, title=title)


def _save_png(out, maps, predictions, name):
    from matplotlib.figure import Figure

    from keras_attnviz.render import heatmap

    figure = Figure(figsize=(10, 1.2 + 1.6 * len(maps)), layout="constrained")
    for i, amap in enumerate(maps):
        ax = figure.add_subplot(len(maps), 1, i + 1)
        shown = _one_row(amap) if amap.weights.ndim > 2 else amap
        heatmap(shown, ax=ax)
        ax.set_title(
            f"{name}: prediction {_format_prediction(predictions[i])}",
            fontsize=9,
            parse_math=False,
        )
    # As for HTML: the write itself can still fail.
    with as_user_error(OSError):
        figure.savefig(out, dpi=110)
