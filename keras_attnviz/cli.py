"""The `keras-attnviz` command."""

import argparse
import sys

from keras_attnviz.version import __version__


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-attnviz",
        description="See what the attention layers of Keras models attend to.",
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-attnviz {__version__}"
    )
    return parser


def main(argv=None):
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
