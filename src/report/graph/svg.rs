//! SVG and HTML of a graph [`Doc`]. The HTML page is also well-formed XML
//! (XHTML): its style and script sit in CDATA sections that browsers read
//! as comments, so tests and tools can parse it with an XML parser. It loads
//! nothing: no URL appears in it.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::layout::{Layout, Placed, layout};
use super::{Doc, ISLAND_COLOR, NodeDraw, PanelDraw, class_color, class_label};
use crate::analysis::graph_view::NodeClass;

/// Width of one character of the 11px monospace font.
const CHAR_W: f64 = 6.7;
/// Height of one label line.
const LINE_H: f64 = 14.0;
/// Padding inside a node box.
const PAD_X: f64 = 8.0;
const PAD_Y: f64 = 5.0;
/// Space above a panel for its heading.
const HEADING_H: f64 = 26.0;
/// Space between panels, and around the drawing.
const GAP: f64 = 60.0;
const MARGIN: f64 = 16.0;
/// Height of the legend row.
const LEGEND_H: f64 = 34.0;

/// Room left of a panel with float islands for their titles.
fn gutter(p: &PanelDraw) -> f64 {
    p.islands
        .iter()
        .map(|(t, _)| t.chars().count() as f64 * 7.5 + 16.0)
        .fold(0.0, f64::max)
}

/// `&`, `<`, `>`, `"` and `'` escaped: safe in text and in attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn node_size(n: &NodeDraw) -> (f64, f64) {
    let chars = n.lines.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    let lines = n.lines.len().max(1);
    (
        (chars as f64 * CHAR_W + 2.0 * PAD_X).max(70.0),
        lines as f64 * LINE_H + 2.0 * PAD_Y,
    )
}

fn lay_out(p: &PanelDraw) -> Layout {
    let sizes: Vec<(f64, f64)> = p.nodes.iter().map(node_size).collect();
    let edges: Vec<(usize, usize)> = p.edges.iter().map(|e| (e.from, e.to)).collect();
    layout(&sizes, &edges)
}

const STYLE: &str = "\
.node rect{stroke:#444;stroke-width:1}\
.node text,.legend text{font-family:monospace;font-size:11px;fill:#111}\
.node.cut rect{stroke-dasharray:4 3}\
.node.finding rect{stroke:#111;stroke-width:2.5}\
.node.hl rect{stroke:#d7301f;stroke-width:4}\
.node.match rect{stroke:#2166ac;stroke-width:4}\
.node{cursor:pointer}\
.edge{fill:none;stroke:#666;stroke-width:1.2}\
.elabel{font-family:monospace;font-size:9px;fill:#555}\
.island{fill:#fdb86322;stroke-width:2;stroke-dasharray:7 4}\
.ilabel{font-family:monospace;font-size:11px;font-weight:bold}\
.badge circle{fill:#111}.badge text{fill:#fff;font-family:monospace;font-size:9px}\
.heading{font-family:monospace;font-size:13px;font-weight:bold}\
.summary{font-family:monospace;font-size:10px;fill:#444}\
";

fn class_css() -> String {
    let mut s = String::new();
    for c in NodeClass::ALL {
        let _ = write!(s, ".c-{} rect{{fill:{}}}", c.name(), class_color(c));
    }
    let _ = write!(
        s,
        ".island{{stroke:{ISLAND_COLOR}}}.ilabel{{fill:{ISLAND_COLOR}}}"
    );
    s
}

/// The legend row: one swatch per class, at (x, y).
fn legend(out: &mut String, x: f64, y: f64) {
    let _ = write!(out, "<g class=\"legend\">");
    let mut cx = x;
    for c in NodeClass::ALL {
        let label = class_label(c);
        let _ = write!(
            out,
            "<g class=\"legend-item c-{}\"><rect x=\"{cx:.1}\" y=\"{y:.1}\" width=\"14\" height=\"14\" rx=\"3\" stroke=\"#444\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            c.name(),
            cx + 18.0,
            y + 11.0,
            esc(label)
        );
        cx += 18.0 + label.len() as f64 * CHAR_W + 14.0;
    }
    let _ = write!(
        out,
        "<rect class=\"island\" x=\"{cx:.1}\" y=\"{:.1}\" width=\"26\" height=\"16\"/><text x=\"{:.1}\" y=\"{:.1}\">float island</text>",
        y - 1.0,
        cx + 30.0,
        y + 11.0
    );
    let _ = write!(out, "</g>");
}

