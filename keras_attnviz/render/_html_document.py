"""The static parts of the HTML output: layout CSS, legend and standalone page.

Colours are inline `style` attributes on each span, so a fragment keeps its
colours wherever it is pasted; this stylesheet only lays things out, and its
rules are the same for every fragment, so several on one page never clash.
"""

import html

import numpy as np

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
    stops = ",".join(scale.css(np.linspace(scale.vmin, scale.vmax, _LEGEND_STOPS)))
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
    here, since a long text makes millions of them.
    """

    def to_html(self):
        """Returns an HTML fragment (layout CSS, then the markup) to embed."""
        parts = self._parts()
        parts.insert(0, STYLESHEET)
        return "".join(parts)

    def _repr_html_(self):
        return self.to_html()

    def save(self, path, *, title="Attention weights"):
        """Writes a standalone UTF-8 HTML page: inline CSS, no script, no CDN.

        Args:
            path: the file to write (str or path-like).
            title: the page title (escaped).
        """
        parts = self._parts()
        parts.insert(0, _page_head(title))
        parts.append(_PAGE_TAIL)
        with open(path, "w", encoding="utf-8") as file:
            file.write("".join(parts))
