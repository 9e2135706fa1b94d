//! SVG and HTML of a graph [`Doc`]. The HTML page is also well-formed XML
//! (XHTML): its style and script sit in CDATA sections that browsers read
//! as comments, so tests and tools can parse it with an XML parser. It loads
//! nothing: no URL appears in it. Its script (`page.js`) and style
//! (`page.css`, and `graph.css`, the drawing's, which the SVG uses too) are
//! template files, included whole.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::layout::{Layout, Placed, layout};
use super::marks::{Group, Mark};
use super::outline::{self, BADGE_H, Badge, Index, Rect};
use super::{Doc, ISLAND_COLOR, NodeDraw, PanelDraw, class_color, class_label};
use crate::analysis::graph_view::NodeClass;
use crate::measure::ops::SCALE_COLORS;

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

/// The drawing's style; the page's layout; the page's script.
const GRAPH_CSS: &str = include_str!("graph.css");
const PAGE_CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Room left of a panel with float islands for their titles.
fn gutter(p: &PanelDraw) -> f64 {
    p.islands
        .iter()
        .map(|i| i.title.chars().count() as f64 * 7.5 + 16.0)
        .fold(0.0, f64::max)
}

/// A panel at its place in the drawing: node boxes, island outlines and
/// badges, all in the drawing's coordinates.
struct Placement {
    /// One box per node.
    boxes: Vec<Placed>,
    /// Outlines: (index into the panel's islands, rectangle), islands in order.
    outlines: Vec<(usize, Rect)>,
    /// The badges of each node.
    badges: Vec<Vec<Badge>>,
}

fn place(p: &PanelDraw, l: &Layout, ox: f64, oy: f64) -> Placement {
    let boxes: Vec<Placed> = (0..p.nodes.len())
        .map(|i| {
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
        })
        .collect();
    let index = Index::new(&boxes);
    let outlines = p
        .islands
        .iter()
        .enumerate()
        .flat_map(|(k, island)| {
            outline::island_pieces(&island.nodes, &index)
                .into_iter()
                .map(move |(r, _)| (k, r))
        })
        .collect();
    let badges = p
        .nodes
        .iter()
        .zip(&boxes)
        .map(|(n, b)| outline::badges(b, &n.findings))
        .collect();
    Placement {
        boxes,
        outlines,
        badges,
    }
}

fn class_css() -> String {
    let mut s = String::new();
    for c in NodeClass::ALL {
        let _ = write!(
            s,
            ".c-{0} rect,rect.c-{0}{{fill:{1}}}",
            c.name(),
            class_color(c)
        );
    }
    let _ = write!(
        s,
        ".island{{stroke:{ISLAND_COLOR}}}.ilabel{{fill:{ISLAND_COLOR}}}"
    );
    s
}

/// The style attribute of a node whose fill replaces its class colour.
fn fill_style(n: &NodeDraw) -> String {
    n.fill
        .as_deref()
        .map_or(String::new(), |f| format!(" style=\"fill:{f}\""))
}

/// The SQNR colouring's legend row at (x, y): the scale (an SVG gradient)
/// and its words. Returns its height.
fn sqnr_legend(out: &mut String, text: &str, x: f64, y: f64) -> f64 {
    let [red, yellow, green] = SCALE_COLORS;
    let _ = write!(
        out,
        "<g class=\"legend legend-sqnr\"><defs><linearGradient id=\"sqnr-scale\"><stop offset=\"0\" stop-color=\"{red}\"/><stop offset=\"0.5\" stop-color=\"{yellow}\"/><stop offset=\"1\" stop-color=\"{green}\"/></linearGradient></defs><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"60\" height=\"14\" rx=\"3\" stroke=\"#444\" fill=\"url(#sqnr-scale)\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
        x + 66.0,
        y + 11.0,
        esc(text)
    );
    LEGEND_ROW
}

/// A legend item's width: swatch, label, space.
fn legend_width(label: &str) -> f64 {
    18.0 + label.chars().count() as f64 * CHAR_W + 14.0
}

/// Height of a legend row.
const LEGEND_ROW: f64 = 20.0;

