"""Independent references for the analyses (plain loops, networkx, scipy), and
weights with padding."""

import networkx as nx
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

# Two layers over two positions, worked on paper in
# test_rollout.py and test_flow.py.
W1 = np.array([[0.5, 0.5], [0.2, 0.8]])
W2 = np.array([[1.0, 0.0], [0.6, 0.4]])
# Three layers over two positions, used with residual=0.
V1 = np.array([[0.6, 0.4], [0.3, 0.7]])
V2 = np.array([[0.5, 0.5], [0.9, 0.1]])
V3 = np.array([[0.2, 0.8], [1.0, 0.0]])


def attention(rng, *shape):
    """Random attention weights of `shape`, each row summing to 1."""
    return rng.dirichlet(np.full(shape[-1], 0.5), size=shape[:-1])


def mixed(layer, residual):
    """One `(H, T, T)` layer: mean over heads, residual mixed, renormalised."""
    reduced = np.asarray(layer, dtype=np.float64).reshape(-1, *layer.shape[-2:])
    matrix = residual * np.eye(layer.shape[-1]) + (1 - residual) * reduced.mean(0)
    return matrix / matrix.sum(axis=1, keepdims=True)


def rollout(layers, residual):
    """The rollout of one sample's `(H, T, T)` layers, by a plain loop."""
    result = np.eye(layers[0].shape[-1])
    for layer in layers:
        result = mixed(layer, residual) @ result
    return result


def _graph(capacities):
    """The layered graph of `(L, T, T)` capacities, nodes named (layer, pos)."""
    n_layers, length, _ = capacities.shape
    graph = nx.DiGraph()
    graph.add_nodes_from(np.ndindex(n_layers + 1, length))
    for layer, m, k in zip(*np.nonzero(capacities), strict=True):
        graph.add_edge((layer, k), (layer + 1, m), capacity=capacities[layer, m, k])
    return graph


def networkx_flow(capacities):
    """Max flow from each input `j` to each top position `i`, by networkx."""
    n_layers, length, _ = capacities.shape
    graph = _graph(capacities)
    flow = np.array(
        [
            [nx.maximum_flow_value(graph, (0, j), (n_layers, i)) for j in range(length)]
            for i in range(length)
        ]
    )
    return flow


def scipy_flow(capacities, scale=10**9):
    """The same by scipy, whose maximum_flow needs integer capacities: scaled."""
    n_layers, length, _ = capacities.shape
    layer, m, k = np.nonzero(capacities)
    tails, heads = layer * length + k, (layer + 1) * length + m
    n_nodes = (n_layers + 1) * length
    graph = scipy.sparse.csr_matrix(
        (np.rint(capacities[layer, m, k] * scale).astype(np.int64), (tails, heads)),
        shape=(n_nodes, n_nodes),
    )
    top = n_layers * length
    flow = np.array(
        [
            [
                scipy.sparse.csgraph.maximum_flow(graph, j, top + i).flow_value
                for j in range(length)
            ]
            for i in range(length)
        ]
    )
    return flow / scale


def normalised(flow):
    return flow / flow.sum(axis=-1, keepdims=True)


def padded_layers(rng, real, n_layers, heads=2):
    """Layers whose padded keys get no weight and padded queries hold noise."""
    batch, length = real.shape
    layers = []
    for _ in range(n_layers):
        layer = attention(rng, batch, heads, length, length)
        layer *= real[:, None, None, :]
        layer /= layer.sum(axis=-1, keepdims=True)
        np.moveaxis(layer, 1, 2)[~real] = rng.random(
            (int((~real).sum()), heads, length)
        )
        layers.append(layer)
    return layers


REAL = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 0, 1, 1, 0]], dtype=bool)


def assert_padding_dropped(got, layers, real, reference):
    """Real rows and columns of `got` hold `reference(real layers)`, others 0."""
    for b, keep in enumerate(real):
        inner = [layer[b][:, keep][:, :, keep] for layer in layers]
        np.testing.assert_allclose(
            got[b][np.ix_(keep, keep)], reference(inner), rtol=1e-9, atol=1e-12
        )
        outside = ~(keep[:, None] & keep[None, :])
        assert np.all(got[b][outside] == 0)
