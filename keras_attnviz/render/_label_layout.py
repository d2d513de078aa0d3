"""Where heatmap labels go and how big they are: tick thinning and cell font size.

Pure decisions from sizes in points, so they can be tested without drawing.
Imported by the plotting functions only, since it needs matplotlib's fonts.
"""

from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

from keras_attnviz.render.inputs import encodable

MAX_TICK_LABELS = 50
# Distance between neighbouring tick labels, in font sizes (one line plus a gap).
LABEL_PITCH = 1.5
# Share of a cell that an annotation may fill, across and up.
CELL_FILL_WIDTH = 0.9
CELL_FILL_HEIGHT = 0.7


def text_width(text, size):
    """Width in points of `text` set in the default font at `size` points."""
    # Surrogates mended as the labels drawn are: fonts take none.
    width, _, _ = text_to_path.get_text_width_height_descent(
        encodable(text), FontProperties(size=size), ismath=False
    )
    return width


def thinning_step(n_labels, length, size):
    """Keeps every k-th label: the smallest k that fits the axis.

    Args:
        n_labels: how many cells the axis has.
        length: the axis length in points.
        size: the tick label font size in points.

    Returns:
        The step k (>= 1): at most `MAX_TICK_LABELS` labels, one per
        `LABEL_PITCH` font sizes of axis length.
    """
    room = int(length // (size * LABEL_PITCH))
    capacity = max(1, min(MAX_TICK_LABELS, room))
    return max(1, -(-n_labels // capacity))


def fits_horizontally(labels, pitch, size):
    """Whether upright labels `pitch` points apart leave a gap between them."""
    return all(text_width(label, size) <= pitch * CELL_FILL_WIDTH for label in labels)


def cell_font_size(texts, cell_width, cell_height, size):
    """The font size (points) at which the cell texts fit their cells.

    Args:
        texts: the strings written in the cells.
        cell_width: a cell's width in points.
        cell_height: a cell's height in points.
        size: the preferred font size; the result never exceeds it.

    Returns:
        `size`, shrunk so the longest text fills at most `CELL_FILL_WIDTH` of
        the cell width and a line at most `CELL_FILL_HEIGHT` of its height.
    """
    longest = max(texts, key=len, default="")
    width = text_width(longest, size) if longest else 0.0
    shrink = CELL_FILL_HEIGHT * cell_height / size
    if width > 0:
        shrink = min(shrink, CELL_FILL_WIDTH * cell_width / width)
    return size * min(1.0, shrink)
