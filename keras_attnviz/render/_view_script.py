"""The stylesheet and script of the interactive views, inlined in every page.

`SCRIPT` is one JavaScript function expression, `function (uid, data)`, with no
dependency: `_interactive_page` calls it with the id of the view's `<div>` and
the view's data. It builds the view inside every not yet built `<div>` with
that id and writes tokens and layer names with `textContent`, never as markup.
It holds no `</` and no `<!--`, so it cannot end its `<script>` element.
"""

STYLESHEET = """<style>
.kav-view{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",
Arial,sans-serif;font-size:13px;line-height:1.4;color:#1f1f1f;background:#fff;
padding:8px 4px;overflow-x:auto}
.kav-view button{font:inherit;cursor:pointer}
.kav-fallback{color:#6b6b6b;font-style:italic}
.kav-controls{display:flex;flex-wrap:wrap;align-items:center;gap:6px 16px}
.kav-layer select{font:inherit;margin-left:4px;padding:1px 4px}
.kav-heads{display:flex;flex-wrap:wrap;gap:4px}
.kav-head{display:inline-flex;align-items:center;gap:5px;padding:1px 7px 1px 5px;
border:1px solid #c8c8c8;border-radius:4px;background:#fff;color:#1f1f1f;
font-size:12px}
.kav-head::before{content:"";width:11px;height:11px;border-radius:2px;
box-sizing:border-box;border:2px solid var(--kav-head);background:var(--kav-head)}
.kav-head[aria-pressed="false"]{color:#9a9a9a;text-decoration:line-through}
.kav-head[aria-pressed="false"]::before{background:transparent}
.kav-hint{color:#6b6b6b;font-size:12px;margin:4px 0 8px}
.kav-note{margin-left:0.5em;color:#8a5a00}
.kav-lines{display:flex;align-items:flex-start}
.kav-lines canvas{flex:none}
.kav-tokens{display:flex;flex-direction:column;min-width:2em;max-width:16em}
.kav-token{height:20px;line-height:20px;padding:0 6px;white-space:pre;
overflow:hidden;text-overflow:ellipsis;border-radius:3px}
.kav-queries .kav-token{text-align:right}
.kav-token.kav-focus{background:#ffe8a3;font-weight:600}
.kav-grid{display:grid;gap:4px;align-items:center;justify-content:start}
.kav-grid-head{text-align:center;color:#555;font-size:12px}
.kav-grid-layer{grid-column:1;max-width:14em;overflow:hidden;text-overflow:ellipsis;
white-space:pre;text-align:right;padding-right:6px;color:#333;font-size:12px}
.kav-thumb{width:64px;height:64px;padding:0;border:1px solid #d4d4d4;
background:#fff;line-height:0}
.kav-thumb canvas,.kav-map canvas{display:block;width:100%;height:100%}
.kav-thumb:hover{outline:2px solid #8a8a8a}
.kav-thumb[aria-pressed="true"]{outline:3px solid #f0a000;outline-offset:1px}
.kav-detail{display:inline-block;margin:4px 0 12px;padding:8px 12px 10px;
border:1px solid #d4d4d4;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.12)}
.kav-detail[hidden]{display:none}
.kav-detail-header{display:flex;align-items:center;justify-content:space-between;
gap:16px;margin-bottom:6px;font-weight:600}
.kav-close{border:none;background:none;font-size:18px;line-height:1;padding:0 4px;
color:#555}
.kav-detail-body{display:grid;grid-template-columns:auto auto;justify-content:start}
.kav-map{border:1px solid #d4d4d4}
.kav-labels{display:flex;font-size:12px;color:#333}
.kav-labels>div{display:flex;align-items:center;overflow:visible}
.kav-labels span{flex:none;max-inline-size:12em;line-height:15px;white-space:pre;
overflow:hidden;text-overflow:ellipsis}
.kav-labels.kav-queries{flex-direction:column;padding-right:4px}
.kav-labels.kav-queries>div{justify-content:flex-end}
.kav-labels.kav-keys{align-items:flex-end;padding-bottom:4px}
.kav-labels.kav-keys>div{writing-mode:vertical-rl;transform:rotate(180deg)}
.kav-labels>.kav-thin{visibility:hidden}
.kav-labels>.kav-focus{visibility:visible;position:relative;z-index:1;
font-weight:700;color:#000}
.kav-labels>.kav-focus span{background:#ffe8a3;border-radius:2px}
.kav-readout{margin-top:6px;font-size:12px;color:#333;white-space:pre}
</style>"""

