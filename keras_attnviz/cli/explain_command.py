"""`keras-attnviz explain MODEL ...`: attention beside attribution, and how
faithful each is.

As in `render`, the texts, `--out` and `--vocab` are checked before TensorFlow
starts; this module imports neither it nor NumPy at load time.
"""

import contextlib
import os

from keras_attnviz.cli import explanation_page
from keras_attnviz.cli.model_texts import check_out, check_texts, model_inputs
from keras_attnviz.cli.user_input import (
    UserInputError,
    as_user_error,
    load_model_file,
    read_texts,
    read_vocabulary,
)


def run(args):
    """Writes the attention, the attributions and the faithfulness table to `args.out`.

    The attributions explain each text's predicted class. Prints the path
    written.

    Raises:
        UserInputError: for bad texts, paths or options, a model file that
            cannot be loaded, a model without attention or an embedding layer,
            or texts the model cannot read.
    """
    texts = read_texts(args.texts) if args.texts else check_texts(args.text)
    _check_html_out(args.out, len(texts))
    vocab = read_vocabulary(args.vocab, level=args.level)
    model = load_model_file(args.model, verbose=args.verbose)
    from keras_attnviz.attribution import find_embedding_layer
    from keras_attnviz.faithfulness import faithfulness_report
    from keras_attnviz.probe import AttentionProbe

    # ValueError here: no (or several) embedding layers, no layer named
    # --embedding or --layer, or no attention to probe.
    with as_user_error(ValueError):
        find_embedding_layer(model, args.embedding)
        probe = AttentionProbe(model, layers=[args.layer] if args.layer else None)
    inputs, token_lists = model_inputs(model, texts, args, vocab)
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
    body = explanation_page.section(
        report,
        token_lists,
        attention=f"attention: {args.layer or probe.layer_names[0]}",
        level="token" if by_string else args.level,
        padding=args.pad,
    )
    page = explanation_page.page(
        f"Attention and attribution of {os.path.basename(args.model)}", [body]
    )
    # --out was checked, but writing can still fail (a full disk).
    with as_user_error(OSError), open(args.out, "w", encoding="utf-8") as file:
        file.write(page)
    print(args.out)


def _check_html_out(out, n_texts):
    if os.path.splitext(out)[1].lower() != ".html":
        raise UserInputError(f"--out must end with .html. Received: {out!r}")
    check_out(out, n_texts, suffixes=(".html",))
