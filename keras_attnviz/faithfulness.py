"""Faithfulness: do a method's scores pick the tokens a prediction rests on?

ERASER's measures (DeYoung et al., 2020) remove the tokens that a method
scores highest and watch the prediction: `comprehensiveness` (removing them
should hurt) and `sufficiency` (keeping only them should not), each per
sample and averaged over several sizes of the removed part (AOPC).
`agreement` compares two methods' scores sample by sample (Jain & Wallace,
2019; Wiegreffe & Pinter, 2019), and `faithfulness_report` puts attention,
gradient attributions, occlusion and a random baseline side by side.

Tokens are removed as `occlusion` removes them (see
`keras_attnviz.attribution.occlusion`), on any backend.
"""

import dataclasses
import math

import numpy as np

from keras_attnviz.attribution.runner import AttributionRunner, check_positive_int

DEFAULT_FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)
AGREEMENT_METHODS = ("kendall", "spearman", "top1", "topk")
REPORT_METHODS = (
    "attention",
    "integrated_gradients",
    "gradient_x_input",
    "saliency",
    "occlusion",
    "random",
)
DEFAULT_REPORT_METHODS = (
    "attention",
    "integrated_gradients",
    "gradient_x_input",
    "occlusion",
    "random",
)
_SIGNIFICANCE = 0.05
# A method beats the random row when its mean comprehensiveness exceeds the
# random row's by more than this many standard errors of the paired
# per-sample difference.
_BEATS_RANDOM_STANDARD_ERRORS = 2.0


@dataclasses.dataclass(frozen=True)
class RemovalCurve:
    """Comprehensiveness or sufficiency of scores, per sample and size.

    Attributes:
        measure: `"comprehensiveness"` or `"sufficiency"`.
        fractions: the shares of each sample's real tokens taken as its top
            tokens (at least one token each).
        values: `(N, len(fractions))`: the target output of the sample minus
            that of the sample without its top tokens (comprehensiveness) or
            with only them (sufficiency).

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.faithfulness import RemovalCurve
    >>> values = np.array([[0.2, 0.6], [0.0, 0.4]])
    >>> curve = RemovalCurve("comprehensiveness", (0.1, 0.5), values)
    >>> curve.aopc
    array([0.4, 0.2])
    >>> round(curve.mean, 3)
    0.3
    ```
    """

    measure: str
    fractions: tuple
    values: np.ndarray

    @property
    def aopc(self):
        """`(N,)`: each sample's mean over `fractions` (AOPC)."""
        return self.values.mean(axis=1)

    @property
    def mean(self):
        """The mean AOPC over the samples, the number ERASER reports."""
        return float(self.aopc.mean())


@dataclasses.dataclass(frozen=True)
class Agreement:
    """How two methods' scores agree, sample by sample.

    Attributes:
        method: `"kendall"`, `"spearman"`, `"top1"` or `"topk"`.
        values: `(N,)`: Kendall's tau-b or Spearman's rho over the real
            positions, or the share of the top-k positions both pick (1 or 0
            for top-1). NaN where a rank correlation is undefined (constant
            scores, fewer than 3 tokens for Spearman).
        pvalues: `(N,)` two-sided p-values of the rank correlations (Kendall:
            the normal approximation, as `scipy.stats.kendalltau(...,
            method="asymptotic")`; Spearman: Student's t with n - 2 degrees
            of freedom, as `scipy.stats.spearmanr`), or `None` for top-k.
        k: the k of `"topk"` (1 for `"top1"`), or `None`.

    Example:

    ```python
    >>> from keras_attnviz.faithfulness import agreement
    >>> result = agreement([[0.1, 0.9, 0.3]], [[0.2, 0.8, 0.1]], method="spearman")
    >>> result.values, result.pvalues.round(3)
    (array([0.5]), array([0.667]))
    >>> result.significant  # three tokens are too few to tell
    0.0
    ```
    """

    method: str
    values: np.ndarray
    pvalues: np.ndarray = None
    k: int = None

    @property
    def mean(self):
        """The mean over the samples where the agreement is defined."""
        defined = self.values[~np.isnan(self.values)]
        return float(defined.mean()) if defined.size else math.nan

    @property
    def significant(self):
        """Share of samples with a positive rank correlation, p < 0.05.

        `None` for top-k agreement.
        """
        if self.pvalues is None:
            return None
        with np.errstate(invalid="ignore"):
            agree = (self.values > 0) & (self.pvalues < _SIGNIFICANCE)
        return float(agree.mean())


