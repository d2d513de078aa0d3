"""Maximum flow in layered graphs, many problems at once, in NumPy.

The graph has node layers `0..L`, each of `T` nodes, and edges only from layer
`l` to layer `l + 1`. Each problem asks for the maximum flow from one node of
layer 0 to one node of layer `L`. This is the graph of attention flow (Abnar &
Zuidema, 2020): one problem per (input position, output position) pair.

The solver is push-relabel (Goldberg & Tarjan, 1988), first phase only (a
maximum preflow, whose excess at the sink is the maximum flow value), with
exact heights from a global relabel after every sweep. Nodes of one layer share
no edge, so a whole layer, in every problem of a chunk, is discharged by the
same NumPy operations; layers are swept upwards then downwards, so that one
sweep carries flow from the source to the sink.
"""

import numpy as np

# Residual capacities and excesses at or below this are taken as zero, so that
# float rounding cannot keep pushing ever smaller amounts. Capacities are
# attention weights in [0, 1]: the flow lost this way is below 1e-9.
_EPS = 1e-12

# Problems solved together are chunked so that one (problems, L, T, T) array
# stays near this many float64 values (32 MiB).
_CHUNK_VALUES = 1 << 22


def layered_max_flow(capacities, sample, source, sink):
    """Maximum flow values of many problems in layered graphs.

    Args:
        capacities: float array `(S, L, T, T)` of `S` graphs: `capacities[s, l,
            m, k]` is the capacity of the edge from node `k` of layer `l` to
            node `m` of layer `l + 1` of graph `s`. Non-negative, at most 1.
        sample: int array `(P,)`, the graph of each problem.
        source: int array `(P,)`, the source node of each problem, in layer 0.
        sink: int array `(P,)`, the sink node of each problem, in layer `L`.

    Returns:
        A float64 array `(P,)` of maximum flow values.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.analysis._layered_max_flow import layered_max_flow
    >>> # Two layers of two nodes: the paths through node 0 and node 1 of the
    >>> # middle layer carry min(0.5, 0.25) and min(0.5, 0.75).
    >>> capacities = np.array([[[[0.5, 0.0], [0.5, 0.0]], [[0.25, 0.75], [0, 0]]]])
    >>> zeros = np.zeros(1, dtype=int)
    >>> layered_max_flow(capacities, zeros, zeros, zeros)
    array([0.75])
    ```
    """
    capacities = np.asarray(capacities, dtype=np.float64)
    _, n_layers, length, _ = capacities.shape
    size = max(1, _CHUNK_VALUES // (n_layers * length * length))
    values = np.empty(len(sample), dtype=np.float64)
    for start in range(0, len(sample), size):
        chunk = slice(start, start + size)
        problems = _Preflow(capacities, sample[chunk], source[chunk], sink[chunk])
        values[chunk] = problems.solve()
    return values


class _Preflow:
    """The push-relabel state of a chunk of problems.

    `flow[p, l, m, k]` is the flow on the edge from node `k` of layer `l` to
    node `m` of layer `l + 1`; its residual capacity forwards is
    `capacity - flow`, backwards `flow`. Layer 0 holds only the source and
    layer `L` only the sink: the other nodes of those layers get no capacity.
    """

    def __init__(self, capacities, sample, source, sink):
        rows = np.arange(len(sample))
        self.capacity = capacities[sample]
        self.n_layers, length = self.capacity.shape[1], self.capacity.shape[2]
        self.capacity[:, 0] *= np.arange(length) == source[:, None, None]
        self.capacity[:, -1] *= (np.arange(length) == sink[:, None])[:, :, None]
        # No path is longer than the number of nodes: a height that reaches it
        # marks a node that cannot reach the sink any more.
        limit = (self.n_layers + 1) * length
        # Heights are small integers; the type also holds 2 * limit, which the
        # masked minima below add up to.
        self.limit = np.min_scalar_type(2 * limit + 1).type(limit)
        self.height = np.full((len(sample), self.n_layers + 1, length), self.limit)
        self.height[rows, -1, sink] = 0
        # The source's edges start saturated.
        self.flow = np.zeros_like(self.capacity)
        self.flow[:, 0] = self.capacity[:, 0]
        self.excess = np.zeros(self.height.shape)
        self.excess[:, 1] = self.capacity[:, 0].sum(axis=2)
        self.rows, self.sink = rows, sink

    def solve(self):
        """Runs push-relabel to a maximum preflow; returns the sink's excess."""
        values = np.empty(len(self.rows))
        index = np.arange(len(self.rows))  # original positions of the problems
        inner = range(1, self.n_layers)
        while True:
            self._relabel_globally()
            active = self._active().any(axis=(1, 2))
            done = ~active
            values[index[done]] = self.excess[self.rows[done], -1, self.sink[done]]
            if not active.any():
                return values
            if done.any():
                index = index[active]
                self._keep(active)
            for layer in [*inner, *reversed(inner)]:
                self._discharge(layer)

    def _active(self):
        inner = slice(1, self.n_layers)
        return (self.excess[:, inner] > _EPS) & (self.height[:, inner] < self.limit)

    def _keep(self, problems):
        self.capacity = self.capacity[problems]
        self.flow = self.flow[problems]
        self.height = self.height[problems]
        self.excess = self.excess[problems]
        self.sink = self.sink[problems]
        self.rows = np.arange(len(self.sink))

    def _discharge(self, layer):
        """Pushes the excess of one layer's nodes, then relabels what is left."""
        excess, height = self.excess[:, layer], self.height[:, layer]
        active = (excess > _EPS) & (height < self.limit)
        if not active.any():
            return
        above, below = self.height[:, layer + 1], self.height[:, layer - 1]
        # Upwards first: edges to layer + 1, laid out (problem, above, node).
        up = self.capacity[:, layer] - self.flow[:, layer]
        admissible = (up > _EPS) & (height[:, None, :] == above[:, :, None] + 1)
        pushed_up = _fill(excess * active, up * admissible, axis=1)
        self.flow[:, layer] += pushed_up
        self.excess[:, layer + 1] += pushed_up.sum(axis=2)
        excess = excess - pushed_up.sum(axis=1)
        # Then back down along flow that came in: (problem, node, below).
        down = self.flow[:, layer - 1]
        admissible = (down > _EPS) & (height[:, :, None] == below[:, None, :] + 1)
        pushed_down = _fill(excess * active, down * admissible, axis=2)
        down -= pushed_down  # a view: updates the flow
        self.excess[:, layer - 1] += pushed_down.sum(axis=1)
        excess -= pushed_down.sum(axis=2)
        self.excess[:, layer] = excess
        # Nodes with excess left have no admissible edge: lift each just above
        # its lowest residual neighbour.
        stuck = active & (excess > _EPS)
        if stuck.any():
            lifted = self._lift(above, up - pushed_up > _EPS, below, down > _EPS)
            self.height[:, layer] = np.where(stuck, lifted, height)

    def _relabel_globally(self):
        """Sets every inner node's height to its residual distance to the sink.

        Sweeps of the layers downwards then upwards shorten the distances until
        a sweep changes none; each sweep visits only the problems that the
        previous one changed, since the others have converged.
        """
        self.height[:, 1 : self.n_layers] = self.limit
        inner = range(1, self.n_layers)
        ups = self.capacity - self.flow > _EPS
        downs = self.flow > _EPS
        todo = np.arange(len(self.rows))
        while len(todo):
            height, up, down = self.height[todo], ups[todo], downs[todo]
            changed = np.zeros(len(todo), dtype=bool)
            for layer in [*reversed(inner), *inner]:
                lifted = self._lift(
                    height[:, layer + 1],
                    up[:, layer],
                    height[:, layer - 1],
                    down[:, layer - 1],
                )
                changed |= (lifted < height[:, layer]).any(axis=1)
                height[:, layer] = lifted
            self.height[todo] = height
            todo = todo[changed]

    def _lift(self, above, up, below, down):
        """One more than the lowest neighbour reached by a residual edge.

        `up` is `(problem, above, node)` and `down` `(problem, node, below)`:
        whether each edge has residual capacity. Capped at the limit.
        """
        lowest = np.minimum(
            (above[:, :, None] + ~up * self.limit).min(axis=1),
            (below[:, None, :] + ~down * self.limit).min(axis=2),
        )
        return np.minimum(lowest + 1, self.limit)


def _fill(excess, residual, axis):
    """Spreads each node's excess over its edges in proportion to their room."""
    room = residual.sum(axis=axis)
    share = np.minimum(
        1.0, np.divide(excess, room, out=np.zeros_like(room), where=room > 0)
    )
    return residual * np.expand_dims(share, axis)
