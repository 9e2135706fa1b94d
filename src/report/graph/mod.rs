//! Rendering of `tflq graph`: the op graph of a model (or of a PTQ and a QAT
//! model side by side) coloured by how each op computes, as SVG, a
//! self-contained HTML page, Graphviz DOT or Mermaid. The views come from
//! [`crate::analysis::graph_view`]; this module words and draws them. SVG and
//! HTML are laid out here (`layout.rs`); DOT and Mermaid leave layout to
//! their readers.
//!
//! What is drawn is decided before anything is written: `marks` decides
//! which findings are listed, grouped and folded, and which nodes each
//! marks; `outline` the island outlines, badge places and legend rows from
//! the layout. The writers (`svg`, `text`) only format those decisions; the
//! page's script and style are the template files `page.js`, `page.css`
//! and `graph.css`.
//!
//! Every text is escaped for its format, numbers are written one fixed way
//! and nodes come in view order, so a model gives the same bytes every time.

pub mod layout;
mod marks;
mod outline;
mod svg;
mod text;

use std::io::{self, Write};

use super::compare::Where;
use crate::analysis::graph_view::{GraphView, NodeClass, NodeKind, ViewNode};
use crate::analysis::{Inspection, OpClass, SubgraphQuant};
use crate::compare::Comparison;
use crate::measure::View;
use crate::measure::ops::{NodeSqnr, OpSqnr, SCALE_COLORS, SCALE_DB, SqnrView};
use crate::model::{Model, OpId, Subgraph, TensorId};
use crate::pair_view::{FindingView, Neighbourhood};

/// Output formats of `tflq graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphFormat {
    /// A standalone SVG picture.
    Svg,
    /// One self-contained HTML page: the SVG with pan and zoom, node details
    /// on click and the findings beside it; no network access.
    Html,
    /// Graphviz DOT text.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// Every format, in the order `--help` lists them.
pub const FORMATS: [GraphFormat; 4] = [
    GraphFormat::Svg,
    GraphFormat::Html,
    GraphFormat::Dot,
    GraphFormat::Mermaid,
];

impl GraphFormat {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            GraphFormat::Svg => "svg",
            GraphFormat::Html => "html",
            GraphFormat::Dot => "dot",
            GraphFormat::Mermaid => "mermaid",
        }
    }
}

/// The fill colour of each class: an op class's [`op_color`](super::op_color),
/// white for the graph's inputs and outputs.
pub(crate) fn class_color(c: NodeClass) -> &'static str {
    c.op_class().map_or("#ffffff", super::op_color)
}

/// What the legend says a class is: QUANTIZE and DEQUANTIZE by their op
/// names, the rest as [`NodeClass::name`] with spaces.
pub(crate) fn class_label(c: NodeClass) -> &'static str {
    match c {
        NodeClass::Op(OpClass::Quantize) => "QUANTIZE",
        NodeClass::Op(OpClass::Dequantize) => "DEQUANTIZE",
        NodeClass::Op(OpClass::TypeConversion) => "type conversion",
        NodeClass::Op(OpClass::ConstantDequantize) => "constant DEQUANTIZE",
        other => other.name(),
    }
}

/// Colour of float-island outlines and of highlighted findings.
pub(crate) const ISLAND_COLOR: &str = "#d7301f";

/// One model's view to draw.
#[derive(Debug, Clone, Copy)]
pub struct Panel<'a> {
    /// The model.
    pub model: &'a Model<'a>,
    /// The analysis of the view's subgraph.
    pub quant: &'a SubgraphQuant,
    /// The view.
    pub view: &'a GraphView,
    /// The file, as the user named it.
    pub label: &'a str,
    /// Colour the op nodes by a measurement's SQNR instead of by how they
    /// compute (SVG and HTML).
    pub sqnr: Option<&'a SqnrView>,
}

/// Longest name line on a node (layers, tensors); longer names lose their
/// middle to `…`, since both ends tell layers apart (`model/block_3/…/Conv2D`).
/// Op names and run spans are never cut.
const LINE_CHARS: usize = 30;