def comprehensiveness(
    model,
    inputs,
    scores,
    *,
    fractions=DEFAULT_FRACTIONS,
    target=None,
    replace_with="mask",
    layer=None,
    key_mask=None,
    batch_size=None,
):
    """ERASER's comprehensiveness: how much removing the top tokens hurts.

    For each sample and each fraction f, the top `ceil(f * n)` of its `n`
    real tokens by `scores` are removed, and the value is the target output
    of the sample minus that of what is left. High values: the scores found
    tokens the prediction needs. Their mean over `fractions` is the sample's
    AOPC.

    Args:
        model: a built `keras.Model` with one output.
        inputs: what `model.predict` takes for a batch.
        scores: `(N, T)` scores, one per position of the embedding layer's
            input (padding is never removed), or an `Attribution`.
        fractions: shares of the real tokens to remove, each in (0, 1].
        target, replace_with, layer, key_mask, batch_size: as in
            `keras_attnviz.attribution.occlusion`.

    Returns:
        A `RemovalCurve`.

    Raises:
        TypeError: for arguments of the wrong type.
        ValueError: if `scores` has the wrong shape or is not finite, a
            fraction is outside (0, 1], or for the reasons `occlusion` gives.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_attnviz.faithfulness import comprehensiveness

    ids = keras.Input((4,), dtype="int32")
    vectors = keras.layers.Embedding(10, 2, mask_zero=True)(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(pooled))

    token_ids = np.array([[3, 5, 7, 9]])
    curve = comprehensiveness(
        model, token_ids, [[0.9, 0.1, 0.0, 0.0]], fractions=(0.25,), target=1
    )
    # One token (25% of 4) removed: the first, the highest score.
    full = model.predict(token_ids, verbose=0)[0, 0]
    without = model.predict(np.array([[0, 5, 7, 9]]), verbose=0)[0, 0]
    assert np.isclose(curve.values[0, 0], full - without, atol=1e-6)
    ```
    """
    runner = AttributionRunner(
        "comprehensiveness", model, inputs, layer, target, key_mask, batch_size
    )
    return removal_curve(runner, scores, "comprehensiveness", fractions, replace_with)


def sufficiency(
    model,
    inputs,
    scores,
    *,
    fractions=DEFAULT_FRACTIONS,
    target=None,
    replace_with="mask",
    layer=None,
    key_mask=None,
    batch_size=None,
):
    """ERASER's sufficiency: how much keeping only the top tokens loses.

    As `comprehensiveness`, but every real token except the top ones is
    removed: the value is the target output of the sample minus that of its
    top tokens alone. Low (or negative) values: the top tokens suffice.

    Args:
        model, inputs, scores, fractions, target, replace_with, layer,
        key_mask, batch_size: as in `comprehensiveness`.

    Returns:
        A `RemovalCurve`.

    Raises:
        TypeError, ValueError: as `comprehensiveness`.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_attnviz.faithfulness import sufficiency

    ids = keras.Input((4,), dtype="int32")
    vectors = keras.layers.Embedding(10, 2, mask_zero=True)(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(pooled))

    curve = sufficiency(model, np.array([[3, 5, 7, 9]]), [[0.9, 0.1, 0.0, 0.0]])
    curve.values.shape  # (1, 5): one value per fraction
    curve.aopc  # their mean
    ```
    """
    runner = AttributionRunner(
        "sufficiency", model, inputs, layer, target, key_mask, batch_size
    )
    return removal_curve(runner, scores, "sufficiency", fractions, replace_with)