/// The legend at (x, y) in rows no wider than `width`: one swatch per
/// class, then the island outline. Returns its height.
fn legend(out: &mut String, x: f64, y: f64, width: f64) -> f64 {
    let labels: Vec<&str> = NodeClass::ALL
        .iter()
        .map(|c| class_label(*c))
        .chain(["float island"])
        .collect();
    let widths: Vec<f64> = labels.iter().map(|l| legend_width(l)).collect();
    let rows = outline::rows(&widths, 0.0, width);
    let _ = write!(out, "<g class=\"legend\">");
    for (r, row) in rows.iter().enumerate() {
        let ry = y + r as f64 * LEGEND_ROW;
        let mut cx = x;
        for &i in row {
            match NodeClass::ALL.get(i) {
                Some(c) => {
                    let _ = write!(
                        out,
                        "<g class=\"legend-item c-{}\"><rect x=\"{cx:.1}\" y=\"{ry:.1}\" width=\"14\" height=\"14\" rx=\"3\" stroke=\"#444\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                        c.name(),
                        cx + 18.0,
                        ry + 11.0,
                        esc(labels[i])
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<rect class=\"island\" x=\"{cx:.1}\" y=\"{:.1}\" width=\"14\" height=\"16\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                        ry - 1.0,
                        cx + 18.0,
                        ry + 11.0,
                        esc(labels[i])
                    );
                }
            }
            cx += widths[i];
        }
    }
    let _ = write!(out, "</g>");
    rows.len() as f64 * LEGEND_ROW
}

/// A badge: a pill with the finding's number.
fn badge(out: &mut String, b: &Badge) {
    let _ = write!(
        out,
        "<g class=\"badge\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{BADGE_H:.1}\" rx=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
        b.x - b.w / 2.0,
        b.y - BADGE_H / 2.0,
        b.w,
        BADGE_H / 2.0,
        b.x,
        b.y + 3.0,
        b.number
    );
}