fn cut(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    let keep = max.saturating_sub(1);
    let head = keep / 2;
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// `dtype [shape]` of a tensor: an edge's label.
fn tensor_label(sg: &Subgraph, t: TensorId) -> String {
    let tensor = sg.tensor(t);
    format!("{} {}", tensor.dtype, super::shape(tensor))
}

/// An op's name: `CONV_2D` or `CONV_2D+RELU` with a fused activation.
fn op_name(sg: &Subgraph, op: OpId) -> String {
    let o = sg.op(op);
    match o.activation {
        Some(a) if a != crate::model::Activation::None => format!("{}+{}", o.kind, a.name()),
        _ => o.kind.to_string(),
    }
}

/// A node as drawn.
#[derive(Debug, Clone)]
struct NodeDraw {
    /// Element id, unique in the document (`n3`, `q-n3`).
    id: String,
    class: NodeClass,
    /// One or two lines of label.
    lines: Vec<String>,
    /// Tooltip: the full, uncut text.
    title: String,
    /// Neighbours out of view.
    cut: bool,
    /// Findings (1-based numbers) that name its ops.
    findings: Vec<usize>,
    /// Details shown on click: ops with their tensors' quantization.
    details: Vec<String>,
    /// The fill that replaces its class colour (SQNR colouring).
    fill: Option<String>,
}

#[derive(Debug, Clone)]
struct EdgeDraw {
    from: usize,
    to: usize,
    label: String,
}

/// A float island to outline.
#[derive(Debug, Clone)]
struct IslandDraw {
    /// `float island 3`: 3 is its number in the findings list.
    title: String,
    /// Its number in the findings list (0 when the drawing lists none).
    number: usize,
    /// Its nodes, ascending.
    nodes: Vec<usize>,
}

#[derive(Debug, Clone)]
struct PanelDraw {
    /// Id prefix (`""`, `"p-"`, `"q-"`).
    prefix: &'static str,
    heading: String,
    summary: String,
    nodes: Vec<NodeDraw>,
    edges: Vec<EdgeDraw>,
    islands: Vec<IslandDraw>,
}

/// Everything a format needs.
#[derive(Debug, Clone)]
struct Doc {
    title: String,
    /// The legend of the SQNR colouring, when a panel has one.
    sqnr_legend: Option<String>,
    panels: Vec<PanelDraw>,
    /// Findings in list order: finding `i + 1` is `marks[i]`.
    marks: Vec<marks::Mark>,
    /// Pairs of element ids shown as counterparts (PTQ, QAT).
    matches: Vec<(String, String)>,
}

impl Doc {
    /// Element ids of the nodes a finding marks.
    fn mark_ids(&self, m: &marks::Mark) -> Vec<&str> {
        m.nodes
            .iter()
            .filter_map(|&(p, n)| self.panels.get(p)?.nodes.get(n))
            .map(|n| n.id.as_str())
            .collect()
    }
}

/// The file name of a model as the user named it: headings and titles
/// carry no directory, which would leak where a shared page was made.
fn file_name(label: &str) -> &str {
    std::path::Path::new(label)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(label)
}

fn tensor_detail(sg: &Subgraph, t: TensorId) -> String {
    let tensor = sg.tensor(t);
    let q = super::quant_brief(tensor, true);
    let constant = if tensor.is_constant() { " const" } else { "" };
    format!(
        "t{t} \"{}\" {}{} {}{}{}",
        tensor.name,
        tensor.dtype,
        constant,
        super::shape(tensor),
        if q.is_empty() { "" } else { " " },
        q
    )
}

fn node_draw(panel: &Panel<'_>, prefix: &'static str, index: usize, node: &ViewNode) -> NodeDraw {
    let sg = panel.model.subgraph(panel.view.subgraph);
    let (lines, title) = match &node.kind {
        NodeKind::Op(op) => op_lines(panel, sg, *op, node),
        NodeKind::Run(ops) => run_lines(panel, ops, node),
        NodeKind::Input(t) | NodeKind::Output(t) => {
            let what = if matches!(node.kind, NodeKind::Input(_)) {
                "input"
            } else {
                "output"
            };
            let name = sg.tensor(*t).name;
            (
                vec![what.to_owned(), cut(name, LINE_CHARS)],
                format!("{what} t{t} \"{name}\" {}", tensor_label(sg, *t)),
            )
        }
    };
    // A single op's first detail line already names it.
    let mut details = if matches!(node.kind, NodeKind::Op(_)) {
        Vec::new()
    } else {
        vec![title.clone()]
    };
    match &node.kind {
        NodeKind::Input(t) | NodeKind::Output(t) => details.push(tensor_detail(sg, *t)),
        _ => {
            for &op in node.ops() {
                op_details(panel, sg, op, &mut details);
            }
        }
    }
    let mut draw = NodeDraw {
        id: format!("{prefix}n{index}"),
        class: node.class,
        lines,
        title,
        cut: node.cut,
        findings: Vec::new(),
        details,
        fill: None,
    };
    if let Some(view) = panel.sqnr
        && !node.ops().is_empty()
    {
        sqnr_words(view.nodes.get(index).and_then(Option::as_ref), &mut draw);
    }
    draw
}

/// `21.50 dB local`, `exact` or `-inf dB accumulated`.
fn sqnr_text(v: &OpSqnr) -> String {
    let view = match v.view {
        View::Local => "local",
        View::Accumulated => "accumulated",
        View::Layerwise => "layer-wise",
    };
    if v.exact {
        format!("exact ({view})")
    } else if v.db <= -crate::measure::ops::EXACT_DB {
        format!("-inf dB {view}")
    } else {
        format!("{:.2} dB {view}", v.db)
    }
}

/// The fill of a position on the SQNR scale: red, yellow, green.
fn sqnr_color(position: f64) -> String {
    let rgb = |hex: &str| {
        [1, 3, 5].map(|i| {
            let channel = hex
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            f64::from(channel.unwrap_or(0))
        })
    };
    let [red, yellow, green] = SCALE_COLORS.map(rgb);
    let t = position.clamp(0.0, 1.0);
    let (a, b, f) = if t <= 0.5 {
        (red, yellow, t / 0.5)
    } else {
        (yellow, green, (t - 0.5) / 0.5)
    };
    let c = [0, 1, 2].map(|i| (a[i] + (b[i] - a[i]) * f).round().clamp(0.0, 255.0) as u8);
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Fill for an op node the measurement has no value for.
const UNMEASURED_FILL: &str = "#e6e6e6";

/// Word a node's SQNR into its fill, tooltip and details.
fn sqnr_words(v: Option<&NodeSqnr>, draw: &mut NodeDraw) {
    let Some(v) = v else {
        draw.fill = Some(UNMEASURED_FILL.to_owned());
        draw.title.push_str("; SQNR not measured");
        draw.details.push("SQNR: not measured".to_owned());
        return;
    };
    draw.fill = Some(sqnr_color(v.position));
    let text = sqnr_text(&v.worst);
    draw.title.push_str(&format!("; SQNR {text}"));
    if v.ops.len() > 1 {
        draw.title.push_str(&format!(" (worst, at #{})", v.op));
    }
    for (op, s) in &v.ops {
        let from = match s.row_op {
            Some(r) if r != *op => format!(", measured at #{r}"),
            _ => String::new(),
        };
        draw.details
            .push(format!("SQNR #{op}: {}{from}", sqnr_text(s)));
    }
}

/// The legend line of an SQNR colouring.
fn sqnr_legend(panels: &[&Panel<'_>]) -> Option<String> {
    let roles: Vec<&str> = panels
        .iter()
        .filter_map(|p| p.sqnr.map(|s| s.role.as_str()))
        .collect();
    if roles.is_empty() {
        return None;
    }
    let [lo, mid, hi] = SCALE_DB;
    Some(format!(
        "{} SQNR per op (local, else accumulated; a node shows its worst op): {lo} dB and below red, {mid} yellow, {hi} and above green; grey: not measured",
        roles.join(" and ")
    ))
}

/// The lines and title of one op's node: its index, name and the
/// subgraphs it runs; its layer.
fn op_lines(panel: &Panel<'_>, sg: &Subgraph, op: OpId, node: &ViewNode) -> (Vec<String>, String) {
    let layer_line = node.layer.as_deref().map(|l| cut(l, LINE_CHARS));
    // Control flow names the subgraphs it runs, for `--subgraph N`.
    let calls = &sg.op(op).calls;
    let called = if calls.is_empty() {
        String::new()
    } else {
        let ids: Vec<String> = calls.iter().map(|(_, s)| s.to_string()).collect();
        format!(" → {}", ids.join(", "))
    };
    let head = format!("#{op} {}{called}", op_name(sg, op));
    // How it runs, in inspect's words ([int8], [convert]).
    let runs = panel
        .quant
        .ops
        .get(op.index())
        .map_or("other", |i| i.compute.name());
    let title = match &node.layer {
        Some(l) => format!("{head} [{runs}] layer {l}"),
        None => format!("{head} [{runs}]"),
    };
    let title = if calls.is_empty() {
        title
    } else {
        let roles: Vec<String> = calls
            .iter()
            .map(|(r, s)| format!("{} subgraph {s}", r.name()))
            .collect();
        format!("{title}; runs {}", roles.join(", "))
    };
    (std::iter::once(head).chain(layer_line).collect(), title)
}

/// The lines and title of a collapsed run: its span, size and class, and
/// the layers it starts and ends in.
fn run_lines(panel: &Panel<'_>, ops: &[OpId], node: &ViewNode) -> (Vec<String>, String) {
    let (first, last) = (ops.first().copied(), ops.last().copied());
    let span = match (first, last) {
        (Some(a), Some(b)) => format!("#{a}..#{b}"),
        _ => String::new(),
    };
    let head = format!("{span} {} {} ops", ops.len(), class_label(node.class));
    let last_layer = last
        .and_then(|o| panel.quant.ops.get(o.index()))
        .and_then(|i| i.layer.as_deref());
    let layers = match (node.layer.as_deref(), last_layer) {
        (Some(a), Some(b)) if a != b => Some(format!("{a} … {b}")),
        (Some(a), _) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    let title = format!(
        "{head}, collapsed (--no-collapse shows each){}",
        layers
            .as_deref()
            .map_or(String::new(), |l| format!(": layers {l}"))
    );
    (
        std::iter::once(head)
            .chain(layers.map(|l| cut(&l, LINE_CHARS)))
            .collect(),
        title,
    )
}

/// One op's detail lines: kind, version, compute, layer, and each tensor.
fn op_details(panel: &Panel<'_>, sg: &Subgraph, op: OpId, details: &mut Vec<String>) {
    let o = sg.op(op);
    let compute = panel
        .quant
        .ops
        .get(op.index())
        .map_or("other", |i| i.compute.name());
    let layer = panel
        .quant
        .ops
        .get(op.index())
        .and_then(|i| i.layer.as_deref())
        .unwrap_or("-");
    details.push(format!(
        "#{op} {} v{} [{compute}] layer={layer}",
        op_name(sg, op),
        o.version
    ));
    for t in o.present_inputs() {
        details.push(format!("  in  {}", tensor_detail(sg, t)));
    }
    for &t in &o.outputs {
        details.push(format!("  out {}", tensor_detail(sg, t)));
    }
}

fn panel_draw(panel: &Panel<'_>, prefix: &'static str, heading: String) -> PanelDraw {
    let view = panel.view;
    let sg = panel.model.subgraph(view.subgraph);
    let nodes = view
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| node_draw(panel, prefix, i, n))
        .collect();
    let edges = view
        .edges
        .iter()
        .map(|e| EdgeDraw {
            from: e.from,
            to: e.to,
            label: tensor_label(sg, e.tensor),
        })
        .collect();
    let islands = view
        .islands
        .iter()
        .enumerate()
        .map(|(i, isl)| IslandDraw {
            title: format!("float island {}", i + 1),
            number: 0,
            nodes: isl.nodes.clone(),
        })
        .collect();
    let mut summary = format!(
        "subgraph {}: {} of {} ops in {} nodes",
        view.subgraph,
        view.shown_ops,
        view.total_ops,
        view.nodes.len()
    );
    if view.runs > 0 {
        summary += &format!(
            "; {} run(s) of integer ops collapsed (--no-collapse shows each op)",
            view.runs
        );
    }
    if !view.islands.is_empty() {
        summary += &format!("; {} float island(s) outlined", view.islands.len());
    }
    PanelDraw {
        prefix,
        heading,
        summary,
        nodes,
        edges,
        islands,
    }
}

/// Element ids of the nodes showing `ops` on `panel`, without repeats.
fn node_ids(view: &GraphView, prefix: &str, ops: &[OpId]) -> Vec<(usize, String)> {
    let mut seen: Vec<usize> = ops.iter().filter_map(|o| view.node_of(*o)).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.into_iter()
        .map(|n| (n, format!("{prefix}n{n}")))
        .collect()
}

/// Draw one model's view.
pub fn render(panel: &Panel<'_>, format: GraphFormat, w: &mut dyn Write) -> io::Result<()> {
    let name = file_name(panel.label);
    let heading = format!("{name} ({})", panel.view.subgraph);
    let mut panels = vec![panel_draw(panel, "", heading)];
    let marks = marks::one(panel);
    marks::number(&marks, &mut panels);
    let doc = Doc {
        title: format!("tflq graph {name}"),
        sqnr_legend: sqnr_legend(&[panel]),
        panels,
        marks,
        matches: Vec::new(),
    };
    write(&doc, format, w)
}

/// Draw a PTQ and a QAT model's views side by side, each comparison
/// finding marked on both and listed beside them, aligned ops linked.
pub fn render_pair(
    ptq: &Panel<'_>,
    qat: &Panel<'_>,
    c: &Comparison,
    format: GraphFormat,
    w: &mut dyn Write,
) -> io::Result<()> {
    let (pn, qn) = (file_name(ptq.label), file_name(qat.label));
    let mut panels = vec![
        panel_draw(ptq, "p-", format!("PTQ {pn}")),
        panel_draw(qat, "q-", format!("QAT {qn}")),
    ];
    let marks = marks::pair(ptq, qat, c);
    marks::number(&marks, &mut panels);
    let mut matches = Vec::new();
    if let Some(a) = c
        .alignment
        .iter()
        .find(|a| a.qat == qat.view.subgraph && a.ptq == ptq.view.subgraph)
    {
        let mut seen = std::collections::BTreeSet::new();
        for m in &a.matches {
            if let (Some(pn), Some(qn)) = (ptq.view.node_of(m.ptq), qat.view.node_of(m.qat))
                && seen.insert((pn, qn))
            {
                matches.push((format!("p-n{pn}"), format!("q-n{qn}")));
            }
        }
    }
    let doc = Doc {
        title: format!("tflq graph {pn} {qn}"),
        sqnr_legend: sqnr_legend(&[ptq, qat]),
        panels,
        marks,
        matches,
    };
    write(&doc, format, w)
}

/// Where each finding of `c` is, for the markdown of `tflq compare`
/// ([`super::compare::render_with_diagrams`]): a Mermaid diagram of each
/// placement finding's neighbourhood in both models, from the views the
/// caller built ([`crate::pair_view::finding_views`], one per finding).
pub fn where_diagrams(
    ptq: (&Model, &Inspection),
    qat: (&Model, &Inspection),
    c: &Comparison,
    views: &[FindingView],
) -> io::Result<Vec<Where>> {
    let mut out = Vec::with_capacity(views.len());
    for (f, view) in c.findings.iter().zip(views) {
        out.push(match view {
            FindingView::Skip => Where::Skip,
            FindingView::TooLarge => Where::TooLarge,
            FindingView::Drawn(n) => {
                let mut text = Vec::new();
                if finding_mermaid(ptq, qat, c, f, n, &mut text)? {
                    Where::Mermaid(String::from_utf8_lossy(&text).into_owned())
                } else {
                    Where::Skip
                }
            }
        });
    }
    Ok(out)
}

/// A small Mermaid flowchart of where a comparison finding is: its
/// neighbourhood's QAT view beside the PTQ view, the finding's ops
/// outlined. `false` (nothing written) when an inspection lacks a view's
/// subgraph.
fn finding_mermaid(
    ptq: (&Model, &Inspection),
    qat: (&Model, &Inspection),
    c: &Comparison,
    f: &crate::compare::Finding,
    n: &Neighbourhood,
    w: &mut dyn Write,
) -> io::Result<bool> {
    let qv = &n.qat;
    let Some(qquant) = qat.1.subgraphs.get(qv.subgraph.index()) else {
        return Ok(false);
    };
    let mut panels = Vec::new();
    let mut marked = Vec::new();
    let qp = Panel {
        model: qat.0,
        quant: qquant,
        view: qv,
        label: "QAT",
        sqnr: None,
    };
    let mut qd = panel_draw(&qp, "q-", "QAT".to_owned());
    for (n, _) in node_ids(qv, "q-", &f.qat_ops) {
        if let Some(d) = qd.nodes.get_mut(n) {
            d.findings.push(1);
        }
        marked.push((0, n));
    }
    panels.push(qd);
    let mut matches = Vec::new();
    if let Some(pv) = &n.ptq
        && let Some(pquant) = ptq.1.subgraphs.get(pv.subgraph.index())
    {
        let pp = Panel {
            model: ptq.0,
            quant: pquant,
            view: pv,
            label: "PTQ",
            sqnr: None,
        };
        let mut pd = panel_draw(&pp, "p-", "PTQ".to_owned());
        for (n, _) in node_ids(pv, "p-", &f.ptq_ops) {
            if let Some(d) = pd.nodes.get_mut(n) {
                d.findings.push(1);
            }
            marked.push((1, n));
        }
        panels.push(pd);
        let alignment = c
            .alignment
            .iter()
            .find(|a| a.qat == qv.subgraph && a.ptq == pv.subgraph);
        if let Some(a) = alignment {
            for m in &a.matches {
                if let (Some(pn), Some(qn)) = (pv.node_of(m.ptq), qv.node_of(m.qat)) {
                    matches.push((format!("p-n{pn}"), format!("q-n{qn}")));
                }
            }
        }
    }
    let doc = Doc {
        title: String::new(),
        sqnr_legend: None,
        panels,
        marks: vec![marks::Mark {
            group: marks::Group::Placement,
            title: f.kind.name().to_owned(),
            text: String::new(),
            brief: String::new(),
            suggestion: None,
            folded: Vec::new(),
            at: String::new(),
            nodes: marked,
            island: None,
        }],
        matches,
    };
    text::mermaid(&doc, w)?;
    Ok(true)
}

/// The longest Mermaid text Mermaid renders with its default configuration
/// (`maxTextSize`); GitHub's markdown renderer keeps that default.
pub const MERMAID_MAX_TEXT: usize = 50_000;

/// The most edges Mermaid draws in a flowchart with its default
/// configuration (`maxEdges`).
pub const MERMAID_MAX_EDGES: usize = 500;

/// The size of a Mermaid text as tflq writes it, against the limits past
/// which Mermaid renderers refuse to draw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MermaidSize {
    /// Characters of the whole text.
    pub chars: usize,
    /// Links, invisible ones (`~~~`) included: Mermaid counts those too.
    pub edges: usize,
}

impl MermaidSize {
    /// Measure `text`, a flowchart written by [`render`] or [`render_pair`]:
    /// each edge is on a line of its own, and the `~~~` line links panels.
    pub fn of(text: &str) -> MermaidSize {
        let edges = text
            .lines()
            .map(|l| {
                if l.contains(" -->|\"") {
                    1
                } else if l.contains(" ~~~ ") {
                    l.matches(" ~~~ ").count()
                } else {
                    0
                }
            })
            .sum();
        MermaidSize {
            chars: text.chars().count(),
            edges,
        }
    }

    /// Whether a renderer with Mermaid's default limits would refuse it.
    pub fn over_default_limits(&self) -> bool {
        self.chars > MERMAID_MAX_TEXT || self.edges > MERMAID_MAX_EDGES
    }
}

/// Most nodes a panel may have for SVG and HTML, which are laid out here.
/// The layout takes about a second at this size (0.84 s for a 20,000-op
/// chain, 1.45 s for 20,000 ops on one layer, release build) and grows
/// faster than the node count past it (12.8 s for 100,000). DOT and
/// Mermaid are laid out by their readers: tflq writes them at any size, but
/// Mermaid renderers refuse large texts ([`MermaidSize`]).
pub const MAX_LAYOUT_NODES: usize = 20_000;

fn write(doc: &Doc, format: GraphFormat, w: &mut dyn Write) -> io::Result<()> {
    if matches!(format, GraphFormat::Svg | GraphFormat::Html)
        && let Some(p) = doc.panels.iter().find(|p| p.nodes.len() > MAX_LAYOUT_NODES)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: {} nodes to draw, more than the {} that {} output lays out; draw part of the graph, or write DOT",
                p.heading,
                super::thousands(p.nodes.len() as u64),
                super::thousands(MAX_LAYOUT_NODES as u64),
                format.name()
            ),
        ));
    }
    match format {
        GraphFormat::Svg => svg::svg(doc, w),
        GraphFormat::Html => svg::html(doc, w),
        GraphFormat::Dot => text::dot(doc, w),
        GraphFormat::Mermaid => text::mermaid(doc, w),
    }
}