def removal_curve(runner, scores, measure, fractions, replace_with="mask"):
    """`comprehensiveness` or `sufficiency` on a prepared `AttributionRunner`."""
    scores = _as_scores(scores, runner.key_mask.shape)
    fractions = _check_fractions(fractions)
    top = _top_positions(scores, runner.key_mask, fractions)
    remove = top if measure == "comprehensiveness" else runner.key_mask[:, None] & ~top
    n_samples, n_bins, n_positions = remove.shape
    after = runner.target_after_removal(
        np.repeat(np.arange(n_samples), n_bins),
        remove.reshape(-1, n_positions),
        runner.replacement_id(replace_with),
    )
    values = runner.target_output[:, None] - after.reshape(n_samples, n_bins)
    return RemovalCurve(measure, fractions, values)


def agreement(scores_a, scores_b, *, method="kendall", k=3, key_mask=None):
    """How two methods' scores agree, over each sample's real positions.

    Beware of rank correlations over all tokens: they are dominated by the
    many tokens that do not matter, whose order is noise. On a planted-cue
    classifier whose attention pooled its embeddings, attention's top token
    was occlusion's top token in 100% of positive samples, yet Kendall's tau
    between the two was -0.74: removing a heavily attended non-cue character
    raises the prediction a little. The top tokens agreeing is what says the
    two explain the same thing; read the rank correlation as a secondary
    signal, never as a verdict on its own.

    Args:
        scores_a: `(N, T)` scores, or an `Attribution`.
        scores_b: `(N, T)` scores, or an `Attribution`.
        method: `"kendall"` (tau-b, ties handled), `"spearman"` (rho on
            ranks, ties averaged), `"top1"` (the top positions are the same)
            or `"topk"` (the share of the `k` top positions both pick).
        k: for `"topk"`, how many top positions (at most each sample's real
            positions).
        key_mask: optional boolean `(N, T)`, `True` = real position; by
            default that of the `Attribution`s given, else every position.

    Returns:
        An `Agreement`.

    Raises:
        TypeError: for a `method` or `k` of the wrong type.
        ValueError: if the scores differ in shape or are not finite, or
            `method` or `k` is not one of the above.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.faithfulness import agreement
    >>> a = np.array([[0.1, 0.7, 0.2, 0.0], [0.5, 0.1, 0.3, 0.1]])
    >>> b = np.array([[0.0, 0.9, 0.3, 0.1], [0.1, 0.2, 0.6, 0.1]])
    >>> agreement(a, b, method="top1").values
    array([1., 0.])
    >>> result = agreement(a, b, method="kendall")
    >>> result.values.round(2)
    array([0.67, 0.  ])
    ```
    """
    if method not in AGREEMENT_METHODS:
        raise ValueError(
            f"`method` must be one of {AGREEMENT_METHODS}. Received: method={method!r}"
        )
    if method == "topk":
        check_positive_int(k, "k")
    mask = key_mask
    for scores in (scores_a, scores_b):
        if mask is None and hasattr(scores, "key_mask"):
            mask = scores.key_mask
    shape = np.shape(getattr(scores_a, "scores", scores_a))
    a = _as_scores(scores_a, shape, name="scores_a")
    b = _as_scores(scores_b, shape, name="scores_b")
    mask = np.ones(shape, bool) if mask is None else _as_mask(mask, shape)
    if method in ("top1", "topk"):
        k = 1 if method == "top1" else int(k)
        samples = zip(a, b, mask, strict=True)
        values = np.array([_top_overlap(x[m], y[m], k) for x, y, m in samples])
        return Agreement(method, values, k=k)
    correlate = _kendall_tau_b if method == "kendall" else _spearman_rho
    pairs = np.array(
        [correlate(x[m], y[m]) for x, y, m in zip(a, b, mask, strict=True)]
    )
    return Agreement(method, pairs[:, 0], pairs[:, 1])