/// A panel's island outlines, edges and nodes, at offset (ox, oy).
fn panel_body(out: &mut String, p: &PanelDraw, l: &Layout, ox: f64, oy: f64) {
    let at = |i: usize| -> Placed {
        let n = l.nodes.get(i).copied().unwrap_or(Placed {
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0,
        });
        Placed {
            x: n.x + ox,
            y: n.y + oy,
            ..n
        }
    };
    let _ = write!(out, "<g class=\"islands\">");
    for (title, members) in &p.islands {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, 0.0f64, 0.0f64);
        for &m in members {
            let n = at(m);
            x0 = x0.min(n.x - n.w / 2.0);
            y0 = y0.min(n.y - n.h / 2.0);
            x1 = x1.max(n.x + n.w / 2.0);
            y1 = y1.max(n.y + n.h / 2.0);
        }
        if !x0.is_finite() {
            continue;
        }
        let pad = 9.0;
        // The title goes left of the outline's top corner, clear of the
        // edge labels that sit right of the edges.
        let _ = write!(
            out,
            "<rect class=\"island\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"8\"/><text class=\"ilabel\" text-anchor=\"end\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x0 - pad,
            y0 - pad,
            x1 - x0 + 2.0 * pad,
            y1 - y0 + 2.0 * pad,
            x0 - pad - 4.0,
            y0 + 4.0,
            esc(title)
        );
    }
    let _ = write!(out, "</g><g class=\"edges\">");
    for e in &p.edges {
        let (a, b) = (at(e.from), at(e.to));
        let (x1, y1) = (a.x, a.y + a.h / 2.0);
        let (x2, y2) = (b.x, b.y - b.h / 2.0);
        let bend = ((y2 - y1).abs() / 2.0).max(20.0);
        let _ = write!(
            out,
            "<path class=\"edge\" marker-end=\"url(#arrow)\" d=\"M{x1:.1} {y1:.1}C{x1:.1} {:.1} {x2:.1} {:.1} {x2:.1} {y2:.1}\"/><text class=\"elabel\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y1 + bend,
            y2 - bend,
            (x1 + x2) / 2.0 + 4.0,
            (y1 + y2) / 2.0 + 3.0,
            esc(&e.label)
        );
    }
    let _ = write!(out, "</g><g class=\"nodes\">");
    for (i, n) in p.nodes.iter().enumerate() {
        let b = at(i);
        let mut class = format!("node c-{}", n.class.name());
        if n.cut {
            class.push_str(" cut");
        }
        if !n.findings.is_empty() {
            class.push_str(" finding");
        }
        let findings = n
            .findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let rx = if matches!(n.class, NodeClass::Input | NodeClass::Output) {
            b.h / 2.0
        } else {
            4.0
        };
        let _ = write!(
            out,
            "<g class=\"{class}\" id=\"{}\" data-findings=\"{findings}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{rx:.1}\"/>",
            esc(&n.id),
            esc(&n.title),
            b.x - b.w / 2.0,
            b.y - b.h / 2.0,
            b.w,
            b.h
        );
        for (k, line) in n.lines.iter().enumerate() {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                b.x - b.w / 2.0 + PAD_X,
                b.y - b.h / 2.0 + PAD_Y + LINE_H * (k as f64 + 1.0) - 3.0,
                esc(line)
            );
        }
        let mut bx = b.x + b.w / 2.0;
        for f in &n.findings {
            let _ = write!(
                out,
                "<g class=\"badge\"><circle cx=\"{bx:.1}\" cy=\"{:.1}\" r=\"8\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{f}</text></g>",
                b.y - b.h / 2.0,
                bx,
                b.y - b.h / 2.0 + 3.0
            );
            bx += 17.0;
        }
        let _ = write!(out, "</g>");
    }
    let _ = write!(out, "</g>");
}

const DEFS: &str = "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"#666\"/></marker></defs>";