/// A panel's island outlines, edges and nodes.
fn panel_body(out: &mut String, p: &PanelDraw, g: &Placement) {
    let at = |i: usize| -> Placed {
        g.boxes.get(i).copied().unwrap_or(Placed {
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0,
        })
    };
    let _ = write!(out, "<g class=\"islands\">");
    for &(k, r) in &g.outlines {
        let Some(island) = p.islands.get(k) else {
            continue;
        };
        // The title goes left of the outline's top corner, clear of the
        // edge labels that sit right of the edges.
        let _ = write!(
            out,
            "<g class=\"island-outline\" data-island=\"{}\"><rect class=\"island\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"8\"/><text class=\"ilabel\" text-anchor=\"end\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            k + 1,
            r.x0,
            r.y0,
            r.x1 - r.x0,
            r.y1 - r.y0,
            r.x0 - 4.0,
            r.y0 + outline::PAD + 4.0,
            esc(&island.title)
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
            "<g class=\"{class}\" id=\"{}\" data-findings=\"{findings}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{rx:.1}\"{}/>",
            esc(&n.id),
            esc(&n.title),
            b.x - b.w / 2.0,
            b.y - b.h / 2.0,
            b.w,
            b.h,
            fill_style(n)
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
        for bd in g.badges.get(i).into_iter().flatten() {
            badge(out, bd);
        }
        let _ = write!(out, "</g>");
    }
    let _ = write!(out, "</g>");
}

const DEFS: &str = "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"#666\"/></marker></defs>";

/// Characters of a findings key line.
const KEY_CHARS: usize = 88;
/// Width of the findings key.
const KEY_W: f64 = KEY_CHARS as f64 * CHAR_W + 40.0;
/// Height of a findings key line.
const KEY_LINE: f64 = 18.0;

/// `s` on one line of at most `max` characters, its end cut to `…`.
fn one_line(s: &str, max: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A finding's whole text: title, text, folded findings, suggestion.
fn full_text(m: &Mark) -> String {
    let mut s = format!("{}: {}", m.title, m.text);
    for f in &m.folded {
        let _ = write!(s, "\n{}: {}", f.title, f.text);
        if let Some(sugg) = &f.suggestion {
            let _ = write!(s, "\n{sugg}");
        }
    }
    if let Some(sugg) = &m.suggestion {
        let _ = write!(s, "\n{sugg}");
    }
    s
}

/// The findings key at (x, y): each badge number and its finding on one
/// line (the whole text as the line's tooltip), by group. Returns its height.
fn key(out: &mut String, marks: &[Mark], x: f64, y: f64) -> f64 {
    if marks.is_empty() {
        return 0.0;
    }
    let _ = write!(
        out,
        "<g class=\"key\"><text class=\"heading\" x=\"{x:.1}\" y=\"{:.1}\">Findings (the numbers on the nodes)</text>",
        y + 13.0
    );
    let mut cy = y + 13.0;
    let mut group = None;
    for (i, m) in marks.iter().enumerate() {
        if group != Some(m.group) {
            group = Some(m.group);
            cy += KEY_LINE + 4.0;
            let _ = write!(
                out,
                "<text class=\"group\" x=\"{x:.1}\" y=\"{cy:.1}\">{}</text>",
                esc(m.group.title())
            );
        }
        cy += KEY_LINE;
        let number = i + 1;
        let w = outline::badge_width(number);
        let _ = write!(
            out,
            "<g class=\"key-item\" id=\"k{number}\"><title>{}</title>",
            esc(&full_text(m))
        );
        badge(
            out,
            &Badge {
                x: x + 24.0 - w / 2.0,
                y: cy - 4.0,
                w,
                number,
            },
        );
        let line = format!("{}: {}", m.title, m.brief);
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{cy:.1}\">{}</text></g>",
            x + 30.0,
            esc(&one_line(&line, KEY_CHARS))
        );
    }
    out.push_str("</g>");
    cy + 8.0 - y
}

/// Narrowest standalone SVG: room for a few legend items a row.
const MIN_WIDTH: f64 = 640.0;

/// A standalone SVG: legend, then the panels side by side and the
/// findings key right of them.
pub(super) fn svg(doc: &Doc, w: &mut dyn Write) -> io::Result<()> {
    let layouts: Vec<Layout> = doc.panels.iter().map(lay_out).collect();
    let panel_w = |p: &PanelDraw, l: &Layout| gutter(p) + l.width.max(300.0);
    let panels_w: f64 = doc
        .panels
        .iter()
        .zip(&layouts)
        .map(|(p, l)| panel_w(p, l) + GAP)
        .sum::<f64>()
        - GAP;
    let key_x = MARGIN + panels_w + GAP;
    let key_w = if doc.marks.is_empty() {
        0.0
    } else {
        GAP + KEY_W
    };
    let width = (2.0 * MARGIN + panels_w + key_w).max(MIN_WIDTH);
    let mut body = String::new();
    let mut legend_h = legend(&mut body, MARGIN, MARGIN, width - 2.0 * MARGIN);
    if let Some(text) = &doc.sqnr_legend {
        legend_h += sqnr_legend(&mut body, text, MARGIN, MARGIN + legend_h);
    }
    let top = MARGIN + legend_h + 8.0 + HEADING_H;
    let key_h = key(&mut body, &doc.marks, key_x, MARGIN + legend_h + 8.0);
    let mut height = top + key_h - HEADING_H;
    let mut ox = MARGIN;
    for (p, l) in doc.panels.iter().zip(&layouts) {
        let _ = write!(
            body,
            "<g class=\"panel\"><text class=\"heading\" x=\"{ox:.1}\" y=\"{:.1}\">{}</text><text class=\"summary\" x=\"{ox:.1}\" y=\"{:.1}\">{}</text>",
            top - HEADING_H + 4.0,
            esc(&p.heading),
            top - HEADING_H + 17.0,
            esc(&p.summary)
        );
        let g = place(p, l, ox + gutter(p), top);
        panel_body(&mut body, p, &g);
        body.push_str("</g>");
        height = height.max(top + l.height);
        ox += panel_w(p, l) + GAP;
    }
    height += MARGIN;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\"><title>{}</title><style>{GRAPH_CSS}{}</style>{DEFS}<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>",
        esc(&doc.title),
        class_css()
    );
    out.push_str(&body);
    out.push_str("</svg>\n");
    w.write_all(out.as_bytes())
}

/// Minimap size the page gives, in screen pixels: width, then the height it
/// is drawn for (the page's height decides).
const MAP_W: f64 = 84.0;
const MAP_H: f64 = 760.0;
/// Width of the strip of finding marks right of the minimap's graph.
const MAP_STRIP: f64 = 18.0;