class FaithfulnessReport:
    """Attention and attributions measured on a model; see `faithfulness_report`.

    Attributes:
        table: the pandas `DataFrame`, one row per method (see
            `faithfulness_report` for its columns and how to read them).
        attributions: dict from row name to the `Attribution` of its scores
            (attention rows too), for rendering: `attributions[name].sample(i)`.
        n_samples: how many samples were measured.
        completeness_gap: integrated gradients' `(N,)` completeness gaps, or
            `None` when they were not computed. A model whose output jumps
            along the path (a trained recurrent model can switch from 0 to 1
            within 1% of it) needs more steps for some samples.

    Example:

    ```python
    import pandas as pd
    from keras_attnviz.attribution import Attribution
    from keras_attnviz.faithfulness import FaithfulnessReport

    # What `faithfulness_report` returns, here made by hand.
    table = pd.DataFrame(
        {"comprehensiveness": [0.8, 0.2], "top1": [1.0, 0.1]},
        index=["occlusion", "random"],
    )
    occlusion = Attribution(
        [[0.0, 0.9]],
        key_mask=[[False, True]],
        method="occlusion",
        target=[1],
        target_output=[0.9],
    )
    report = FaithfulnessReport(table, {"occlusion": occlusion})
    print(report)  # the table, then how to read it
    assert "<table" in report.to_html()
    ```
    """

    def __init__(self, table, attributions):
        self.table = table
        self.attributions = attributions
        self.n_samples = len(next(iter(attributions.values())))

    @property
    def completeness_gap(self):
        """Integrated gradients' completeness gaps (see above), or `None`."""
        gradients = self.attributions.get("integrated_gradients")
        return None if gradients is None else gradients.completeness_gap

    @property
    def notes(self):
        """Lines that say how the table was made and how to read it."""
        lines = [
            f"{self.n_samples} samples; agreement is with occlusion, the "
            "reference; comprehensiveness and sufficiency are AOPC means.",
            "A method that does not beat the random row does not explain the "
            "model. Top-1/top-k agreement and comprehensiveness are the "
            "headline; Kendall's tau over all tokens is dominated by the "
            "unimportant ones and can be negative for a faithful method.",
        ]
        gap = self.completeness_gap
        if gap is not None:
            lines.append(
                f"integrated gradients: completeness gap {np.nanmedian(gap):.2%} "
                f"(median), {np.nanmax(gap):.2%} (largest); over a few percent, "
                "raise `steps`."
            )
        return lines

    def to_string(self):
        """The table and its notes as plain text."""
        table = self.table.to_string(float_format=lambda value: f"{value:.3f}")
        return "\n".join([table, "", *self.notes])

    def __str__(self):
        return self.to_string()

    def to_html(self):
        """The table and its notes as an HTML fragment (escaped)."""
        import html

        table = self.table.to_html(
            float_format=lambda value: f"{value:.3f}",
            classes="kav-faithfulness",
            escape=True,
            border=0,
            index_names=False,
        )
        notes = "".join(f"<p>{html.escape(line)}</p>" for line in self.notes)
        return f'<div class="kav-faithfulness-report">{table}{notes}</div>'

    def _repr_html_(self):
        return self.to_html()

    def __repr__(self):
        return (
            f"FaithfulnessReport(samples={self.n_samples}, "
            f"methods={list(self.table.index)})"
        )


