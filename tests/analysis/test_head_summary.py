"""head_summary on constructed heads, with padding, cross-attention and pooling."""

import numpy as np
import pandas as pd
import pytest

from keras_attnviz.analysis import head_summary
from keras_attnviz.probe.results import ProbeResult

from . import references

T = 5


def previous_token_head(length=T):
    head = np.eye(length, k=-1)
    head[0, 1] = 1.0  # the first query has no previous token: one step on
    return head


def constructed_heads():
    """Four heads of one layer: previous token, uniform, self, first token."""
    first = np.zeros((T, T))
    first[:, 0] = 1.0
    return np.stack([previous_token_head(), np.full((T, T), 1 / T), np.eye(T), first])


def test_constructed_heads():
    summary = head_summary({"block": constructed_heads()})
    assert isinstance(summary, pd.DataFrame)
    assert list(summary.columns) == [
        "layer",
        "head",
        "entropy",
        "mean_distance",
        "max_weight",
        "self_weight",
        "previous_token_weight",
        "first_token_weight",
    ]
    previous, uniform, itself, first = (row for _, row in summary.iterrows())
    assert previous["mean_distance"] == 1
    assert previous["previous_token_weight"] == 1
    assert previous["self_weight"] == 0 and previous["entropy"] == 0
    assert previous["first_token_weight"] == pytest.approx(1 / T)  # query 1
    assert uniform["entropy"] == pytest.approx(np.log(T))
    assert uniform["max_weight"] == pytest.approx(1 / T)
    # mean |i - j| over a 5 x 5 grid: 2 * (4*1 + 3*2 + 2*3 + 1*4) / 25 = 1.6
    assert uniform["mean_distance"] == pytest.approx(1.6)
    assert itself["self_weight"] == 1 and itself["mean_distance"] == 0
    assert itself["previous_token_weight"] == 0
    assert first["first_token_weight"] == 1 and first["max_weight"] == 1
    # (0 + 1 + 2 + 3 + 4) / 5
    assert first["mean_distance"] == pytest.approx(2.0)


def test_which_heads_look_at_the_previous_token_is_one_line():
    layers = {"low": constructed_heads()[::-1], "high": constructed_heads()}
    summary = head_summary(layers)
    top = summary.sort_values("previous_token_weight", ascending=False).head(2)
    assert list(zip(top["layer"], top["head"], strict=True)) == [
        ("low", 3),
        ("high", 0),
    ]


def test_positions_are_counted_over_real_tokens(rng):
    # Pre-padded: two padding keys, then a previous-token head over 3 tokens.
    real = np.array([False, False, True, True, True])
    weights = np.zeros((T, T))
    weights[2:, 2:] = previous_token_head(3)
    weights[:2] = rng.dirichlet(np.ones(T), size=2)  # padded queries: ignored
    row = head_summary([weights], key_mask=real).iloc[0]
    assert row["mean_distance"] == 1 and row["previous_token_weight"] == 1
    assert row["first_token_weight"] == pytest.approx(1 / 3)  # query 3 on key 2


def test_statistics_are_means_over_the_real_queries_of_all_samples(rng):
    layer = references.padded_layers(rng, references.REAL, 1, heads=3)[0]
    summary = head_summary([layer], key_mask=references.REAL)
    rows = []
    for b, keep in enumerate(references.REAL):
        inner = layer[b][:, keep][:, :, keep]  # (H, n, n)
        logs = np.log(np.where(inner > 0, inner, 1))
        rows.append(-(inner * logs).sum(axis=-1))  # (H, n)
    expected = np.concatenate(rows, axis=1).mean(axis=1)
    np.testing.assert_allclose(summary["entropy"], expected, rtol=1e-12)


def test_cross_attention_and_pooling_get_nan_position_columns(rng):
    cross = references.attention(rng, 2, 2, 3, 4)  # (B, H, Tq=3, Tk=4)
    pooled = references.attention(rng, 2, 4)  # (N, T): one query per sample
    own = references.attention(rng, 2, 4, 4)  # (N, T, T), one head, not self
    result = ProbeResult(np.zeros(2), {"cross": cross, "pool": pooled, "decoder": own})
    summary = head_summary(result)
    assert list(summary["layer"]) == ["cross", "cross", "pool", "decoder"]
    positional = ["mean_distance", "self_weight", "previous_token_weight"]
    assert summary[positional].isna().all().all()
    others = ["entropy", "max_weight", "first_token_weight"]
    assert summary[others].notna().all().all()
    np.testing.assert_allclose(
        summary.loc[summary["layer"] == "pool", "first_token_weight"],
        pooled[:, 0].mean(),
    )


def test_a_probe_result_takes_masks_and_self_attention_from_itself(rng):
    layer = references.padded_layers(rng, references.REAL, 1)[0]
    result = ProbeResult(
        np.zeros(3),
        {"mha": layer},
        key_masks={"mha": references.REAL},
        self_attention={"mha"},
    )
    np.testing.assert_array_equal(
        head_summary(result).to_numpy(),
        head_summary({"mha": layer}, key_mask=references.REAL).to_numpy(),
    )


def test_a_head_with_no_real_query_gets_nan():
    summary = head_summary([np.eye(3)[None, None]], key_mask=np.zeros((1, 3), bool))
    assert summary.drop(columns=["layer", "head"]).isna().all().all()