/// A panel's minimap: every node as a box of its colour, the island
/// outlines, a mark per finding beside the graph at its height, and the
/// frame of what the panel shows (placed by the page's script). Same
/// coordinates as the panel, stretched: a tall graph fills the minimap's
/// width and height whatever its shape, so that thousands of ops still
/// show as bands of colour; a wide one keeps its proportions, at the top.
fn minimap(out: &mut String, doc: &Doc, pi: usize, p: &PanelDraw, g: &Placement, size: (f64, f64)) {
    let (width, height) = size;
    // Pixels per graph unit, across and down.
    let kx = (MAP_W - MAP_STRIP) / width.max(1.0);
    let ky = (MAP_H / height.max(1.0)).min(kx);
    let (full_w, full_h) = (MAP_W / kx, MAP_H / ky);
    let _ = write!(
        out,
        "<svg class=\"minimap\" id=\"{}map\" viewBox=\"0 0 {full_w:.0} {full_h:.0}\" preserveAspectRatio=\"none\"><title>Overview: click or drag to go there; a mark right of it per finding (red: float islands)</title><g class=\"mm-nodes\">",
        p.prefix
    );
    for (n, b) in p.nodes.iter().zip(&g.boxes) {
        let _ = write!(
            out,
            "<rect class=\"c-{}\" x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\"{}/>",
            n.class.name(),
            b.x - b.w / 2.0,
            b.y - b.h / 2.0,
            b.w,
            b.h,
            fill_style(n)
        );
    }
    out.push_str("</g><g class=\"mm-islands\">");
    for (_, r) in &g.outlines {
        let _ = write!(
            out,
            "<rect class=\"mm-island\" vector-effect=\"non-scaling-stroke\" x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\"/>",
            r.x0,
            r.y0,
            r.x1 - r.x0,
            r.y1 - r.y0
        );
    }
    out.push_str("</g><g class=\"mm-marks\">");
    // Islands in the left lane, their outlines' heights; other findings in
    // the right lane, a tick per place; each at least a few pixels tall.
    let lane = (MAP_STRIP - 4.0) / 2.0 / kx;
    let least = 4.0 / ky;
    for (i, m) in doc.marks.iter().enumerate() {
        let spans: Vec<(f64, f64)> = match m.island {
            Some((mp, k)) if mp == pi => g
                .outlines
                .iter()
                .filter(|(o, _)| *o == k)
                .map(|(_, r)| (r.y0, r.y1))
                .collect(),
            Some(_) => Vec::new(),
            None => m
                .nodes
                .iter()
                .filter(|(mp, _)| *mp == pi)
                .filter_map(|&(_, n)| g.boxes.get(n))
                .map(|b| (b.y - b.h / 2.0, b.y + b.h / 2.0))
                .collect(),
        };
        let x = width
            + 2.0 / kx
            + if m.island.is_some() {
                0.0
            } else {
                lane + 1.0 / kx
            };
        for (y0, y1) in spans {
            let h = (y1 - y0).max(least);
            let _ = write!(
                out,
                "<rect class=\"mm-mark g-{}\" data-f=\"{}\" x=\"{x:.0}\" y=\"{:.0}\" width=\"{lane:.0}\" height=\"{h:.0}\"><title>{} {}</title></rect>",
                m.group.name(),
                i + 1,
                (y0 + y1 - h) / 2.0,
                i + 1,
                esc(&m.title)
            );
        }
    }
    out.push_str("</g><rect class=\"mm-view\" vector-effect=\"non-scaling-stroke\" x=\"0\" y=\"0\" width=\"0\" height=\"0\"/></svg>");
}

/// One panel as inline SVGs of the HTML page, its minimap and its graph
/// (no namespace declaration: HTML gives inline SVG its namespace).
fn inline_svg(out: &mut String, doc: &Doc, pi: usize, p: &PanelDraw) {
    let l = lay_out(p);
    let left = MARGIN + gutter(p);
    let g = place(p, &l, left, MARGIN);
    let (width, height) = (l.width + left + MARGIN, l.height + 2.0 * MARGIN);
    out.push_str("<div class=\"view\">");
    minimap(out, doc, pi, p, &g, (width, height));
    let _ = write!(
        out,
        "<svg class=\"graph\" id=\"{0}graph\" data-map=\"{0}map\" viewBox=\"0 0 {width:.0} {height:.0}\" data-width=\"{width:.0}\" data-height=\"{height:.0}\">{DEFS}",
        p.prefix
    );
    panel_body(out, p, &g);
    out.push_str("</svg></div>");
}

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

