"""The `keras-attnviz` command: a demo, and views of a user's own models.

Example:

```
keras-attnviz demo --out attnviz-demo
keras-attnviz inspect model.h5
keras-attnviz render model.h5 --vocab vocab.json --text "what a superb day" --out a.html
keras-attnviz explain model.h5 --vocab vocab.json --text "a superb day" --out b.html
```
"""

import importlib
import re
import sys
import traceback

from keras_attnviz.cli.parser import build_parser
from keras_attnviz.cli.user_input import UserInputError

# Command -> the module whose `run(args)` carries it out, imported only when
# that command runs.
_COMMAND_MODULES = {
    "demo": "keras_attnviz.cli.demo",
    "explain": "keras_attnviz.cli.explain_command",
    "inspect": "keras_attnviz.cli.inspect_command",
    "render": "keras_attnviz.cli.render_command",
}
# Keras colours some messages for terminals; a one-line error carries plain text.
_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")


def main(argv=None):
    """Runs the command line.

    Args:
        argv: list of arguments, without the program name; `sys.argv[1:]` by
            default.

    Returns:
        The exit code: 0 on success, 2 for bad input (as argparse exits for
        bad options), 1 for a bug in keras-attnviz.

    Example:

    ```python
    from keras_attnviz.cli import main

    exit_code = main(["inspect", "no-such-model.h5"])  # prints a one-line error
    assert exit_code == 2
    ```
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        importlib.import_module(_COMMAND_MODULES[args.command]).run(args)
    except UserInputError as error:
        _report(error, f"error: {_one_line(error)}", args.traceback)
        return 2
    except Exception as error:
        # Bad input raises UserInputError, so anything else is our fault.
        what = ": ".join(filter(None, [type(error).__name__, _one_line(error)]))
        where = "above" if args.traceback else "that --traceback prints"
        _report(
            error,
            f"internal error: {what}\nThis is a bug in keras-attnviz; please "
            f"report it, with the traceback {where}.",
            args.traceback,
        )
        return 1
    return 0


def _report(error, message, with_traceback):
    if with_traceback:
        traceback.print_exception(error)
    print(f"keras-attnviz: {message}", file=sys.stderr)


def _one_line(error):
    return " ".join(_ANSI_CODES.sub("", str(error)).split())