def faithfulness_report(
    model,
    inputs,
    *,
    layer=None,
    methods=DEFAULT_REPORT_METHODS,
    attention_layers=None,
    per_head=False,
    target=None,
    fractions=DEFAULT_FRACTIONS,
    steps=50,
    k=3,
    replace_with="mask",
    key_mask=None,
    batch_size=None,
    seed=0,
):
    """Attention, attributions and a random baseline, measured on one batch.

    Each method scores every token of every sample; the table then says how
    much the prediction rests on the tokens each one ranks highest, and how
    well each agrees with occlusion, which removes each token and watches the
    prediction (the most direct measure, and the reference here).

    Columns (one row per method; attention gives one row per attention layer
    whose keys are the tokens, weights averaged over heads and real queries):

    - `comprehensiveness`: mean AOPC of the drop of the target output when
      the top tokens are removed (higher is better);
    - `sufficiency`: mean AOPC of the drop when only they are kept (lower is
      better);
    - `top1`: share of samples whose top token is occlusion's top token;
    - `top{k}`: mean share of occlusion's top k tokens the method also puts
      in its top k;
    - `kendall_tau`: mean Kendall's tau-b with occlusion over real tokens;
    - `tau_significant`: share of samples where that tau is positive and
      significant at 0.05;
    - `beats_random`: whether the method's comprehensiveness exceeds the
      random row's by more than two standard errors (paired over samples).

    How to read it: a method no better than the random row does not explain
    the model. Attention that explains the model has comprehensiveness well
    above random and high top-1/top-k agreement; attention over states that
    already mix the sequence (the final-state query over GRU states) can
    look anywhere while the model classifies perfectly, and then sits near
    the random row. Kendall's tau is dominated by the many unimportant
    tokens: a faithful attention can have a negative tau (see `agreement`),
    so it is shown, not used to judge. Measure the samples that hold the
    evidence to explain (the positive ones, for a planted-cue classifier): a
    prediction that rests on an absence has no token to find.

    Args:
        model: a built `keras.Model` with one output.
        inputs: what `model.predict` takes for a batch.
        layer: the embedding layer, or its name (see `find_embedding_layer`).
        methods: which rows to show, from `"attention"`,
            `"integrated_gradients"`, `"gradient_x_input"`, `"saliency"`,
            `"occlusion"` and `"random"`. Occlusion is computed in any case,
            as the reference.
        attention_layers: the attention layers for the attention rows, as
            in `AttentionProbe(model, layers=...)`; default: all.
        per_head: one attention row per head of multi-head layers.
        target: `None` (each sample's predicted class), a class, or one per
            sample.
        fractions: the removal sizes of comprehensiveness and sufficiency.
        steps: integrated gradients' steps.
        k: the k of the `top{k}` column.
        replace_with: how tokens are removed (see `occlusion`).
        key_mask: optional boolean `(N, T)`, `True` = real position.
        batch_size: rows per model call.
        seed: seed of the random row.

    Returns:
        A `FaithfulnessReport`: `.table` is the DataFrame; Jupyter shows it
        with its notes, and `print` writes it as text.

    Raises:
        NotImplementedError: for gradient methods under the NumPy backend.
        ValueError: for an unknown method, a model without attention when
            `"attention"` is asked for, or for the reasons `occlusion` and
            `integrated_gradients` give.

    Example:

    ```python
    import keras
    import numpy as np
    import keras_attnviz
    from keras_attnviz.faithfulness import faithfulness_report

    ids = keras.Input((6,), dtype="int32")
    vectors = keras.layers.Embedding(20, 8, mask_zero=True)(ids)
    pooled = keras_attnviz.AdditiveAttention(name="attention")(vectors)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(pooled))

    token_ids = np.random.default_rng(0).integers(1, 20, size=(16, 6))
    report = faithfulness_report(model, token_ids, steps=16)
    print(report)  # the table, then how to read it
    assert list(report.table.index) == [
        "attention: attention",
        "integrated_gradients",
        "gradient_x_input",
        "occlusion",
        "random",
    ]
    ```
    """
    import pandas as pd

    from keras_attnviz.attribution.gradients import gradients_at_inputs, integrate
    from keras_attnviz.attribution.leave_one_out import occlude

    methods = _check_methods(methods)
    check_positive_int(k, "k")
    runner = AttributionRunner(
        "faithfulness_report", model, inputs, layer, target, key_mask, batch_size
    )
    reference = occlude(runner, replace_with=replace_with)
    attributions = {}
    if "attention" in methods:
        attributions.update(
            _attention_attributions(runner, inputs, attention_layers, per_head)
        )
    if "integrated_gradients" in methods:
        attributions["integrated_gradients"] = integrate(runner, steps=steps)
    if {"gradient_x_input", "saliency"} & set(methods):
        at_inputs = gradients_at_inputs(runner)
        attributions.update(
            {name: at_inputs[name] for name in methods if name in at_inputs}
        )
    if "occlusion" in methods:
        attributions["occlusion"] = reference
    if "random" in methods:
        noise = np.random.default_rng(seed).random(runner.key_mask.shape)
        attributions["random"] = runner.attribution(noise, "random")
    rows = {}
    comprehensive = {}
    for name, attribution in attributions.items():
        curves = [
            removal_curve(runner, attribution, measure, fractions, replace_with)
            for measure in ("comprehensiveness", "sufficiency")
        ]
        comprehensive[name] = curves[0].aopc
        tau = agreement(attribution, reference, method="kendall")
        rows[name] = {
            "comprehensiveness": curves[0].mean,
            "sufficiency": curves[1].mean,
            "top1": agreement(attribution, reference, method="top1").mean,
            f"top{k}": agreement(attribution, reference, method="topk", k=k).mean,
            "kendall_tau": tau.mean,
            "tau_significant": tau.significant,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    if "random" in comprehensive:
        table["beats_random"] = [
            _beats(comprehensive[name], comprehensive["random"]) for name in table.index
        ]
    return FaithfulnessReport(table, attributions)


def _attention_attributions(runner, inputs, attention_layers, per_head):
    """One `Attribution` per attention layer (and head) whose keys are the tokens."""
    from keras_attnviz.probe import AttentionProbe

    probe = AttentionProbe(runner.model, layers=attention_layers)
    result = probe.predict(inputs, batch_size=runner.batch_size, verbose=0)
    found = {}
    for name, weights in result.attention.items():
        if (
            weights.shape[0] != runner.n_samples
            or weights.shape[-1] != runner.n_positions
        ):
            continue  # keys that are not the tokens (a decoder's, a pooled axis)
        queries = _real_queries(result, name, weights.shape)
        if weights.ndim == 2:  # pooling or one query: (N, 1 head, 1 query, T)
            weights = weights[:, None, None]
        elif weights.ndim == 3:  # (N, 1 head, Tq, T)
            weights = weights[:, None]
        if not per_head:
            weights = weights.mean(axis=1, keepdims=True)
        n_real_queries = np.maximum(queries.sum(axis=1, keepdims=True), 1)
        for head in range(weights.shape[1]):
            scores = (weights[:, head] * queries[..., None]).sum(axis=1)
            label = f"attention: {name}"
            if weights.shape[1] > 1:
                label += f" head {head}"
            found[label] = runner.attribution(scores / n_real_queries, label)
    if not found:
        raise ValueError(
            "The attention rows need an attention layer whose keys are the "
            f"{runner.n_positions} positions of the embedding layer's input. "
            f"Received: layers {list(result.attention)} with weights of shapes "
            f"{[w.shape for w in result.attention.values()]}"
        )
    return found


def _real_queries(result, name, shape):
    """`(N, Tq)` weights of each query in the mean: 1 for a real query."""
    if len(shape) == 2:
        return np.ones((shape[0], 1))
    mask = result.query_masks.get(name)
    if mask is None and name in result.self_attention:
        mask = result.key_masks.get(name)
    return np.ones((shape[0], shape[-2])) if mask is None else mask.astype(float)


def _beats(aopc, random_aopc):
    difference = aopc - random_aopc
    if len(difference) < 2:
        return bool(difference.mean() > 0)
    error = difference.std(ddof=1) / math.sqrt(len(difference))
    return bool(difference.mean() > _BEATS_RANDOM_STANDARD_ERRORS * error)


def _top_positions(scores, key_mask, fractions):
    """`(N, B, T)` boolean: each sample's top `ceil(f * n)` real positions."""
    ranked = np.where(key_mask, scores, -np.inf)
    order = np.argsort(-ranked, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None], axis=1)
    n_real = key_mask.sum(axis=1)
    counts = np.ceil(np.outer(n_real, fractions) - 1e-9).astype(int)
    counts = np.clip(counts, 1, n_real[:, None])
    return (ranks[:, None, :] < counts[:, :, None]) & key_mask[:, None, :]


