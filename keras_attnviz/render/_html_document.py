"""The static parts of the HTML output: layout CSS, legend and standalone page.

Colours are inline `style` attributes on each span, so a fragment keeps its
colours wherever it is pasted; this stylesheet only lays things out, and its
rules are the same for every fragment, so several on one page never clash.

Text that UTF-8 cannot encode (unpaired surrogates such as `"\\ud800"`) is
mended the same way in `to_html()` and `save()`, by `inputs.encodable`.
"""

import html

import numpy as np

from keras_attnviz.render.inputs import encodable

STYLESHEET = """<style>
.kav-spans{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
line-height:1.6;margin:0.25em 0;color:#000;background:#fff}
.kav-text{white-space:pre-wrap;overflow-wrap:break-word}
.kav-token .kav-text span{padding:0.1em 0.15em;border-radius:0.2em}
.kav-legend{display:flex;align-items:center;gap:0.5em;font-size:0.8em;
margin-top:0.25em;color:#333}
.kav-legend-bar{display:inline-block;width:12em;height:0.9em;
border:1px solid #999}
.kav-report{border-collapse:collapse;font-family:system-ui,sans-serif}
.kav-report th,.kav-report td{border-bottom:1px solid #ddd;padding:0.4em 0.6em;
text-align:left;vertical-align:top}
</style>"""

_LEGEND_STOPS = 11


def legend(scale):
    """A colour bar for `scale`: a CSS gradient between its limit labels."""
    stops = ",".join(scale.css_at(np.linspace(0.0, 1.0, _LEGEND_STOPS)))
    return (
        '<div class="kav-legend">'
        f"<span>{scale.vmin:.3g}</span>"
        f'<span class="kav-legend-bar" style="background:linear-gradient('
        f'to right,{stops})" title="{html.escape(scale.cmap.name, quote=True)}">'
        f"</span><span>{scale.vmax:.3g}</span></div>"
    )


def _page_head(title):
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title, quote=True)}</title>\n{STYLESHEET}\n"
        "</head>\n<body>\n"
    )


_PAGE_TAIL = "\n</body>\n</html>\n"


class HTMLDocument:
    """Base of the HTML outputs.

    Subclasses write `_parts()`: the markup as a list of strings, joined once
    here, since a long text makes millions of them. They may set
    `default_title`, the title of the page `save` writes.
    """

    default_title = "Attention weights"

    def to_html(self):
        """Returns an HTML fragment (layout CSS, then the markup) to embed."""
        parts = self._parts()
        parts.insert(0, STYLESHEET)
        return encodable("".join(parts))

    def _repr_html_(self):
        return self.to_html()

    def save(self, path, *, title=None):
        """Writes a standalone UTF-8 HTML page of `to_html()`'s markup.

        The page is self-contained: inline CSS, and the inline script of the
        views that have one (no CDN, no font, no request), so it opens offline.

        Args:
            path: the file to write (str or path-like).
            title: the page title (escaped); default `default_title`.
        """
        parts = self._parts()
        parts.insert(0, _page_head(self.default_title if title is None else title))
        parts.append(_PAGE_TAIL)
        with open(path, "w", encoding="utf-8") as file:
            file.write(encodable("".join(parts)))
