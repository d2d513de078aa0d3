"""Faithfulness: ERASER's measures by hand, rank statistics against scipy, and a
report that tells a faithful attention from an unfaithful one."""

import html
import pathlib
import re

import keras
import numpy as np
import pytest
import scipy.stats
from attribution.cue_models import trained_cue_models

from keras_attnviz.attribution import Attribution
from keras_attnviz.faithfulness import (
    agreement,
    comprehensiveness,
    faithfulness_report,
    sufficiency,
)

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Is the attention telling the truth?"


def mean_of_ids_model(length=4):
    """Output = the mean of the real ids: Embedding(id -> id), masked mean, identity."""
    ids = keras.Input((length,), dtype="int32")
    table = np.arange(10, dtype="float32")[:, None]
    vectors = keras.layers.Embedding(
        10, 1, mask_zero=True, embeddings_initializer=keras.initializers.Constant(table)
    )(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    dense = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")
    return keras.Model(ids, dense(pooled))


def test_comprehensiveness_and_sufficiency_equal_hand_computed_values():
    model = mean_of_ids_model()
    ids = np.array([[0, 2, 4, 6]])  # output 4; the scores rank 6, 4, 2
    scores = np.array([[5.0, 0.1, 0.5, 0.9]])  # padding is never ranked
    # 30% of 3 tokens rounds up to 1 token, 60% to 2.
    fractions = (0.3, 0.6)
    removed = comprehensiveness(model, ids, scores, fractions=fractions, target=1)
    kept = sufficiency(model, ids, scores, fractions=fractions, target=1)
    # Without 6: mean(2, 4) = 3; without 6 and 4: 2.
    np.testing.assert_allclose(removed.values, [[4 - 3, 4 - 2]], atol=1e-6)
    # Only 6: 6; only 6 and 4: 5.
    np.testing.assert_allclose(kept.values, [[4 - 6, 4 - 5]], atol=1e-6)
    assert removed.aopc == pytest.approx([1.5]) and kept.mean == pytest.approx(-1.5)
    assert removed.fractions == fractions and removed.measure == "comprehensiveness"


def test_an_attribution_is_taken_as_scores_with_its_mask():
    model = mean_of_ids_model()
    ids = np.array([[0, 2, 4, 6]])
    attribution = Attribution(
        [[0.0, 0.9, 0.5, 0.1]],
        key_mask=ids > 0,
        method="by hand",
        target=[1],
        target_output=[4.0],
    )
    curve = comprehensiveness(model, ids, attribution, fractions=(0.3,), target=1)
    np.testing.assert_allclose(curve.values, [[4 - 5]], atol=1e-6)  # 2 removed


@pytest.mark.parametrize("ties", [False, True])
def test_rank_correlations_equal_scipy(rng, ties):
    shape = (30, 12)
    if ties:
        a, b = rng.integers(0, 4, shape).astype(float), rng.integers(0, 4, shape)
    else:
        a = rng.normal(size=shape)
        b = a + rng.normal(scale=1.5, size=shape)
    kendall = agreement(a, b, method="kendall")
    spearman = agreement(a, b, method="spearman")
    for i in range(shape[0]):
        tau = scipy.stats.kendalltau(a[i], b[i], method="asymptotic")
        rho = scipy.stats.spearmanr(a[i], b[i])
        assert kendall.values[i] == pytest.approx(tau.statistic, abs=1e-12)
        assert kendall.pvalues[i] == pytest.approx(tau.pvalue, rel=1e-9)
        assert spearman.values[i] == pytest.approx(rho.statistic, abs=1e-12)
        assert spearman.pvalues[i] == pytest.approx(rho.pvalue, rel=1e-6, abs=1e-12)
    positive = (kendall.values > 0) & (kendall.pvalues < 0.05)
    assert kendall.significant == pytest.approx(positive.mean())


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 7, 10, 33])
def test_spearman_p_values_for_every_parity_of_degrees_of_freedom(rng, dof):
    a = rng.normal(size=(8, dof + 2))
    b = a + rng.normal(size=a.shape)
    result = agreement(a, b, method="spearman")
    expected = [scipy.stats.spearmanr(x, y).pvalue for x, y in zip(a, b, strict=True)]
    # 1 - P(|T| < t) loses digits where p is tiny; none that matter at 0.05.
    np.testing.assert_allclose(result.pvalues, expected, rtol=1e-6, atol=1e-12)


def test_agreement_reads_real_positions_only(rng):
    a, b = rng.normal(size=(5, 9)), rng.normal(size=(5, 9))
    mask = np.ones((5, 9), bool)
    mask[:, :3] = False
    a_padded, b_padded = a.copy(), b.copy()
    a_padded[:, :3], b_padded[:, :3] = 100.0, -100.0  # would dominate any rank
    for method in ("kendall", "spearman", "top1", "topk"):
        on_real = agreement(a[:, 3:], b[:, 3:], method=method)
        masked = agreement(a_padded, b_padded, method=method, key_mask=mask)
        np.testing.assert_allclose(masked.values, on_real.values)