/// A standalone SVG: legend, then the panels side by side.
pub(super) fn svg(doc: &Doc, w: &mut dyn Write) -> io::Result<()> {
    let layouts: Vec<Layout> = doc.panels.iter().map(lay_out).collect();
    let top = MARGIN + LEGEND_H + HEADING_H;
    let mut width = MARGIN;
    let mut height: f64 = 0.0;
    for (p, l) in doc.panels.iter().zip(&layouts) {
        width += gutter(p) + l.width.max(300.0) + GAP;
        height = height.max(l.height);
    }
    width = width - GAP + MARGIN;
    // Room for the legend, whatever the graph's size.
    width = width.max(1_150.0);
    height += top + MARGIN;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\"><title>{}</title><style>{STYLE}{}</style>{DEFS}<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>",
        esc(&doc.title),
        class_css()
    );
    legend(&mut out, MARGIN, MARGIN);
    let mut ox = MARGIN;
    for (p, l) in doc.panels.iter().zip(&layouts) {
        let _ = write!(
            out,
            "<g class=\"panel\"><text class=\"heading\" x=\"{ox:.1}\" y=\"{:.1}\">{}</text><text class=\"summary\" x=\"{ox:.1}\" y=\"{:.1}\">{}</text>",
            MARGIN + LEGEND_H,
            esc(&p.heading),
            MARGIN + LEGEND_H + 13.0,
            esc(&p.summary)
        );
        panel_body(&mut out, p, l, ox + gutter(p), top);
        let _ = write!(out, "</g>");
        ox += gutter(p) + l.width.max(300.0) + GAP;
    }
    out.push_str("</svg>\n");
    w.write_all(out.as_bytes())
}

/// One panel as an inline SVG of the HTML page (no namespace declaration:
/// HTML gives inline SVG its namespace).
fn inline_svg(out: &mut String, p: &PanelDraw, l: &Layout) {
    let left = MARGIN + gutter(p);
    let (width, height) = (l.width + left + MARGIN, l.height + 2.0 * MARGIN);
    let _ = write!(
        out,
        "<svg class=\"graph\" viewBox=\"0 0 {width:.0} {height:.0}\" data-width=\"{width:.0}\" data-height=\"{height:.0}\">{DEFS}"
    );
    panel_body(out, p, l, left, MARGIN);
    out.push_str("</svg>");
}

const PAGE_CSS: &str = "\
html,body{margin:0;height:100%;font-family:sans-serif;font-size:14px}\
#page{display:flex;height:100vh}\
#panels{flex:1;display:flex;min-width:0}\
.panel{flex:1;display:flex;flex-direction:column;min-width:0;border-right:1px solid #ccc}\
.panel h2{font-size:14px;margin:6px 8px 0 8px;font-family:monospace;overflow-wrap:anywhere}\
.panel p{font-size:12px;margin:2px 8px 4px 8px;color:#444}\
.panel svg{flex:1;width:100%;min-height:0;background:#fff;cursor:grab}\
aside{width:420px;overflow:auto;padding:8px 12px;border-left:1px solid #ccc;background:#fafafa}\
aside h2{font-size:15px;margin:10px 0 6px 0}\
#legend span{display:inline-block;margin:0 10px 4px 0;font-family:monospace;font-size:12px}\
#legend i{display:inline-block;width:12px;height:12px;border:1px solid #444;border-radius:2px;margin-right:4px;vertical-align:middle}\
#findings li{margin-bottom:8px;cursor:pointer;overflow-wrap:anywhere}\
#findings li.on{background:#fde0d4}\
#findings .sugg{color:#333;font-size:12px;margin-top:2px}\
#details pre{white-space:pre-wrap;font-size:11px;margin:0}\
.hint{color:#666;font-size:12px}\
button{font-size:12px}\
";