def _top_overlap(a, b, k):
    k = min(k, len(a))
    top_a = set(np.argsort(-a, kind="stable")[:k].tolist())
    top_b = set(np.argsort(-b, kind="stable")[:k].tolist())
    return len(top_a & top_b) / k


def _kendall_tau_b(x, y):
    """Kendall's tau-b and its two-sided p-value (normal approximation)."""
    n = len(x)
    if n < 2:
        return math.nan, math.nan
    upper = np.triu_indices(n, 1)
    concordance = (np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :]))[
        upper
    ]
    score = float(concordance.sum())  # concordant minus discordant pairs
    pairs = n * (n - 1) / 2
    x_ties, y_ties = _tie_counts(x), _tie_counts(y)
    x_pairs, y_pairs = (np.sum(t * (t - 1)) / 2 for t in (x_ties, y_ties))
    if x_pairs == pairs or y_pairs == pairs:
        return math.nan, math.nan
    tau = score / math.sqrt((pairs - x_pairs) * (pairs - y_pairs))
    m = n * (n - 1.0)
    x1, y1 = (np.sum(t * (t - 1.0) * (2 * t + 5)) for t in (x_ties, y_ties))
    x0, y0 = (np.sum(t * (t - 1.0) * (t - 2)) for t in (x_ties, y_ties))
    variance = (m * (2 * n + 5) - x1 - y1) / 18 + 2 * x_pairs * y_pairs / m
    if n > 2:
        variance += x0 * y0 / (9 * m * (n - 2))
    pvalue = math.erfc(abs(score) / math.sqrt(variance) / math.sqrt(2))
    return max(-1.0, min(1.0, tau)), pvalue