def test_top_k_agreement_by_hand():
    a = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4]])
    b = np.array([[0.1, 0.8, 0.9, 0.0], [0.4, 0.3, 0.2, 0.1]])
    top2 = agreement(a, b, method="topk", k=2)
    np.testing.assert_allclose(top2.values, [0.5, 0.0])
    assert top2.k == 2 and top2.pvalues is None and top2.significant is None
    np.testing.assert_allclose(agreement(a, b, method="top1").values, [0.0, 0.0])
    # k past the number of positions compares them all.
    np.testing.assert_allclose(agreement(a, b, method="topk", k=9).values, [1, 1])


def test_bad_input():
    model = mean_of_ids_model()
    ids = np.array([[0, 2, 4, 6]])
    with pytest.raises(ValueError, match=r"one score per position .* \(1, 4\)\. "):
        comprehensiveness(model, ids, [[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="`scores` must be finite"):
        sufficiency(model, ids, [[0.1, np.nan, 0.3, 0.4]])
    with pytest.raises(
        ValueError, match=r"each in \(0, 1\]. Received: fractions=\(0.0,"
    ):
        comprehensiveness(model, ids, [[0.1, 0.2, 0.3, 0.4]], fractions=(0.0, 0.5))
    with pytest.raises(ValueError, match="`method` must be one of"):
        agreement(ids, ids, method="pearson")
    with pytest.raises(ValueError, match="`scores_b` must hold one score"):
        agreement(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="`k` must be at least 1"):
        agreement(ids, ids, method="topk", k=0)
    with pytest.raises(ValueError, match="`methods` must name some of"):
        faithfulness_report(model, ids, methods=("attention", "lime"))


def test_per_head_rows_average_each_head_over_real_queries(rng):
    from keras_attnviz import AttentionProbe

    keras.utils.set_random_seed(0)
    ids_input = keras.Input((5,), dtype="int32")
    vectors = keras.layers.Embedding(10, 8, mask_zero=True)(ids_input)
    attended = keras.layers.MultiHeadAttention(2, 4, name="mha")(vectors, vectors)
    pooled = keras.layers.GlobalAveragePooling1D()(attended)
    model = keras.Model(ids_input, keras.layers.Dense(1, activation="sigmoid")(pooled))
    ids = np.array([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    report = faithfulness_report(
        model, ids, methods=("attention", "random"), per_head=True
    )
    assert list(report.table.index) == [
        "attention: mha head 0",
        "attention: mha head 1",
        "random",
    ]
    weights = AttentionProbe(model).predict(ids, verbose=0).attention["mha"]
    real = ids > 0
    expected = (weights[0, 1][real[0]][:, real[0]]).mean(axis=0)
    scores = report.attributions["attention: mha head 1"].scores
    np.testing.assert_allclose(scores[0, real[0]], expected, rtol=1e-5)
    assert (scores[0, ~real[0]] == 0).all()


@pytest.fixture(scope="module")
def reports():
    models = trained_cue_models()
    return models, {
        name: faithfulness_report(getattr(models, name), models.ids)
        for name in ("faithful", "unfaithful")
    }


def test_the_report_tells_a_faithful_attention_from_an_unfaithful_one(reports):
    faithful, unfaithful = reports[1]["faithful"].table, reports[1]["unfaithful"].table
    attention = "attention: attention"
    good, bad = faithful.loc[attention], unfaithful.loc[attention]
    # The headline: the top token is occlusion's, and removing the top tokens
    # hurts about as much as removing occlusion's. Kendall's tau may be
    # anything (see `agreement`): it does not decide.
    assert good["top1"] >= 0.9 and good["beats_random"]
    assert good["comprehensiveness"] >= 0.7 * faithful.loc["occlusion"].iloc[0]
    assert bad["top1"] <= 0.4
    assert bad["comprehensiveness"] <= 0.6 * unfaithful.loc["occlusion"].iloc[0]
    for table in (faithful, unfaithful):
        # Gradient attribution finds the cue whatever the attention does, and
        # random scores find nothing.
        assert table.loc["integrated_gradients", "top1"] >= 0.9
        assert table.loc["random", "top1"] <= 0.2
        assert not table.loc["random", "beats_random"]
    # At the default 50 steps, most samples of a trained GRU are complete.
    assert np.median(reports[1]["unfaithful"].completeness_gap) < 0.05


def test_the_attention_of_the_faithful_model_peaks_on_the_cue(reports):
    models, by_name = reports
    for name, least, most in (("faithful", 0.9, 1.0), ("unfaithful", 0.0, 0.4)):
        scores = by_name[name].attributions["attention: attention"].scores
        assert least <= models.on_cue(scores.argmax(axis=1)).mean() <= most


def test_the_report_reads_as_text_and_html(reports):
    report = reports[1]["faithful"]
    assert list(report.table.columns) == [
        "comprehensiveness",
        "sufficiency",
        "top1",
        "top3",
        "kendall_tau",
        "tau_significant",
        "beats_random",
    ]
    text = str(report)
    assert "integrated_gradients" in text and "does not explain the model" in text
    page = report._repr_html_()
    assert "<table" in page and html.escape("attention: attention") in page
    assert "does not beat the random row" in page


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    (example,) = re.findall(r"```py\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md (faithfulness)", "exec"), {})
    printed = capsys.readouterr().out
    assert "attention: attention" in printed and "integrated_gradients" in printed
    assert "superb" in (tmp_path / "ig.html").read_text(encoding="utf-8")
