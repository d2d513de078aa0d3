"""Interactive views at scale: page size and load time in headless Chromium.

The 12-layer, 12-head model at T=128 (bertviz's usual BERT-base view), saved
as a standalone page and opened in Debian's chromium through Playwright, five
times each, against an empty page opened the same way (the browser's floor).

    python benchmarks/bench_views.py
"""

import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from keras_attnviz.render import head_view, model_view

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOAD_TIME = "performance.getEntriesByType('navigation')[0].loadEventEnd"
ROUNDS = 5


def _weights(rng, layers=12, heads=12, length=128):
    scores = 3 * rng.standard_normal((layers, heads, length, length))
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype("float32")


def main():
    folder = Path(tempfile.mkdtemp())
    weights = _weights(np.random.default_rng(0))
    layers = {f"layer {i}": layer for i, layer in enumerate(weights)}
    pages = {"empty page": folder / "empty.html"}
    pages["empty page"].write_text("<!doctype html><title>empty</title>")
    for make in (head_view, model_view):
        path = folder / f"{make.__name__}.html"
        make(layers).save(path)
        pages[make.__name__] = path
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=ARGS
        )
        page = browser.new_page()
        times = {name: [] for name in pages}
        for _ in range(ROUNDS):  # interleaved rounds
            for name, path in pages.items():
                page.goto(path.as_uri())
                times[name].append(page.evaluate(LOAD_TIME))
        browser.close()
    floor = statistics.median(times["empty page"])
    print("12 layers x 12 heads, T=128; load = loadEventEnd, median of 5 rounds")
    print(f"{'page':<12} {'size':>9} {'load':>9} {'vs empty':>9}  target")
    for name, path in pages.items():
        size = path.stat().st_size / 2**20
        load = statistics.median(times[name])
        target = "" if name == "empty page" else "< 5 MiB, < 1 s"
        ratio = load / floor
        print(f"{name:<12} {size:>6.2f} MiB {load:>6.0f} ms {ratio:>8.1f}x  {target}")


if __name__ == "__main__":
    main()
