"""Renderer speed against the usual ways of doing the same thing, side by side.

Run: `MPLBACKEND=Agg python benchmarks/bench_render.py [--quick]`

Each row times our renderer and its reference in the same process, on the same
data, and prints the ratio with the target from issue 4. Times are the best of
a few repeats, so that other work on a shared machine disturbs them less.
"""

import argparse
import os
import time

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402
import matplotlib.colors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from keras_attnviz.render import heatmap, html_spans, styler  # noqa: E402

WORDS = "the movie was great but the plot <b>dragged</b> & the end felt rushed\n"


def best_of(function, repeats):
    """The fastest of `repeats` wall-clock runs of `function()`, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def sample_text(n_chars, rng):
    text = (WORDS * (n_chars // len(WORDS) + 1))[:n_chars]
    return text, rng.random(n_chars)


def styler_recipe(text, weights):
    """The common notebook recipe: a DataFrame of per-character objects,
    `style.map(color)` for the background and a formatter for the character."""
    cmap = matplotlib.colormaps["Blues"]
    top = weights.max()
    cells = pd.DataFrame([list(zip(text, weights, strict=True))])

    def color(cell):
        return f"background-color: {matplotlib.colors.to_hex(cmap(cell[1] / top))}"

    return cells.style.map(color).format(lambda cell: cell[0]).to_html()


def html_rows(rng, repeats):
    text, weights = sample_text(10_000, rng)
    ours = best_of(lambda: html_spans(text, weights).to_html(), repeats * 5)
    recipe = best_of(lambda: styler_recipe(text, weights), 1)
    big_text, big_weights = sample_text(1_000_000, rng)
    million = best_of(lambda: html_spans(big_text, big_weights).to_html(), repeats)
    return [
        ("html_spans vs recipe, 10k chars", ours, recipe, recipe / ours, ">= 300x"),
        ("html_spans, 1M chars (seconds)", million, None, million, "< 1 s"),
    ]


def styler_rows(rng, repeats):
    text, weights = sample_text(10_000, rng)
    width = 50
    cells = pd.DataFrame(np.array(list(text), dtype=object).reshape(-1, width))
    ours = best_of(lambda: styler(text, weights, width=width).to_html(), repeats)
    plain = best_of(lambda: cells.style.to_html(), repeats)
    escaped = best_of(lambda: cells.style.format(escape="html").to_html(), repeats)
    return [
        ("styler vs unstyled Styler, 10k cells", ours, plain, ours / plain, "<= 1.2x"),
        ("styler vs unstyled escaped Styler", ours, escaped, ours / escaped, "-"),
    ]


def draw_ours(weights, labels, annot):
    fig, ax = plt.subplots(figsize=(8, 8))
    heatmap(weights, labels, labels, ax=ax, annot=annot, fmt=".2f")
    fig.canvas.draw()
    plt.close(fig)


def draw_seaborn(weights, labels, annot):
    import seaborn

    fig, ax = plt.subplots(figsize=(8, 8))
    seaborn.heatmap(
        weights,
        xticklabels=labels,
        yticklabels=labels,
        ax=ax,
        annot=annot,
        fmt=".2f",
        cmap="Blues",
        vmin=0,
    )
    fig.canvas.draw()
    plt.close(fig)


def heatmap_rows(rng, repeats):
    rows = []
    for size, annot in [(256, False), (40, True)]:
        weights = rng.random((size, size))
        labels = [f"tok{i}" for i in range(size)]
        ours = best_of(lambda w=weights, t=labels, a=annot: draw_ours(w, t, a), repeats)
        theirs = best_of(
            lambda w=weights, t=labels, a=annot: draw_seaborn(w, t, a), repeats
        )
        name = f"heatmap vs seaborn, {size}x{size}" + (" annotated" if annot else "")
        rows.append((name, ours, theirs, theirs / ours, ">= 2x faster"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat per row")
    repeats = 1 if parser.parse_args().quick else 3
    rng = np.random.default_rng(0)
    html_spans("warm", np.ones(4)).to_html()  # imports and colormap registry
    rows = html_rows(rng, repeats) + styler_rows(rng, repeats)
    rows += heatmap_rows(rng, repeats)
    print(
        f"| {'case':<40} | {'ours':>10} | {'reference':>10} | {'ratio':>8} | target |"
    )
    print(f"|{'-' * 42}|{'-' * 12}|{'-' * 12}|{'-' * 10}|--------|")
    for name, ours, reference, ratio, target in rows:
        reference_ms = "-" if reference is None else f"{reference * 1e3:.1f} ms"
        print(
            f"| {name:<40} | {ours * 1e3:>7.1f} ms | {reference_ms:>10} "
            f"| {ratio:>8.2f} | {target} |"
        )


if __name__ == "__main__":
    main()
