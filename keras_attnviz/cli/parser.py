"""The argument parser of the `keras-attnviz` command.

This module is imported at every start-up, `--help` and `--version` included,
so it imports nothing but the standard library and the package version.
"""

import argparse

from keras_attnviz.version import __version__


def build_parser():
    """The `keras-attnviz` parser: global options and one sub-parser per command.

    Returns:
        An `argparse.ArgumentParser`. Its namespace has `command` (`None`
        when no command is given), `verbose`, `traceback`, and the options of
        the command.

    Example:

    >>> from keras_attnviz.cli.parser import build_parser
    >>> args = build_parser().parse_args(["inspect", "model.h5", "--verbose"])
    >>> args.command, args.model, args.verbose
    ('inspect', 'model.h5', True)
    """
    parser = argparse.ArgumentParser(
        prog="keras-attnviz",
        description="See what the attention layers of Keras models attend to.",
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-attnviz {__version__}"
    )
    _add_global_options(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train a small attention classifier on built-in data and render it",
        description="Train a char-level GRU classifier with attention pooling on "
        "built-in sentences whose label is decided by a planted cue word, save "
        "and reload it, probe it, and write a report, a heatmap and a styled "
        "table into --out.",
    )
    demo.add_argument(
        "--out", default="attnviz-demo", metavar="DIR", help="output folder"
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="training epochs (default 4)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the data and the weights",
    )

    inspect = commands.add_parser(
        "inspect", help="list the attention layers of a saved model"
    )
    inspect.add_argument("model", metavar="MODEL", help="a .keras or .h5 model file")

    render = commands.add_parser(
        "render",
        help="render the attention of a saved model on texts",
        description="Render the attention weights a saved model gives to texts, "
        "as coloured spans (.html) or heatmaps (.png), or as an interactive "
        "head or model view (.html) of a multi-head model's layers.",
    )
    _add_text_options(render, shown="render")
    render.add_argument(
        "--layer",
        action="append",
        help="an attention layer to show (default: the first for spans, every "
        "layer for --view heads|model; repeat for several)",
    )
    render.add_argument(
        "--view",
        choices=("spans", "heads", "model"),
        default="spans",
        help="spans: coloured tokens (.html) or heatmaps (.png), one per text; "
        "heads: lines from each query to its keys, one colour per head; model: "
        "every layer and head as a grid of thumbnails (heads and model: one "
        "text, .html)",
    )
    render.add_argument(
        "--rollout",
        action="store_true",
        help="add the attention rollout of the layers shown (--view heads|model)",
    )
    render.add_argument(
        "--out", required=True, metavar="FILE", help="FILE.html or FILE.png"
    )

    explain = commands.add_parser(
        "explain",
        help="compare a saved model's attention with attribution on texts",
        description="For each text, the attention weights and the integrated "
        "gradients of the predicted class side by side, and for the batch a "
        "table of how faithful each is: how much the prediction drops when the "
        "tokens each ranks highest are removed, and how often its top token is "
        "the one whose removal hurts most.",
    )
    _add_text_options(explain, shown="explain")
    explain.add_argument(
        "--layer", help="the attention layer shown beside the attribution"
    )
    explain.add_argument(
        "--embedding",
        metavar="LAYER",
        help="the layer that turns ids into vectors, where attribution is "
        "measured (default: the model's one Embedding layer)",
    )
    explain.add_argument(
        "--steps",
        type=_positive_int,
        default=50,
        metavar="N",
        help="integrated gradients' steps (default 50)",
    )
    explain.add_argument("--out", required=True, metavar="FILE", help="FILE.html")

    # Accepted after the command too. SUPPRESS leaves an option a sub-parser
    # did not see unset, so it does not overwrite what the main parser read.
    for command in (demo, inspect, render, explain):
        _add_global_options(command, default=argparse.SUPPRESS)
    return parser


def _add_text_options(command, *, shown):
    """MODEL and the texts it reads, shared by the commands that run a model."""
    command.add_argument("model", metavar="MODEL", help="a .keras or .h5 model file")
    texts = command.add_mutually_exclusive_group(required=True)
    texts.add_argument(
        "--text", action="append", help=f"a text to {shown} (repeat for several)"
    )
    texts.add_argument(
        "--texts", metavar="FILE", help="a UTF-8 file with one text per line"
    )
    command.add_argument(
        "--level",
        choices=("char", "word"),
        default="char",
        help="what one token of --vocab is: a character, or a word between "
        "spaces (id-input models; a TextVectorization layer splits texts itself)",
    )
    command.add_argument(
        "--vocab",
        metavar="FILE",
        help="vocabulary of an id-input model: JSON token -> id, or one token "
        "per line (line number = id)",
    )
    command.add_argument(
        "--pad",
        choices=("pre", "post"),
        default="post",
        help="where ids are padded (id-input models; TextVectorization pads at "
        "the end)",
    )


def _add_global_options(parser, *, default):
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=default,
        help="show TensorFlow's start-up log",
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        default=default,
        help="print the full traceback of any error",
    )


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number. Received: {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1. Received: {value}")
    return value