/// A finding of the list.
fn list_item(out: &mut String, doc: &Doc, number: usize, m: &Mark) {
    let _ = write!(
        out,
        "<li id=\"f{number}\" class=\"g-{}\" data-nodes=\"{}\"><b>{}</b>",
        m.group.name(),
        esc(&doc.mark_ids(m).join(" ")),
        esc(&m.title)
    );
    // An island in a few words (its ops as spans, however many); other
    // findings where they are, then in full.
    if m.group == Group::Island {
        let _ = write!(out, ": {}", esc(&m.brief));
    } else {
        if !m.at.is_empty() {
            let _ = write!(out, " <span class=\"at\">{}</span>", esc(&m.at));
        }
        let _ = write!(out, ": {}", esc(&m.text));
    }
    // Boundary quantizers in one line (their text in a tooltip); folded
    // advice whole.
    let (advice, boundary): (Vec<_>, Vec<_>) =
        m.folded.iter().partition(|f| f.suggestion.is_some());
    if !boundary.is_empty() {
        out.push_str("<div class=\"folded\">with ");
        for (k, f) in boundary.iter().enumerate() {
            let _ = write!(
                out,
                "{}<span title=\"{}\">{}</span>",
                if k == 0 { "" } else { ", " },
                esc(&f.text),
                esc(&f.title)
            );
        }
        out.push_str("</div>");
    }
    // Compare's advice, long, opens when the finding is selected.
    for f in advice {
        let _ = write!(
            out,
            "<details class=\"folded\"><summary><b>{}</b></summary>{}",
            esc(&f.title),
            esc(&f.text)
        );
        if let Some(s) = &f.suggestion {
            let _ = write!(out, "<div class=\"sugg\">{}</div>", esc(s));
        }
        out.push_str("</details>");
    }
    if let Some(s) = &m.suggestion {
        let _ = write!(
            out,
            "<details class=\"sugg\"><summary>what to change</summary>{}</details>",
            esc(s)
        );
    }
    out.push_str("</li>");
}

/// The findings, by group, numbered as the badges are.
fn findings(out: &mut String, doc: &Doc) {
    out.push_str("<div id=\"findings\"><h2>Findings</h2>");
    if doc.marks.is_empty() {
        out.push_str("<p>None.</p></div>");
        return;
    }
    out.push_str("<p class=\"hint\">Click one to show its nodes; the marks right of each minimap show where each is.</p>");
    let mut start = 0;
    while let Some(first) = doc.marks.get(start) {
        let group = first.group;
        let end = doc.marks[start..]
            .iter()
            .position(|m| m.group != group)
            .map_or(doc.marks.len(), |k| start + k);
        let _ = write!(
            out,
            "<h3>{} ({})</h3><ol start=\"{}\">",
            esc(group.title()),
            end - start,
            start + 1
        );
        for (i, m) in doc.marks[start..end].iter().enumerate() {
            list_item(out, doc, start + i + 1, m);
        }
        out.push_str("</ol>");
        start = end;
    }
    out.push_str("</div>");
}

/// The self-contained HTML page: the panels, each with its minimap; beside
/// them the legend, the clicked node's details and the findings.
pub(super) fn html(doc: &Doc, w: &mut dyn Write) -> io::Result<()> {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>{}</title><style>/*<![CDATA[*/{PAGE_CSS}{GRAPH_CSS}{}/*]]>*/</style></head><body><div id=\"page\"><div id=\"panels\">",
        esc(&doc.title),
        class_css()
    );
    for (pi, p) in doc.panels.iter().enumerate() {
        let _ = write!(
            out,
            "<section class=\"panel\"><h2>{}</h2><p>{}</p>",
            esc(&p.heading),
            esc(&p.summary)
        );
        inline_svg(&mut out, doc, pi, p);
        out.push_str("</section>");
    }
    out.push_str("</div><aside><div id=\"top\"><div id=\"legend\">");
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
        "<span><i style=\"border:2px dashed {ISLAND_COLOR}\"></i>float island</span>{}</div><p class=\"hint\">Drag to pan, wheel to zoom, click a node for its tensors, click or drag the minimap to go there. <button id=\"width\" type=\"button\">fit width</button> <button id=\"fit\" type=\"button\">whole graph</button>",
        doc.sqnr_legend.as_deref().map_or(String::new(), |t| {
            // The scale's colours, low to high, as a CSS gradient.
            let [red, yellow, green] = SCALE_COLORS;
            format!(
                "<span class=\"sqnr\"><i style=\"width:60px;background:linear-gradient(90deg,{red},{yellow},{green})\"></i>{}</span>",
                esc(t)
            )
        })
    );
    if doc.panels.len() == 2 {
        out.push_str(" <label><input id=\"link\" type=\"checkbox\" checked=\"checked\"/> sides follow each other</label>");
    }
    out.push_str("</p></div><div id=\"node\"><h2>Node</h2><div id=\"details\"><p class=\"hint\">Click a node to see its ops and the quantization of their tensors.</p></div></div>");
    findings(&mut out, doc);
    out.push_str("</aside></div>");

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
        "<script type=\"application/json\" id=\"tflq-data\">{}</script><script>//<![CDATA[\n{SCRIPT}//]]></script></body></html>",
        script_json(&data)
    );
    w.write_all(out.as_bytes())
}
