"""Heatmap cell annotations: one `Text` per cell, cheap to draw on Agg.

Agg rasterises every glyph of every `Text` again on each draw, which dominates
the cost of an annotated heatmap. Cells repeat a few strings (rounded weights,
tokens), so on Agg each string is turned into a glyph outline path once and
filled from the cache afterwards. Other renderers (PDF, SVG, PS, Cairo) get
ordinary text, which stays selectable. The artists are real `Text` objects, so
`ax.texts` lists them with their strings, colours and positions.
"""

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.textpath import text_to_path
from matplotlib.transforms import Affine2D, TransformedPatchPath


def add_cell_texts(ax, texts, colors, size):
    """Writes `texts[i, j]` centred on cell (row i, column j) of an image.

    Args:
        ax: the Axes holding the image (cell centres at integer coordinates).
        texts: 2-D object array of strings; `None` leaves a cell empty.
        colors: colours of the same shape.
        size: the font size in points.

    Returns:
        The list of added `Text` artists.
    """
    font = FontProperties(size=size)
    outlines = GlyphOutlines()
    # One clip path for all cells; `Axes.add_artist` would derive one per text.
    clip_path = TransformedPatchPath(ax.patch)
    artists = []
    for (row, column), text in np.ndenumerate(texts):
        if text is None:
            continue
        artist = CellText(
            column,
            row,
            text,
            outlines=outlines,
            color=colors[row, column],
            fontproperties=font,
            horizontalalignment="center",
            verticalalignment="center",
            transform=ax.transData,
            parse_math=False,
        )
        artist.set_clip_path(clip_path)
        ax.add_artist(artist)
        artists.append(artist)
    return artists


class CellText(Text):
    """A `Text` that Agg fills from cached glyph outlines (see module docstring)."""

    def __init__(self, x, y, text, *, outlines, **kwargs):
        super().__init__(x, y, text, **kwargs)
        self._outlines = outlines

    def draw(self, renderer):
        if isinstance(renderer, RendererAgg):
            renderer = self._outlines.renderer_for(renderer)
        super().draw(renderer)


class GlyphOutlines:
    """The outline paths of strings already drawn, shared by one heatmap's texts."""

    def __init__(self):
        self._paths = {}
        self._renderer = None

    def renderer_for(self, renderer):
        # One wrapper per renderer: Text caches its layout per renderer object.
        if self._renderer is None or self._renderer.renderer is not renderer:
            self._renderer = _OutlineRenderer(renderer, self._paths)
        return self._renderer

    def __getstate__(self):
        # Renderers cannot be pickled (figures can).
        return {"_paths": self._paths, "_renderer": None}


class _OutlineRenderer:
    """Forwards to an Agg renderer, but fills plain text from cached outlines."""

    def __init__(self, renderer, paths):
        self.renderer = renderer
        self._paths = paths

    def __getattr__(self, name):
        return getattr(self.renderer, name)

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            self.renderer.draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            return
        key = (s, hash(prop))
        path = self._paths.get(key)
        if path is None:
            # Not `TextPath`, which would read `$...$` as mathtext.
            vertices, codes = text_to_path.get_text_path(prop, s, ismath=False)
            path = self._paths[key] = Path(vertices, codes)
        # The outline is drawn at `FONT_SCALE` points; Agg's y axis points down.
        points = prop.get_size_in_points() / text_to_path.FONT_SCALE
        transform = (
            Affine2D()
            .scale(self.renderer.points_to_pixels(points))
            .rotate_deg(angle)
            .translate(x, self.renderer.height - y)
        )
        gc.set_linewidth(0.0)
        self.renderer.draw_path(gc, path, transform, rgbFace=gc.get_rgb())
