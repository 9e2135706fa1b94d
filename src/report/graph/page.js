// The page of `tflq graph --format html`: pan (drag), zoom (wheel, around
// the pointer), a minimap per panel (click or drag to go there, click a
// mark to select its finding), node details on click, findings highlighted
// on every panel, and in a pair the other side following what this one
// shows. Nothing is loaded: everything is in the page.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("tflq-data").textContent);
  var svgs = Array.prototype.slice.call(document.querySelectorAll("svg.graph"));
  var maps = svgs.map(function (svg) {
    return document.getElementById(svg.getAttribute("data-map"));
  });
  var linkBox = document.getElementById("link");

  // At most this many graph units per screen pixel when the page opens or
  // jumps to a finding: further out, node labels are too small to read.
  var MAX_UNITS = 2;

  function point(svg, x, y) {
    var p = svg.createSVGPoint();
    p.x = x; p.y = y;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }

  function graphSize(svg) {
    return { w: +svg.getAttribute("data-width"), h: +svg.getAttribute("data-height") };
  }

  // Graph units per screen pixel that show `w` by `h` units, never
  // magnified past 1:1 nor shrunk past MAX_UNITS.
  function readable(r, w, h) {
    return Math.min(Math.max(w / r.width, h / r.height, 1), MAX_UNITS);
  }

  // The minimap's frame follows what its panel shows.
  function frame(svg) {
    var map = maps[svgs.indexOf(svg)];
    var f = map ? map.querySelector(".mm-view") : null;
    if (!f) return;
    var vb = svg.viewBox.baseVal;
    f.setAttribute("x", vb.x); f.setAttribute("y", vb.y);
    f.setAttribute("width", vb.width); f.setAttribute("height", vb.height);
  }

  // Show `w` by `h` units from (x, y), at `k` units per pixel when given.
  function show(svg, x, y, k) {
    var vb = svg.viewBox.baseVal, r = svg.getBoundingClientRect();
    if (k && r.width > 0 && r.height > 0) { vb.width = r.width * k; vb.height = r.height * k; }
    vb.x = x; vb.y = y;
    frame(svg);
  }

  // The top of the graph at `k` units per pixel (default: as wide as the
  // panel if that stays readable); narrower than the graph, at its first
  // input, where a reader starts.
  function fitWidth(svg, k) {
    var s = graphSize(svg), r = svg.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0)) { show(svg, 0, 0); return; }
    k = k || readable(r, s.w, 0);
    var w = r.width * k, x = (s.w - w) / 2;
    if (w < s.w) {
      var first = svg.querySelector("g.node.c-input") || svg.querySelector("g.node");
      var b = first ? first.getBBox() : { x: 0, width: 0 };
      x = Math.max(0, Math.min(b.x + b.width / 2 - w / 2, s.w - w));
    }
    show(svg, x, 0, k);
  }

  function fitAll(svg) {
    var s = graphSize(svg), vb = svg.viewBox.baseVal;
    vb.x = 0; vb.y = 0; vb.width = s.w; vb.height = s.h;
    frame(svg);
  }

  // The bounding box of nodes `els`, with room around it.
  function extent(els) {
    var pad = 40, x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    els.forEach(function (el) {
      var b = el.getBBox();
      x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y);
      x1 = Math.max(x1, b.x + b.width); y1 = Math.max(y1, b.y + b.height);
    });
    return { x: x0 - pad, y: y0 - pad, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad };
  }

  // Units per pixel that show all of `els` in `svg`, readably.
  function scaleFor(svg, els) {
    var e = extent(els), r = svg.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && e.w > 0 ? readable(r, e.w, e.h) : 0;
  }

  // Units per pixel `svg` shows now.
  function scaleOf(svg) {
    var r = svg.getBoundingClientRect();
    return r.width > 0 ? svg.viewBox.baseVal.width / r.width : 0;
  }

  // Show all of `els` (nodes of `svg`) at `k` units per pixel (default: a
  // readable scale that fits them): centred on their bounding box, or
  // from its top-left corner when it does not fit.
  function centre(svg, els, k) {
    var e = extent(els);
    if (!(e.w > 0)) return;
    var vb = svg.viewBox.baseVal, r = svg.getBoundingClientRect();
    k = k || scaleFor(svg, els);
    if (k && r.width > 0 && r.height > 0) { vb.width = r.width * k; vb.height = r.height * k; }
    vb.x = vb.width >= e.w ? e.x + (e.w - vb.width) / 2 : e.x;
    vb.y = vb.height >= e.h ? e.y + (e.h - vb.height) / 2 : e.y;
    frame(svg);
  }

  // A node's centre, from its box.
  function middle(el) {
    var r = el ? el.querySelector("rect") : null;
    if (!r) return null;
    return {
      x: +r.getAttribute("x") + +r.getAttribute("width") / 2,
      y: +r.getAttribute("y") + +r.getAttribute("height") / 2
    };
  }

  // For each panel, its aligned nodes and their counterparts' centres:
  // [y, x, other y, other x], by y.
  var links = svgs.map(function () { return []; });
  Object.keys(data.match).forEach(function (id) {
    var el = document.getElementById(id);
    var i = el ? svgs.indexOf(el.ownerSVGElement) : -1, a = middle(el);
    if (i < 0 || !a) return;
    data.match[id].forEach(function (other) {
      var b = middle(document.getElementById(other));
      if (b) links[i].push([a.y, a.x, b.y, b.x]);
    });
  });
  links.forEach(function (l) { l.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; }); });

  // Where the other side shows what aligns with the point (x, y) of panel
  // i: between the counterparts of the aligned nodes above and below it.
  function across(i, x, y) {
    var l = links[i];
    if (!l.length) return null;
    var lo = 0, hi = l.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (l[mid][0] <= y) lo = mid + 1; else hi = mid; }
    var a = l[Math.max(lo - 1, 0)], b = l[Math.min(lo, l.length - 1)];
    var t = b[0] > a[0] ? (y - a[0]) / (b[0] - a[0]) : 0;
    var near = t < 0.5 ? a : b;
    var oy = a === b ? a[2] + y - a[0] : a[2] + t * (b[2] - a[2]);
    return { x: near[3] + x - near[1], y: oy };
  }

  // In a pair: the other panel, at this one's scale, shows what aligns
  // with the middle of this one.
  function follow(svg) {
    var i = svgs.indexOf(svg);
    if (svgs.length !== 2 || !linkBox || !linkBox.checked || i < 0) return;
    var other = svgs[1 - i], vb = svg.viewBox.baseVal, r = svg.getBoundingClientRect();
    var c = across(i, vb.x + vb.width / 2, vb.y + vb.height / 2);
    if (!c || !(r.width > 0)) return;
    var k = vb.width / r.width, o = other.getBoundingClientRect();
    show(other, c.x - o.width * k / 2, c.y - o.height * k / 2, k);
  }

  svgs.forEach(function (svg, i) {
    var drag = null, moved = false;
    svg.addEventListener("wheel", function (e) {
      e.preventDefault();
      var k = e.deltaY < 0 ? 0.8 : 1.25, vb = svg.viewBox.baseVal, p = point(svg, e.clientX, e.clientY);
      vb.x = p.x - (p.x - vb.x) * k; vb.y = p.y - (p.y - vb.y) * k;
      vb.width *= k; vb.height *= k;
      frame(svg); follow(svg);
    }, { passive: false });
    svg.addEventListener("mousedown", function (e) {
      drag = point(svg, e.clientX, e.clientY); moved = false;
    });
    svg.addEventListener("mousemove", function (e) {
      if (!drag) return;
      var p = point(svg, e.clientX, e.clientY), vb = svg.viewBox.baseVal;
      if (Math.abs(p.x - drag.x) + Math.abs(p.y - drag.y) > 2) moved = true;
      vb.x -= p.x - drag.x; vb.y -= p.y - drag.y;
      frame(svg); follow(svg);
    });
    window.addEventListener("mouseup", function () { drag = null; });
    svg.addEventListener("click", function (e) {
      if (moved) return;
      var g = e.target.closest ? e.target.closest("g.node") : null;
      if (g) select(g.id);
    });

    // The minimap: press or drag to centre the panel there; a mark beside
    // it selects its finding.
    var map = maps[i];
    if (!map) return;
    var held = false;
    function go(e) {
      var p = point(map, e.clientX, e.clientY), vb = svg.viewBox.baseVal;
      show(svg, p.x - vb.width / 2, p.y - vb.height / 2);
      follow(svg);
    }
    map.addEventListener("mousedown", function (e) {
      var mark = e.target.closest ? e.target.closest(".mm-mark") : null;
      if (mark) {
        var li = document.getElementById("f" + mark.getAttribute("data-f"));
        if (li) li.click();
        return;
      }
      held = true; go(e); e.preventDefault();
    });
    map.addEventListener("mousemove", function (e) { if (held) go(e); });
    window.addEventListener("mouseup", function () { held = false; });
  });

  function clear() {
    document.querySelectorAll(".hl,.match").forEach(function (el) { el.classList.remove("hl", "match"); });
    document.querySelectorAll("#findings li.on").forEach(function (el) { el.classList.remove("on"); });
  }

  // A node: its details at the top of the side column, its counterpart
  // highlighted and in view, its findings marked in the list.
  function select(id) {
    clear();
    var el = document.getElementById(id);
    if (el) el.classList.add("hl");
    // The counterpart, at the scale of the side clicked.
    var k = el ? scaleOf(el.ownerSVGElement) : 0;
    (data.match[id] || []).forEach(function (m) {
      var o = document.getElementById(m);
      if (o) { o.classList.add("match"); centre(o.ownerSVGElement, [o], k); }
    });
    var pre = document.createElement("pre");
    pre.textContent = (data.nodes[id] || []).join("\n");
    var d = document.getElementById("details");
    d.textContent = "";
    d.appendChild(pre);
    document.getElementById("node").scrollTop = 0;
    var first = null;
    (el ? (el.getAttribute("data-findings") || "").split(" ") : []).forEach(function (f) {
      var li = document.getElementById("f" + f);
      if (li) { li.classList.add("on"); first = first || li; }
    });
    if (first) first.scrollIntoView({ block: "nearest" });
  }

  document.querySelectorAll("#findings li").forEach(function (li) {
    li.addEventListener("click", function (e) {
      clear();
      li.classList.add("on");
      // Its advice opens, unless this very click toggles it.
      if (!(e && e.target && e.target.closest && e.target.closest("summary"))) {
        li.querySelectorAll("details").forEach(function (d) { d.open = true; });
      }
      li.scrollIntoView({ block: "nearest" });
      // Each panel shows all of the finding's nodes it holds.
      var per = svgs.map(function () { return []; });
      (li.getAttribute("data-nodes") || "").split(" ").forEach(function (id) {
        var el = document.getElementById(id);
        if (!el) return;
        el.classList.add("hl");
        var i = svgs.indexOf(el.ownerSVGElement);
        if (i >= 0) per[i].push(el);
      });
      // One scale on every side, so that the sides line up.
      var k = 0;
      per.forEach(function (els, i) { if (els.length) k = Math.max(k, scaleFor(svgs[i], els)); });
      per.forEach(function (els, i) { if (els.length) centre(svgs[i], els, k); });
    });
  });

  // Both sides of a pair open at one scale, so that they line up.
  function start() {
    var k = 0;
    svgs.forEach(function (svg) {
      var r = svg.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) k = Math.max(k, readable(r, graphSize(svg).w, 0));
    });
    svgs.forEach(function (svg) { fitWidth(svg, k); });
    // The PTQ side of a pair shows what aligns with the QAT side.
    if (svgs.length === 2) follow(svgs[1]);
  }
  start();
  // `page.html#f3` opens with finding 3 selected.
  var first = /^#f[0-9]+$/.test(location.hash) ? document.getElementById(location.hash.slice(1)) : null;
  if (first) first.click();
  document.getElementById("fit").addEventListener("click", function () { svgs.forEach(fitAll); });
  document.getElementById("width").addEventListener("click", start);
})();