SCRIPT = r"""function (uid, data) {
  "use strict";
  var ROW = 20, LINES_WIDTH = 240, THUMB = 64, DETAIL = 512, LABEL = 15;

  function element(tag, className, parent) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (parent) parent.appendChild(node);
    return node;
  }

  // Levels are bytes: 0 to 255 of the head's largest weight, `peaks[head]`.
  function levelsOf(layer) {
    if (!layer.levels) {
      var text = atob(layer.weights), levels = new Uint8Array(text.length);
      for (var i = 0; i < text.length; i++) levels[i] = text.charCodeAt(i);
      layer.levels = levels;
    }
    return layer.levels;
  }

  function weightOf(layer, head, level) {
    return level * layer.peaks[head] / 255;
  }

  function tokenColumn(parent, tokens, className) {
    var column = element("div", "kav-tokens " + className, parent);
    return tokens.map(function (token, index) {
      var node = element("div", "kav-token", column);
      node.textContent = token;
      node.title = token;
      node.setAttribute("data-token", String(index));
      return node;
    });
  }

  function headView(root) {
    var nq = data.queries.length, nk = data.keys.length;
    var state = {layer: 0, hidden: {}, focus: null};
    var controls = element("div", "kav-controls", root);
    var label = element("label", "kav-layer", controls);
    label.appendChild(document.createTextNode("Layer"));
    var select = element("select", "", label);
    select.setAttribute("data-layer", "0");
    data.layers.forEach(function (layer, index) {
      var option = element("option", "", select);
      option.value = String(index);
      option.textContent = layer.name;
    });
    var toggles = element("div", "kav-heads", controls);
    var hint = element("div", "kav-hint", root);
    hint.textContent =
      "Hover a token to see its attention alone. Click a head to hide or " +
      "show it, double-click it to show it alone.";
    var note = element("span", "kav-note", hint);
    var body = element("div", "kav-lines", root);
    var queries = tokenColumn(body, data.queries, "kav-queries");
    var canvas = element("canvas", "", body);
    var keys = tokenColumn(body, data.keys, "kav-keys");
    var height = Math.max(nq, nk) * ROW, ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(LINES_WIDTH * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = LINES_WIDTH + "px";
    canvas.style.height = height + "px";
    var context = canvas.getContext("2d");
    context.scale(ratio, ratio);
    context.lineWidth = data.lineWidth;

    function buttons() {
      return Array.prototype.slice.call(toggles.children);
    }

    function showHeads() {
      var layer = data.layers[state.layer];
      toggles.textContent = "";
      layer.labels.forEach(function (name, head) {
        var button = element("button", "kav-head", toggles);
        button.type = "button";
        button.textContent = name;
        button.title = layer.titles[head];
        button.setAttribute("data-head", String(layer.heads[head]));
        button.style.setProperty("--kav-head", layer.colors[head]);
        button.addEventListener("click", function () {
          state.hidden[name] = !state.hidden[name];
          update();
        });
        button.addEventListener("dblclick", function () {
          layer.labels.forEach(function (other) {
            state.hidden[other] = other !== name;
          });
          update();
        });
      });
      update();
    }

    function update() {
      var labels = data.layers[state.layer].labels;
      buttons().forEach(function (button, head) {
        button.setAttribute("aria-pressed", String(!state.hidden[labels[head]]));
      });
      draw();
    }

    // Lines are drawn from the strongest down, `data.maxLines` at the most:
    // the weakest lines of a long sequence are invisible one by one and an
    // opaque haze together, and each costs time to draw. A weight's bin is
    // its whole number of 1/255ths; the smallest bin drawn is returned.
    function floorBin(layer, levels, rows, columns) {
      var counts = new Int32Array(256), drawn = 0;
      layer.labels.forEach(function (name, head) {
        if (state.hidden[name]) return;
        var offset = head * nq * nk, peak = layer.peaks[head];
        for (var i = rows[0]; i < rows[1]; i++) {
          for (var j = columns[0]; j < columns[1]; j++) {
            counts[Math.floor(levels[offset + i * nk + j] * peak)]++;
          }
        }
      });
      for (var bin = 255; bin >= 1; bin--) {
        if (drawn + counts[bin] > data.maxLines) return bin + 1;
        drawn += counts[bin];
      }
      return 1;
    }

    // Every line of a layer takes long to draw: the last such drawing is
    // kept, so leaving a hovered token brings it back at once.
    var kept = {canvas: element("canvas"), state: null, note: ""};
    kept.canvas.width = canvas.width;
    kept.canvas.height = canvas.height;

    function draw() {
      var focus = state.focus;
      var shown = JSON.stringify([state.layer, state.hidden]);
      context.clearRect(0, 0, LINES_WIDTH, height);
      if (!focus && kept.state === shown) {
        context.drawImage(kept.canvas, 0, 0, LINES_WIDTH, height);
        note.textContent = kept.note;
        return;
      }
      var layer = data.layers[state.layer], levels = levelsOf(layer);
      var rows = [0, nq], columns = [0, nk];
      if (focus) {
        var span = focus.side === "query" ? rows : columns;
        span[0] = focus.index;
        span[1] = focus.index + 1;
      }
      var floor = floorBin(layer, levels, rows, columns);
      note.textContent = floor > 1 ?
        "Lines under " + (floor / 255).toFixed(3) + " are left out, to draw " +
        "the " + data.maxLines + " strongest." :
        "";
      layer.labels.forEach(function (name, head) {
        if (state.hidden[name]) return;
        // One path per opacity level: a few hundred strokes, not T * T.
        var ends = [], offset = head * nq * nk, peak = layer.peaks[head];
        for (var i = rows[0]; i < rows[1]; i++) {
          for (var j = columns[0]; j < columns[1]; j++) {
            var level = levels[offset + i * nk + j];
            if (level * peak >= floor) (ends[level] || (ends[level] = [])).push(i, j);
          }
        }
        context.strokeStyle = layer.colors[head];
        ends.forEach(function (pairs, level) {
          context.globalAlpha = Math.min(1, weightOf(layer, head, level));
          context.beginPath();
          for (var k = 0; k < pairs.length; k += 2) {
            context.moveTo(0, (pairs[k] + 0.5) * ROW);
            context.lineTo(LINES_WIDTH, (pairs[k + 1] + 0.5) * ROW);
          }
          context.stroke();
        });
      });
      context.globalAlpha = 1;
      if (!focus) {
        var copy = kept.canvas.getContext("2d");
        copy.clearRect(0, 0, kept.canvas.width, kept.canvas.height);
        copy.drawImage(canvas, 0, 0);
        kept.state = shown;
        kept.note = note.textContent;
      }
    }

    function hover(nodes, side) {
      nodes.forEach(function (node, index) {
        node.addEventListener("mouseenter", function () {
          state.focus = {side: side, index: index};
          node.classList.add("kav-focus");
          draw();
        });
        node.addEventListener("mouseleave", function () {
          state.focus = null;
          node.classList.remove("kav-focus");
          draw();
        });
      });
    }

    select.addEventListener("change", function () {
      state.layer = Number(select.value);
      select.setAttribute("data-layer", select.value);
      showHeads();
    });
    hover(queries, "query");
    hover(keys, "key");
    showHeads();
  }

  function modelView(root) {
    var nq = data.queries.length, nk = data.keys.length, size = nq * nk;
    var table = data.table.map(function (hex) {
      return [1, 3, 5].map(function (at) {
        return parseInt(hex.slice(at, at + 2), 16);
      });
    });
    var vmin = data.vmin, vmax = data.vmax, span = vmax - vmin;
    // As `ColorScale.fractions`: halved when the span overflows.
    var halves = !isFinite(span);
    if (halves) span = vmax / 2 - vmin / 2;

    // The table entry `ColorScale.indices` picks for a weight.
    function colorOf(weight) {
      weight = Math.min(vmax, Math.max(vmin, weight));
      var fraction = 0;
      if (span > 0) {
        fraction = halves ? (weight / 2 - vmin / 2) / span : (weight - vmin) / span;
      }
      return table[Math.min(Math.floor(fraction * table.length), table.length - 1)];
    }

    function paint(canvas, layer, head) {
      var levels = levelsOf(layer), offset = head * size, colors = [];
      for (var level = 0; level < 256; level++) {
        colors.push(colorOf(weightOf(layer, head, level)));
      }
      canvas.width = nk;
      canvas.height = nq;
      var context = canvas.getContext("2d");
      var image = context.createImageData(nk, nq), pixels = image.data;
      for (var cell = 0; cell < size; cell++) {
        var rgb = colors[levels[offset + cell]];
        pixels[4 * cell] = rgb[0];
        pixels[4 * cell + 1] = rgb[1];
        pixels[4 * cell + 2] = rgb[2];
        pixels[4 * cell + 3] = 255;
      }
      context.putImageData(image, 0, 0);
    }

    function labelRow(parent, tokens, className, cell) {
      var row = element("div", "kav-labels " + className, parent);
      var step = Math.ceil(LABEL / cell);
      return tokens.map(function (token, index) {
        var node = element("div", index % step ? "kav-thin" : "", row);
        node.setAttribute("data-token", String(index));
        node.title = token;
        node.style[className === "kav-keys" ? "width" : "height"] = cell + "px";
        element("span", "", node).textContent = token;
        return node;
      });
    }

    element("div", "kav-hint", root).textContent =
      "Click a thumbnail to enlarge it; hover the enlarged map to read a weight.";
    var detail = element("div", "kav-detail", root);
    detail.hidden = true;
    var grid = element("div", "kav-grid", root);
    var widest = data.layers.reduce(function (a, b) {
      return b.labels.length > a.labels.length ? b : a;
    });
    grid.style.gridTemplateColumns =
      "auto repeat(" + widest.labels.length + ", " + THUMB + "px)";
    element("div", "", grid);
    widest.labels.forEach(function (name) {
      element("div", "kav-grid-head", grid).textContent = "head " + name;
    });
    var thumbs = [];
    data.layers.forEach(function (layer, index) {
      var name = element("div", "kav-grid-layer", grid);
      name.textContent = layer.name;
      name.title = layer.name;
      layer.labels.forEach(function (_, head) {
        var thumb = element("button", "kav-thumb", grid);
        thumb.type = "button";
        thumb.title = layer.titles[head];
        thumb.setAttribute("data-layer", String(index));
        thumb.setAttribute("data-head", String(layer.heads[head]));
        thumb.setAttribute("aria-pressed", "false");
        var canvas = element("canvas", "", thumb);
        paint(canvas, layer, head);
        if (Math.max(nq, nk) < THUMB) canvas.style.imageRendering = "pixelated";
        thumb.addEventListener("click", function () {
          if (thumb.getAttribute("aria-pressed") === "true") shrink();
          else enlarge(thumb, layer, index, head);
        });
        thumbs.push(thumb);
      });
    });

    function shrink() {
      detail.hidden = true;
      detail.textContent = "";
      thumbs.forEach(function (thumb) {
        thumb.setAttribute("aria-pressed", "false");
      });
    }

    function enlarge(thumb, layer, index, head) {
      shrink();
      thumb.setAttribute("aria-pressed", "true");
      detail.hidden = false;
      detail.setAttribute("data-layer", String(index));
      detail.setAttribute("data-head", String(layer.heads[head]));
      var header = element("div", "kav-detail-header", detail);
      element("span", "", header).textContent = layer.titles[head];
      var close = element("button", "kav-close", header);
      close.type = "button";
      close.title = "Close";
      close.textContent = "\u00d7";
      close.addEventListener("click", shrink);
      var cell = Math.max(2, Math.min(32, Math.floor(DETAIL / Math.max(nq, nk))));
      var body = element("div", "kav-detail-body", detail);
      element("div", "", body);
      var keyLabels = labelRow(body, data.keys, "kav-keys", cell);
      var queryLabels = labelRow(body, data.queries, "kav-queries", cell);
      var map = element("div", "kav-map", body);
      map.style.width = nk * cell + "px";
      map.style.height = nq * cell + "px";
      var canvas = element("canvas", "", map);
      paint(canvas, layer, head);
      canvas.style.imageRendering = "pixelated";
      var readout = element("div", "kav-readout", detail);
      var focused = [];
      function focus(nodes) {
        focused.forEach(function (node) { node.classList.remove("kav-focus"); });
        focused = nodes;
        focused.forEach(function (node) { node.classList.add("kav-focus"); });
      }
      canvas.addEventListener("mousemove", function (event) {
        var box = canvas.getBoundingClientRect();
        var i = Math.min(nq - 1, Math.floor((event.clientY - box.top) / cell));
        var j = Math.min(nk - 1, Math.floor((event.clientX - box.left) / cell));
        var level = levelsOf(layer)[head * size + i * nk + j];
        readout.textContent = data.queries[i] + " \u2192 " + data.keys[j] + ": " +
          weightOf(layer, head, level).toFixed(3);
        focus([queryLabels[i], keyLabels[j]]);
      });
      canvas.addEventListener("mouseleave", function () {
        readout.textContent = "";
        focus([]);
      });
      detail.scrollIntoView({block: "nearest"});
    }
  }

  var views = {head: headView, model: modelView};
  document.querySelectorAll('[id="' + uid + '"]').forEach(function (root) {
    // A front end may run the script of an output again, or show it twice.
    if (root.hasAttribute("data-kav-ready")) return;
    root.setAttribute("data-kav-ready", "");
    var fallback = root.querySelector(".kav-fallback");
    if (fallback) root.removeChild(fallback);
    views[data.kind](root);
  });
}"""
