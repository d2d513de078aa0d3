"""The `keras-attnviz demo` pipeline: data -> model -> .h5 -> reload -> probe -> views.

The model is a char-level GRU classifier whose `AdditiveAttention`, queried
by the final state, averages the characters' embeddings: it can classify only
by weighting the cue. Averaging the GRU states instead makes nothing
faithful: every state after the cue already carries it, and the attention
puts its peak on the cue for few positive sentences at 100% accuracy
(tests/cli/test_demo.py).
The demo trains that second, unfaithful model too, and `faithfulness.html`
measures both side by side, so that the numbers that tell them apart are on
one page.

An `AttentionMonitor` watches one positive test sentence while the model
trains, so that `attention_epochs.html` shows the cue winning the attention
epoch by epoch.
"""

import dataclasses
import os

import numpy as np

from keras_attnviz.cli.tensorflow_startup import start_tensorflow
from keras_attnviz.cli.user_input import UserInputError
from keras_attnviz.datasets import cue_sentences
from keras_attnviz.vocabulary import Vocabulary

MAXLEN = 64
LAYER_NAME = "attention"
_DEFAULT_EPOCHS = 4
# Positive test sentences measured in faithfulness.html (each costs the
# integrated gradients' 50 steps and one occlusion pass per character).
_MAX_EXPLAINED = 50


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """What the demo measured and wrote.

    Attributes:
        accuracy: test accuracy of the classifier.
        cue_hit_rate: share of positive test sentences whose attention peak
            lies on a character of the cue word.
        n_test: number of test sentences.
        paths: the files written.
        faithfulness: the `FaithfulnessReport` of each model on positive test
            sentences, by name: `"demo"` (the classifier above) and
            `"final_state"` (the unfaithful model, `build_final_state_classifier`).
        final_state_accuracy: test accuracy of the unfaithful model.
        final_state_cue_hit_rate: `cue_hit_rate` of the unfaithful model.
    """

    accuracy: float
    cue_hit_rate: float
    n_test: int
    paths: tuple
    faithfulness: dict = dataclasses.field(default_factory=dict)
    final_state_accuracy: float = float("nan")
    final_state_cue_hit_rate: float = float("nan")

    def __str__(self):
        lines = [
            f"accuracy {self.accuracy:.1%} on {self.n_test} test sentences; "
            f"attention peak on the cue in {self.cue_hit_rate:.1%} of positive "
            "sentences"
        ]
        if self.faithfulness:
            top1 = {
                name: report.table.loc[f"attention: {LAYER_NAME}", "top1"]
                for name, report in self.faithfulness.items()
            }
            lines.append(
                "attention's top character is the one whose removal hurts most "
                f"in {top1['demo']:.0%} of positive sentences; for the "
                f"final-state model ({self.final_state_accuracy:.1%} accurate, "
                f"attention peak on the cue in {self.final_state_cue_hit_rate:.1%}), "
                f"in {top1['final_state']:.0%}"
            )
        return "\n".join(lines)


def run(args):
    """The `keras-attnviz demo` command: runs the demo, prints what it wrote.

    Raises:
        UserInputError: if `--out` cannot be made a folder to write in.
    """
    _check_out_folder(args.out)
    start_tensorflow(verbose=args.verbose)
    summary = run_demo(args.out, epochs=args.epochs, seed=args.seed)
    for path in summary.paths:
        print(path)
    print(summary)


def _check_out_folder(out):
    # `os.makedirs` creates the missing folders under the nearest existing one.
    existing = os.path.abspath(out)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not (os.path.isdir(existing) and os.access(existing, os.W_OK)):
        blocker = "not writable" if os.path.isdir(existing) else "a file"
        raise UserInputError(
            "--out must be a folder that can be written or created. Received: "
            f"{out!r} ({existing!r} is {blocker})"
        )


def build_classifier(vocab_size, maxlen=MAXLEN, *, units=32):
    """The demo's char-level GRU classifier, faithful by construction.

    Its `AdditiveAttention` is queried by the GRU's final state and scores
    each position by its character and GRU state, but the values it averages
    are the characters' embeddings alone: the context holds only the
    characters the attention picks, so the model can classify only by
    weighting the cue.

    Args:
        vocab_size: number of character ids, padding (id 0) included.
        maxlen: length of the padded id sequences.
        units: size of the embeddings and of the GRU.

    Returns:
        An uncompiled `keras.Model` from `(batch, maxlen)` ids to a probability.
    """
    import keras

    from keras_attnviz.layers import AdditiveAttention

    ids, chars, states, final_state = _char_gru(vocab_size, maxlen, units)
    keys = keras.layers.Concatenate()([chars, states])
    context = AdditiveAttention(name=LAYER_NAME)([final_state, chars, keys])
    return _classifier(ids, context, "char_gru_attention")


