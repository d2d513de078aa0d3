"""Rollout and flow against the plain ways of computing them, side by side.

Run: `python benchmarks/bench_analysis.py [--quick]`

Rollout (12 layers x 12 heads, T=128, B=8, float32 weights as the probe gives
them) is timed against the plain per-sample loop of the paper's code; flow
(B=1) against networkx's `maximum_flow_value` on the same layered graph, one
call per (input, output) pair. networkx is timed on whole rows of at most
`--pairs` pairs and scaled to all `T^2`; its values are checked against ours
on those rows.
Times are CPU seconds of this process with one BLAS thread, the median of
interleaved rounds for rollout and one run for flow, so that other work on a
shared machine disturbs them less.
"""

import argparse
import os
import time

# One BLAS thread: CPU time then measures the work, not threads that wait.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from keras_attnviz.analysis import attention_flow, attention_rollout  # noqa: E402
from keras_attnviz.analysis.flow import DEFAULT_MAX_COST  # noqa: E402


def cpu_time(function):
    """The CPU time of one run of `function()`, in seconds, and its value."""
    start = time.process_time()
    value = function()
    return time.process_time() - start, value


def interleaved(first, second, rounds):
    """Median CPU times of `first()` and `second()`, run in turns; their values."""
    times = []
    for _ in range(rounds):
        (a, value_a), (b, value_b) = cpu_time(first), cpu_time(second)
        times.append((a, b))
    a, b = np.median(times, axis=0)
    return a, b, value_a, value_b


def attention(rng, *shape):
    logits = rng.normal(size=shape) * 2
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def plain_rollout(layers, residual=0.5):
    """Rollout as usually written: a loop over samples, then over layers."""
    batch, _, length, _ = layers[0].shape
    eye = np.eye(length)
    result = np.empty((batch, length, length))
    for b in range(batch):
        joint = eye
        for layer in layers:
            mixed = residual * eye + (1 - residual) * layer[b].mean(axis=0)
            mixed = mixed / mixed.sum(axis=-1, keepdims=True)
            joint = mixed @ joint
        result[b] = joint
    return result


def rollout_row(rng, rounds):
    layers = [attention(rng, 8, 12, 128, 128).astype(np.float32) for _ in range(12)]
    ours, plain, got, expected = interleaved(
        lambda: attention_rollout(layers), lambda: plain_rollout(layers), rounds
    )
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    note = "ours first checks every weight; the loop checks none"
    return ["rollout 12 x 12 heads, T=128, B=8", ours, plain, plain / ours, note]


def layered_graph(capacities):
    n_layers, length, _ = capacities.shape
    graph = nx.DiGraph()
    for layer, m, k in np.ndindex(capacities.shape):
        graph.add_edge((layer, k), (layer + 1, m), capacity=capacities[layer, m, k])
    return graph


def flow_row(rng, length, n_layers, max_pairs):
    layers = [attention(rng, length, length) for _ in range(n_layers)]
    cost = n_layers * length**4
    ours, flow = cpu_time(lambda: attention_flow(layers, max_cost=np.inf))
    eye = np.eye(length)
    graph = layered_graph(np.stack([0.5 * eye + 0.5 * layer for layer in layers]))
    # Whole rows (one output position, every input), so that they normalise.
    rows = rng.permutation(length)[: max(1, min(length, max_pairs // length))]
    start = time.process_time()
    values = np.array(
        [
            [nx.maximum_flow_value(graph, (0, j), (n_layers, i)) for j in range(length)]
            for i in rows
        ]
    )
    theirs = (time.process_time() - start) * length / len(rows)
    expected = values / values.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(flow[rows], expected, rtol=1e-8, atol=1e-12)
    refused = "refused" if cost > DEFAULT_MAX_COST else "accepted"
    name = f"flow L={n_layers}, T={length} (cost {cost:.2g}, {refused})"
    timed = "" if len(rows) == length else f"; networkx: {len(rows)} rows, scaled"
    return [
        name,
        ours,
        theirs,
        theirs / ours,
        f"{ours / cost * 1e9:.0f} ns/unit{timed}",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, one round")
    parser.add_argument("--pairs", type=int, default=64, help="networkx pairs timed")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = [rollout_row(rng, 1 if args.quick else 5)]
    lengths = (8, 16) if args.quick else (8, 16, 32)
    for length in lengths:
        for n_layers in (4, 8, 12):
            rows.append(flow_row(rng, length, n_layers, args.pairs))
    print(f"| {'case':<44} | {'ours':>9} | {'reference':>10} | {'ratio':>8} | note |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 12}|{'-' * 10}|------|")
    for name, ours, reference, ratio, note in rows:
        print(
            f"| {name:<44} | {ours:>7.3f} s | {reference:>8.3f} s | {ratio:>7.1f}x "
            f"| {note} |"
        )
    print(
        f"\nattention_flow refuses a cost (layers x real positions^4, summed over "
        f"samples) above max_cost={DEFAULT_MAX_COST:.3g} unless told otherwise; "
        "ratio = reference / ours."
    )


if __name__ == "__main__":
    main()
