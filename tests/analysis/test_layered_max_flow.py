"""The push-relabel solver against networkx on random layered graphs."""

import numpy as np
import pytest

from keras_attnviz.analysis import _layered_max_flow
from keras_attnviz.analysis._layered_max_flow import layered_max_flow

from . import references


def sparse_graphs(rng, n_graphs, n_layers, length, density):
    """Capacities in [0, 1], most of them 0, so that flow must turn back."""
    capacities = rng.random((n_graphs, n_layers, length, length))
    return capacities * (rng.random(capacities.shape) < density)


def all_pairs(n_graphs, length):
    sample, sink, source = np.indices((n_graphs, length, length))
    return sample.ravel(), source.ravel(), sink.ravel()


@pytest.mark.parametrize("density", [0.3, 0.6, 1.0])
@pytest.mark.parametrize(("n_layers", "length"), [(1, 3), (2, 4), (3, 5), (6, 4)])
def test_matches_networkx(rng, n_layers, length, density):
    capacities = sparse_graphs(rng, 3, n_layers, length, density)
    got = layered_max_flow(capacities, *all_pairs(3, length)).reshape(3, length, -1)
    for graph, values in zip(capacities, got, strict=True):
        np.testing.assert_allclose(
            values, references.networkx_flow(graph), rtol=1e-9, atol=1e-12
        )


def test_chunks_give_the_same_values(rng, monkeypatch):
    capacities = sparse_graphs(rng, 2, 4, 5, 0.5)
    problems = all_pairs(2, 5)
    whole = layered_max_flow(capacities, *problems)
    # Chunks of 3 problems each: 50 problems in 17 chunks.
    monkeypatch.setattr(_layered_max_flow, "_CHUNK_VALUES", 3 * 4 * 5 * 5)
    np.testing.assert_allclose(
        layered_max_flow(capacities, *problems), whole, rtol=1e-12
    )


def test_a_graph_with_no_path_has_zero_flow():
    capacities = np.zeros((1, 3, 2, 2))
    capacities[0, :2] = 1.0  # the last layer has no edge
    assert np.all(layered_max_flow(capacities, *all_pairs(1, 2)) == 0)
