"""The `keras-attnviz` command: a demo, and views of a user's own models.

Example:

```
keras-attnviz demo --out attnviz-demo
keras-attnviz inspect model.h5
keras-attnviz render model.h5 --vocab vocab.json --text "what a superb day" --out a.html
```
"""

import argparse
import os
import re
import sys

from keras_attnviz.version import __version__

# Errors a user can cause with a bad path, file or argument: reported on one line.
_USER_ERRORS = (ValueError, TypeError, OSError, KeyError)
# Keras colours some messages for terminals; a one-line error carries plain text.
_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-attnviz",
        description="See what the attention layers of Keras models attend to.",
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-attnviz {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train a small attention classifier on built-in data and render it",
        description="Train a char-level GRU classifier with attention pooling on "
        "built-in sentences whose label is decided by a planted cue word, save "
        "and reload it, probe it, and write a report, a heatmap and a styled "
        "table into --out.",
    )
    demo.add_argument("--out", default="attnviz-demo", help="output folder")
    demo.add_argument("--epochs", type=_positive_int, default=None)
    demo.add_argument("--seed", type=int, default=0)

    inspect = commands.add_parser(
        "inspect", help="list the attention layers of a saved model"
    )
    inspect.add_argument("model", help="a .keras or .h5 model file")

    render = commands.add_parser(
        "render",
        help="render the attention of a saved model on texts",
        description="Render the attention weights a saved model gives to texts, "
        "as coloured spans (.html) or heatmaps (.png).",
    )
    render.add_argument("model", help="a .keras or .h5 model file")
    texts = render.add_mutually_exclusive_group(required=True)
    texts.add_argument(
        "--text", action="append", help="a text to render (repeat for several)"
    )
    texts.add_argument("--texts", help="a UTF-8 file with one text per line")
    render.add_argument("--tokenizer", choices=("char", "word"), default="char")
    render.add_argument(
        "--vocab",
        help="vocabulary of an id-input model: JSON token -> id, or one token "
        "per line (line number = id)",
    )
    render.add_argument("--layer", help="the attention layer to show")
    render.add_argument(
        "--pad",
        choices=("pre", "post"),
        default="post",
        help="where ids are padded (id-input models; TextVectorization pads at "
        "the end)",
    )
    render.add_argument("--out", required=True, help="FILE.html or FILE.png")
    return parser


def main(argv=None):
    """Runs the command line; returns the exit code (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "demo":
            from keras_attnviz.cli.demo import run_demo

            summary = run_demo(args.out, epochs=args.epochs, seed=args.seed)
            for path in summary.paths:
                print(path)
            print(summary)
        elif args.command == "inspect":
            from keras_attnviz.cli.model_views import describe_attention_layers

            print(describe_attention_layers(args.model))
        else:
            from keras_attnviz.cli.model_views import render_texts

            texts = args.text if args.text else _read_lines(args.texts)
            path = render_texts(
                args.model,
                texts,
                out=args.out,
                tokenizer=args.tokenizer,
                vocab=args.vocab,
                layer=args.layer,
                padding=args.pad,
                verbose=1 if args.texts else 0,
            )
            print(path)
    except _USER_ERRORS as error:
        print(f"keras-attnviz: error: {_one_line(error)}", file=sys.stderr)
        return 2
    return 0


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1. Received: {value}")
    return value


def _one_line(error):
    # `str(KeyError("x"))` is "'x'": the message is the first argument.
    text = error.args[0] if isinstance(error, KeyError) and error.args else error
    return " ".join(_ANSI_CODES.sub("", str(text)).split()) or type(error).__name__


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as file:
            lines = [line.rstrip("\n") for line in file]
    except OSError as error:
        raise OSError(
            f"Cannot read --texts. Received: {os.fspath(path)!r} ({error.strerror})"
        ) from None
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise ValueError(f"--texts must hold at least one text. Received: {path!r}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