def _tie_counts(values):
    counts = np.unique(values, return_counts=True)[1]
    return counts[counts > 1].astype(np.float64)


def _spearman_rho(x, y):
    """Spearman's rho (ties ranked by their mean) and its two-sided p-value."""
    n = len(x)
    if n < 3:
        return math.nan, math.nan
    rank_x, rank_y = _average_ranks(x), _average_ranks(y)
    if rank_x.std() == 0 or rank_y.std() == 0:
        return math.nan, math.nan
    rho = float(np.corrcoef(rank_x, rank_y)[0, 1])
    rho = max(-1.0, min(1.0, rho))
    if abs(rho) == 1.0:
        return rho, 0.0
    t = rho * math.sqrt((n - 2) / (1 - rho * rho))
    return rho, _student_t_two_sided(abs(t), n - 2)


def _average_ranks(values):
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    # Tied values share the mean of their ranks.
    unique, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def _student_t_two_sided(t, dof):
    """P(|T| >= t) for Student's t with an integer number of degrees of freedom.

    The closed forms of Abramowitz & Stegun 26.7.3 and 26.7.4, exact for
    integer `dof`.
    """
    theta = math.atan(t / math.sqrt(dof))
    cos2 = math.cos(theta) ** 2
    if dof % 2:
        series, term = 0.0, 1.0
        for j in range(1, (dof - 1) // 2 + 1):
            series += term
            term *= cos2 * (2 * j) / (2 * j + 1)
        inside = 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * series)
    else:
        series, term = 0.0, 1.0
        for j in range(1, dof // 2 + 1):
            series += term
            term *= cos2 * (2 * j - 1) / (2 * j)
        inside = math.sin(theta) * series
    return max(0.0, 1.0 - inside)


def _as_scores(scores, shape, name="scores"):
    values = np.asarray(getattr(scores, "scores", scores))
    if values.dtype.kind not in "biuf":
        raise TypeError(
            f"`{name}` must be numbers. Received: an array of dtype {values.dtype}"
        )
    if values.shape != tuple(shape):
        raise ValueError(
            f"`{name}` must hold one score per position of the embedding "
            f"layer's input, {tuple(shape)}. Received: shape {values.shape}"
        )
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"`{name}` must be finite. Received: NaN or inf")
    return values


def _as_mask(mask, shape):
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.shape != tuple(shape):
        raise ValueError(
            f"`key_mask` must be a boolean array of shape {tuple(shape)}. "
            f"Received: dtype {mask.dtype}, shape {mask.shape}"
        )
    return mask


def _check_fractions(fractions):
    fractions = tuple(np.atleast_1d(np.asarray(fractions, dtype=np.float64)).tolist())
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ValueError(
            "`fractions` must be shares of the tokens, each in (0, 1]. "
            f"Received: fractions={fractions}"
        )
    return fractions


def _check_methods(methods):
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = [name for name in methods if name not in REPORT_METHODS]
    if unknown or not methods:
        raise ValueError(
            f"`methods` must name some of {REPORT_METHODS}. Received: methods={methods}"
        )
    return methods