/// Pan (drag), zoom (wheel, around the pointer), fit, node details on
/// click, findings highlighted on every panel, counterparts linked.
const SCRIPT: &str = r##"
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("tflq-data").textContent);
  var svgs = Array.prototype.slice.call(document.querySelectorAll("svg.graph"));
  function point(svg, x, y) {
    var p = svg.createSVGPoint(); p.x = x; p.y = y;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  // At most this many graph units per screen pixel when the page opens or
  // jumps to a finding: further out, node labels are too small to read.
  var MAX_UNITS = 2;
  // Graph units per screen pixel that show `w` by `h` units, never
  // magnified past 1:1 nor shrunk past MAX_UNITS.
  function readable(r, w, h) {
    return Math.min(Math.max(w / r.width, h / r.height, 1), MAX_UNITS);
  }
  // The top of the graph, as wide as the panel if that stays readable;
  // else at the first input, where a reader starts.
  function fitWidth(svg) {
    var vb = svg.viewBox.baseVal, r = svg.getBoundingClientRect();
    var w = +svg.getAttribute("data-width"), h = +svg.getAttribute("data-height");
    if (!(r.width > 0 && r.height > 0)) { vb.x = 0; vb.y = 0; vb.width = w; vb.height = h; return; }
    var k = readable(r, w, 0);
    vb.width = r.width * k; vb.height = r.height * k;
    vb.x = (w - vb.width) / 2; vb.y = 0;
    if (vb.width < w) {
      var first = svg.querySelector("g.node.c-input") || svg.querySelector("g.node");
      var b = first ? first.getBBox() : { x: 0, width: 0 };
      vb.x = Math.max(0, Math.min(b.x + b.width / 2 - vb.width / 2, w - vb.width));
    }
  }
  function fitAll(svg) {
    var vb = svg.viewBox.baseVal;
    vb.x = 0; vb.y = 0;
    vb.width = +svg.getAttribute("data-width"); vb.height = +svg.getAttribute("data-height");
  }
  // Show all of `els` (nodes of `svg`) at a readable scale: centred on their
  // bounding box, or from its top-left corner when it does not fit.
  function centre(svg, els) {
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    els.forEach(function (el) {
      var b = el.getBBox();
      x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y);
      x1 = Math.max(x1, b.x + b.width); y1 = Math.max(y1, b.y + b.height);
    });
    if (!(x1 >= x0)) return;
    var vb = svg.viewBox.baseVal, r = svg.getBoundingClientRect(), pad = 40;
    if (r.width > 0 && r.height > 0) {
      var k = readable(r, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad);
      vb.width = r.width * k; vb.height = r.height * k;
    }
    vb.x = vb.width >= x1 - x0 + 2 * pad ? (x0 + x1 - vb.width) / 2 : x0 - pad;
    vb.y = vb.height >= y1 - y0 + 2 * pad ? (y0 + y1 - vb.height) / 2 : y0 - pad;
  }
  svgs.forEach(function (svg) {
    var drag = null, moved = false;
    fitWidth(svg);
    svg.addEventListener("wheel", function (e) {
      e.preventDefault();
      var k = e.deltaY < 0 ? 0.8 : 1.25, vb = svg.viewBox.baseVal, p = point(svg, e.clientX, e.clientY);
      vb.x = p.x - (p.x - vb.x) * k; vb.y = p.y - (p.y - vb.y) * k;
      vb.width *= k; vb.height *= k;
    }, { passive: false });
    svg.addEventListener("mousedown", function (e) {
      drag = point(svg, e.clientX, e.clientY); moved = false;
    });
    svg.addEventListener("mousemove", function (e) {
      if (!drag) return;
      var p = point(svg, e.clientX, e.clientY), vb = svg.viewBox.baseVal;
      if (Math.abs(p.x - drag.x) + Math.abs(p.y - drag.y) > 2) moved = true;
      vb.x -= p.x - drag.x; vb.y -= p.y - drag.y;
    });
    window.addEventListener("mouseup", function () { drag = null; });
    svg.addEventListener("click", function (e) {
      if (moved) return;
      var g = e.target.closest ? e.target.closest("g.node") : null;
      if (g) select(g.id);
    });
  });
  function clear() {
    document.querySelectorAll(".hl,.match").forEach(function (el) { el.classList.remove("hl", "match"); });
    document.querySelectorAll("#findings li.on").forEach(function (el) { el.classList.remove("on"); });
  }
  function select(id) {
    clear();
    var el = document.getElementById(id);
    if (el) el.classList.add("hl");
    (data.match[id] || []).forEach(function (m) {
      var o = document.getElementById(m);
      if (o) { o.classList.add("match"); centre(o.ownerSVGElement, [o]); }
    });
    var info = data.nodes[id] || [];
    var pre = document.createElement("pre");
    pre.textContent = info.join("\n");
    var d = document.getElementById("details");
    d.textContent = "";
    d.appendChild(pre);
    (el ? (el.getAttribute("data-findings") || "").split(" ") : []).forEach(function (f) {
      var li = document.getElementById("f" + f);
      if (li) li.classList.add("on");
    });
  }
  document.querySelectorAll("#findings li").forEach(function (li) {
    li.addEventListener("click", function () {
      clear();
      li.classList.add("on");
      // Each panel shows all of the finding's nodes it holds.
      var per = svgs.map(function () { return []; });
      (li.getAttribute("data-nodes") || "").split(" ").forEach(function (id) {
        var el = document.getElementById(id);
        if (!el) return;
        el.classList.add("hl");
        var i = svgs.indexOf(el.ownerSVGElement);
        if (i >= 0) per[i].push(el);
      });
      per.forEach(function (els, i) { if (els.length) centre(svgs[i], els); });
    });
  });
  // `page.html#f3` opens with finding 3 selected.
  var start = /^#f[0-9]+$/.test(location.hash) ? document.getElementById(location.hash.slice(1)) : null;
  if (start) start.click();
  document.getElementById("fit").addEventListener("click", function () { svgs.forEach(fitAll); });
  document.getElementById("top").addEventListener("click", function () { svgs.forEach(fitWidth); });
})();
"##;