def build_final_state_classifier(vocab_size, maxlen=MAXLEN, *, units=32):
    """An unfaithful twin: the same query, over the GRU states as values.

    Every GRU state after the cue already carries it, so the attention can
    look anywhere while the model classifies perfectly: the demo's contrast
    to `build_classifier`, whose arguments and return value it shares.
    """
    from keras_attnviz.layers import DotProductAttention

    ids, _, states, final_state = _char_gru(vocab_size, maxlen, units)
    context = DotProductAttention(name=LAYER_NAME)([final_state, states])
    return _classifier(ids, context, "char_gru_final_state_query")


def _char_gru(vocab_size, maxlen, units):
    """The demo models' ids, embeddings, GRU states and GRU final state."""
    import keras

    ids = keras.Input((maxlen,), dtype="int32", name="char_ids")
    chars = keras.layers.Embedding(vocab_size, units, mask_zero=True)(ids)
    states, final_state = keras.layers.GRU(
        units, return_sequences=True, return_state=True
    )(chars)
    return ids, chars, states, final_state


def _classifier(ids, context, name):
    import keras

    output = keras.layers.Dense(1, activation="sigmoid", name="positive")(context)
    return keras.Model(ids, output, name=name)


def run_demo(
    out_dir="attnviz-demo",
    *,
    epochs=None,
    seed=0,
    n_train=3000,
    n_test=200,
    verbose="auto",
):
    """Trains, saves, reloads, probes and renders the demo classifier.

    Args:
        out_dir: folder for the files; created if missing.
        epochs: training epochs (default 4).
        seed: seed of the data and of the weights.
        n_train: number of training sentences.
        n_test: number of test sentences (at least 20 go into the report).
        verbose: Keras verbosity of training and probing.

    Returns:
        A `DemoSummary`.

    Example:

    ```python
    from keras_attnviz.cli.demo import run_demo

    summary = run_demo("attnviz-demo", epochs=2)
    print(summary.accuracy, summary.paths)
    ```
    """
    import keras

    from keras_attnviz.callbacks import AttentionMonitor
    from keras_attnviz.faithfulness import faithfulness_report
    from keras_attnviz.saving.load import load_model

    if n_test < 20:
        raise ValueError(f"`n_test` must be at least 20. Received: {n_test}")
    os.makedirs(out_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    train = cue_sentences(n_train, seed=seed)
    test = cue_sentences(n_test, seed=seed + 1)
    vocab = Vocabulary.from_texts(train.texts + test.texts)

    # Pre-padding, as keras.utils.pad_sequences does by default.
    train_ids, test_ids = (
        vocab.encode(data.texts, maxlen=MAXLEN, padding="pre") for data in (train, test)
    )

    watched = _first_positive(test)
    monitor = AttentionMonitor(
        test_ids[watched : watched + 1],
        tokens=[list(test.texts[watched])],
        layers=[LAYER_NAME],
    )
    model = _trained(
        build_classifier(len(vocab)),
        train_ids,
        train.labels,
        epochs=epochs,
        verbose=verbose,
        callbacks=[monitor],
    )

    model_path = os.path.join(out_dir, "model.h5")
    vocab_path = os.path.join(out_dir, "vocab.json")
    model.save(model_path)
    vocab.save(vocab_path)
    reloaded = load_model(model_path)

    probabilities, maps, hits = _probed(reloaded, test_ids, test, verbose)
    final_state = _trained(
        build_final_state_classifier(len(vocab)),
        train_ids,
        train.labels,
        epochs=epochs,
        verbose=verbose,
    )
    final_probabilities, _, final_hits = _probed(final_state, test_ids, test, 0)
    explained = np.flatnonzero(test.labels)[:_MAX_EXPLAINED]
    faithfulness = {
        name: faithfulness_report(
            classifier, test_ids[explained], attention_layers=[LAYER_NAME]
        )
        for name, classifier in (("demo", reloaded), ("final_state", final_state))
    }
    return DemoSummary(
        accuracy=_accuracy(probabilities, test.labels),
        cue_hit_rate=_hit_rate(hits),
        n_test=n_test,
        paths=(
            _write_report(out_dir, maps, probabilities, test, hits),
            _write_heatmap(out_dir, maps, probabilities, test),
            _write_table(out_dir, maps[watched]),
            _write_epochs(out_dir, monitor),
            _write_faithfulness(
                out_dir, faithfulness, [list(test.texts[i]) for i in explained]
            ),
            model_path,
            vocab_path,
        ),
        faithfulness=faithfulness,
        final_state_accuracy=_accuracy(final_probabilities, test.labels),
        final_state_cue_hit_rate=_hit_rate(final_hits),
    )


def _probed(model, ids, data, verbose):
    """Probabilities, attention maps, and whether each peak is on the cue."""
    from keras_attnviz.probe import AttentionProbe

    result = AttentionProbe(model, layers=[LAYER_NAME]).predict(ids, verbose=verbose)
    maps = [
        result.sample(i, LAYER_NAME, tokens=list(text))
        for i, text in enumerate(data.texts)
    ]
    hits = [
        _peak_on_cue(amap.weights, span)
        for amap, span in zip(maps, data.cue_spans, strict=True)
    ]
    return np.asarray(result.outputs).reshape(-1), maps, hits


def _hit_rate(hits):
    """The share of sentences with a cue (positives) whose peak is on it."""
    return float(np.mean([hit for hit in hits if hit is not None]))


def _trained(model, ids, labels, *, epochs, verbose, callbacks=()):
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(
        ids,
        labels,
        epochs=epochs or _DEFAULT_EPOCHS,
        batch_size=64,
        verbose=verbose,
        callbacks=list(callbacks),
    )
    return model


def _accuracy(probabilities, labels):
    return float(np.mean((probabilities > 0.5).astype(int) == labels))


def _peak_on_cue(weights, span):
    if span is None:
        return None
    peak = int(np.argmax(weights))
    return span[0] <= peak < span[1]


def _first_positive(data):
    return int(np.flatnonzero(data.labels)[0])


def _write_report(out_dir, maps, probabilities, data, hits):
    from keras_attnviz.render import html_report

    rows = range(min(len(maps), 24))
    path = os.path.join(out_dir, "report.html")
    html_report(
        [maps[i] for i in rows],
        predictions=[f"{probabilities[i]:.2f}" for i in rows],
        labels=[int(data.labels[i]) for i in rows],
        columns={"top character": [_hit_note(hits[i]) for i in rows]},
        level="char",
    ).save(path, title="keras-attnviz demo: what the classifier attends to")
    return path


def _hit_note(hit):
    if hit is None:
        return "no cue"
    return "peak on the cue" if hit else "peak off the cue"


def _write_heatmap(out_dir, maps, probabilities, data, rows=8):
    from matplotlib.figure import Figure

    from keras_attnviz.render import heatmap

    rows = min(rows, len(maps))
    width = max(len(amap.tokens) for amap in maps[:rows])
    weights = np.zeros((rows, width))
    chars = np.full((rows, width), "", dtype=object)
    hidden = np.ones((rows, width), dtype=bool)
    for row, amap in enumerate(maps[:rows]):
        n = len(amap.tokens)
        weights[row, :n] = amap.weights
        chars[row, :n] = amap.tokens
        hidden[row, :n] = False
    labels = [f"y={data.labels[i]} p={probabilities[i]:.2f}" for i in range(rows)]
    figure = Figure(
        figsize=(max(8, width * 0.22), 0.5 * rows + 1.5), layout="constrained"
    )
    ax = figure.add_subplot()
    heatmap(weights, y_labels=labels, annot=chars, mask=hidden, ax=ax)
    ax.set_xlabel("character position")
    ax.set_title("Attention over characters (planted cue: 'superb')")
    path = os.path.join(out_dir, "heatmap.png")
    figure.savefig(path, dpi=110)
    return path


def _write_epochs(out_dir, monitor):
    path = os.path.join(out_dir, "attention_epochs.html")
    monitor.render(level="char").save(
        path, title="keras-attnviz demo: the cue wins the attention, epoch by epoch"
    )
    return path


_FAITHFULNESS_INTRO = """<p>Two classifiers of the same sentences, both nearly always
right. Both query their attention with the GRU's final state.
The first (the demo's) averages the characters' embeddings, so it can only
classify by weighting the cue: its attention explains it. The second averages
the GRU states: every state after the cue already carries it, so its
attention can look anywhere. Each table
compares the attention with integrated gradients, gradient x input, occlusion
and random scores on the positive test sentences: attention that explains the
model removes more of the prediction than the random row, and its top
character is occlusion's.</p>
"""
_FAITHFULNESS_HEADINGS = {
    "demo": "The demo's classifier: attention over [embedding; GRU state]",
    "final_state": "The final-state query over GRU states",
}


def _write_faithfulness(out_dir, reports, token_lists):
    from keras_attnviz.cli import explanation_page

    sections = [
        explanation_page.section(
            report,
            token_lists[:8],
            attention=f"attention: {LAYER_NAME}",
            level="char",
            padding="pre",
            heading=_FAITHFULNESS_HEADINGS[name],
        )
        for name, report in reports.items()
    ]
    path = os.path.join(out_dir, "faithfulness.html")
    with open(path, "w", encoding="utf-8") as file:
        file.write(
            explanation_page.page(
                "keras-attnviz demo: is the attention telling the truth?",
                sections,
                intro=_FAITHFULNESS_INTRO,
            )
        )
    return path


def _write_table(out_dir, amap):
    from keras_attnviz.render import styler

    path = os.path.join(out_dir, "table.html")
    with open(path, "w", encoding="utf-8") as file:
        file.write(styler(amap, width=32).to_html(doctype_html=True))
    return path
