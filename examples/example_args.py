"""The command line every example shares: `--out DIR [--quick]`."""

import argparse
import os

import keras


def parse_example_args(description, argv=None):
    """Parses `--out` and `--quick`, creates the output folder, seeds Keras.

    `--quick` trains on less data (the test suite uses it); the planted
    structure must still be found.
    """
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the pictures")
    parser.add_argument("--quick", action="store_true", help="less data, for tests")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(0)
    return args
