"""The benchmarks' hand-made references compute what the models they stand for do.

A benchmark's ratio means something only while its reference is the same
computation as the model it is raced against; these checks catch a model that
changed under its benchmark (no benchmark is timed here).
"""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

BENCHMARKS = pathlib.Path(__file__).parent.parent / "benchmarks"


def load_benchmark(name):
    # The benchmarks import their siblings (`translator`) by module name.
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_attribution_references_run_the_demo_model():
    bench = load_benchmark("bench_attribution")
    model, ids = bench.demo_model_and_ids(16)
    vectors, mask = bench.embeddings_and_mask(model, ids)

    by_hand = bench.forward_from_embeddings(model)(vectors, mask)

    np.testing.assert_allclose(
        np.asarray(by_hand), np.asarray(model(ids))[:, 0], rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("dropout", [0.1, 0.0])
def test_hand_made_bert_gives_the_backbone_outputs_and_its_weights(dropout):
    pytest.importorskip("keras_hub")
    from keras_attnviz import AttentionProbe

    bench = load_benchmark("bench_probe")
    backbone = bench.bert_backbone(16, dropout)
    x = bench.bert_inputs(4, length=16)

    by_hand = bench.bert_with_scores(backbone).predict(x, verbose=0)
    expected = backbone.predict(x, verbose=0)
    probed = AttentionProbe(backbone).predict(x, verbose=0)

    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(by_hand[key], expected[key], rtol=1e-5, atol=1e-5)
    assert len(by_hand["scores"]) == len(probed.attention) == 4
    weights_by_layer = probed.attention.values()
    for scores, weights in zip(by_hand["scores"], weights_by_layer, strict=True):
        real = x["padding_mask"].astype(bool)[:, None, :, None]
        np.testing.assert_allclose(
            np.where(real, scores, 0), np.where(real, weights, 0), atol=1e-6
        )


def test_the_probe_limit_hands_over_arrays_like_the_probe_result():
    from keras_attnviz import AttentionProbe

    bench = load_benchmark("bench_probe")
    model = bench.mha_model(12)
    x = bench.token_ids(70, 12)
    result = AttentionProbe(model).predict(x, batch_size=16, verbose=0)
    predicted = model.predict(x, batch_size=16, verbose=0)

    outputs, arrays = bench.handed_over(
        lambda: predicted, bench.beyond_the_outputs(result, 16), batch_size=16
    )

    assert outputs is predicted
    expected = [
        *result.attention.values(),
        *result.key_masks.values(),
        *result.query_masks.values(),
    ]
    assert len(arrays) == len(expected) >= 3  # weights of 2 layers, masks
    for got, want in zip(arrays, expected, strict=True):
        assert (got.shape, got.dtype) == (want.shape, want.dtype)
        # Every batch written: each 16 samples repeat the first batch's.
        np.testing.assert_array_equal(got[16:32], want[:16])
