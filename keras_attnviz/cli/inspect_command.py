"""`keras-attnviz inspect MODEL`: the attention layers of a saved model."""

from keras_attnviz.cli.user_input import as_user_error, load_model_file


def run(args):
    """Prints a table of the attention layers the probe finds in `args.model`.

    Raises:
        UserInputError: if the file cannot be loaded or holds no attention
            layer.
    """
    model = load_model_file(args.model, verbose=args.verbose)
    from keras_attnviz.probe import AttentionProbe

    # The probe's ValueError here says the model holds no attention layer.
    with as_user_error(ValueError):
        probe = AttentionProbe(model)
    print(layer_table(args.model, probe.describe()))


def layer_table(model_path, layers):
    """A text table of attention layers, under a line naming the model.

    Args:
        model_path: the model file, for the heading.
        layers: `(name, class name, weights shape)` tuples, as
            `AttentionProbe.describe()` returns them.

    Returns:
        The table as a str, one line per layer, without trailing spaces.

    Example:

    >>> from keras_attnviz.cli.inspect_command import layer_table
    >>> print(layer_table("m.h5", [("attention", "AdditiveAttention", (None, 64))]))
    m.h5: 1 attention layer(s)
    layer      class              weights shape
    attention  AdditiveAttention  (None, 64)
    """
    rows = [("layer", "class", "weights shape")]
    rows += [(name, layer_class, str(shape)) for name, layer_class, shape in layers]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    heading = f"{model_path}: {len(rows) - 1} attention layer(s)"
    return "\n".join([heading, *(line.rstrip() for line in lines)])