/// JSON text made safe inside a `<script>` element read as HTML or XML:
/// `<`, `>` and `&` appear only inside JSON strings, where `\u003c` etc.
/// mean the same characters.
fn script_json(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

/// The self-contained HTML page.
pub(super) fn html(doc: &Doc, w: &mut dyn Write) -> io::Result<()> {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>{}</title><style>/*<![CDATA[*/{PAGE_CSS}{STYLE}{}/*]]>*/</style></head><body><div id=\"page\"><div id=\"panels\">",
        esc(&doc.title),
        class_css()
    );
    for p in &doc.panels {
        let l = lay_out(p);
        let _ = write!(
            out,
            "<section class=\"panel\"><h2>{}</h2><p>{}</p>",
            esc(&p.heading),
            esc(&p.summary)
        );
        inline_svg(&mut out, p, &l);
        out.push_str("</section>");
    }
    out.push_str("</div><aside><div id=\"legend\">");
    for c in NodeClass::ALL {
        let _ = write!(
            out,
            "<span><i style=\"background:{}\"></i>{}</span>",
            class_color(c),
            esc(class_label(c))
        );
    }
    let _ = write!(
        out,
        "<span><i style=\"border:2px dashed {ISLAND_COLOR}\"></i>float island</span></div><p class=\"hint\">Drag to pan, wheel to zoom, click a node for its tensors. <button id=\"top\" type=\"button\">fit width</button> <button id=\"fit\" type=\"button\">whole graph</button></p><h2>Findings</h2>"
    );
    if doc.marks.is_empty() {
        out.push_str("<p>None.</p>");
    } else {
        out.push_str("<ol id=\"findings\">");
        for (i, m) in doc.marks.iter().enumerate() {
            let _ = write!(
                out,
                "<li id=\"f{}\" data-nodes=\"{}\"><b>{}</b>: {}",
                i + 1,
                esc(&m.nodes.join(" ")),
                esc(&m.title),
                esc(&m.text)
            );
            if let Some(s) = &m.suggestion {
                let _ = write!(out, "<div class=\"sugg\">{}</div>", esc(s));
            }
            out.push_str("</li>");
        }
        out.push_str("</ol>");
    }
    out.push_str("<h2>Node</h2><div id=\"details\"><p class=\"hint\">Click a node to see its ops and the quantization of their tensors.</p></div></aside></div>");

    let mut nodes = serde_json::Map::new();
    for p in &doc.panels {
        for n in &p.nodes {
            nodes.insert(n.id.clone(), serde_json::json!(n.details));
        }
    }
    let mut matches: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (a, b) in &doc.matches {
        matches.entry(a).or_default().push(b);
        matches.entry(b).or_default().push(a);
    }
    let data = serde_json::json!({ "nodes": nodes, "match": matches });
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"tflq-data\">{}</script><script>//<![CDATA[{SCRIPT}//]]></script></body></html>",
        script_json(&data)
    );
    w.write_all(out.as_bytes())
}
