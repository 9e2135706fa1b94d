//! Which findings a drawing lists, in which group and order, which fold into
//! a float island's entry, and which nodes each marks: decided here, as
//! data, before any format writes a character.
//!
//! The list reads islands first, then requantizes (and quantizers to
//! remove), then the other placement findings, then the rest. A float
//! island's single boundary QUANTIZE and DEQUANTIZE findings, and in a pair
//! compare's add-quantizer finding about that island alone, are folded into
//! the island's entry: the colours already show them, and a model with 30
//! islands would otherwise list a hundred lines.

use std::collections::BTreeSet;

use crate::analysis::graph_view::GraphView;
use crate::analysis::{Finding as QuantFinding, FindingKind};
use crate::compare::{Comparison, Kind};
use crate::model::OpId;

use super::{Panel, PanelDraw};

/// Where a finding is listed; groups come in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Group {
    /// Float islands.
    Island,
    /// Requantizes, type conversions, quantizers to remove.
    Quantizer,
    /// Other findings about where quantizers are.
    Placement,
    /// Everything else: ranges, granularity, spec breaks.
    Other,
}

impl Group {
    /// The heading the group is listed under.
    pub(super) fn title(self) -> &'static str {
        match self {
            Group::Island => "Float islands",
            Group::Quantizer => "Requantizes and quantizers to remove",
            Group::Placement => "Other placement findings",
            Group::Other => "Other findings",
        }
    }

    /// The kebab-case name, a CSS class (`g-island`).
    pub(super) fn name(self) -> &'static str {
        match self {
            Group::Island => "island",
            Group::Quantizer => "quantizer",
            Group::Placement => "placement",
            Group::Other => "other",
        }
    }

    fn of_quant(kind: &FindingKind) -> Group {
        match kind {
            FindingKind::FloatIsland { .. } => Group::Island,
            FindingKind::Requantize { .. } | FindingKind::TypeConversion { .. } => Group::Quantizer,
            k if k.is_spec_break() => Group::Other,
            _ => Group::Placement,
        }
    }

    fn of_compare(kind: Kind) -> Group {
        match kind {
            Kind::RemoveQuantizer => Group::Quantizer,
            Kind::AddQuantizer | Kind::StructureMismatch | Kind::FusionMismatch => Group::Placement,
            Kind::WidthMismatch
            | Kind::RangeUntrained
            | Kind::RangeClipping
            | Kind::RangeWide
            | Kind::GranularityMismatch => Group::Other,
        }
    }
}

/// A finding folded into an island's entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Folded {
    pub title: String,
    pub text: String,
    pub suggestion: Option<String>,
}

/// A finding listed beside the graph and marked on it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Mark {
    pub group: Group,
    /// `float-island (bn1)`, `add-quantizer float-compute (bn1)`.
    pub title: String,
    pub text: String,
    /// The finding in a few words, for one line of the SVG's key.
    pub brief: String,
    pub suggestion: Option<String>,
    pub folded: Vec<Folded>,
    /// Where it is: the ops of the main panel (the QAT one of a pair) as
    /// spans, `#20..#22, #31..#33`.
    pub at: String,
    /// The nodes it marks: (panel, node index), ascending, without repeats.
    pub nodes: Vec<(usize, usize)>,
    /// The island it lists: (panel, index into the panel's islands).
    pub island: Option<(usize, usize)>,
}

/// Ops as spans of consecutive indices: `#3..#5, #9`; past four spans, `…`.
pub(super) fn spans(ops: &[OpId]) -> String {
    let mut sorted: Vec<u32> = ops.iter().map(|o| o.0).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for o in sorted {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(o) => *end = o,
            _ => runs.push((o, o)),
        }
    }
    let mut parts: Vec<String> = runs
        .iter()
        .take(4)
        .map(|&(a, b)| {
            if a == b {
                format!("#{a}")
            } else {
                format!("#{a}..#{b}")
            }
        })
        .collect();
    if runs.len() > 4 {
        parts.push("…".to_owned());
    }
    parts.join(", ")
}

/// Nodes of `view` showing `ops`, as (panel, node).
fn nodes_of(view: &GraphView, panel: usize, ops: &[OpId]) -> Vec<(usize, usize)> {
    ops.iter()
        .filter_map(|o| view.node_of(*o))
        .map(|n| (panel, n))
        .collect()
}

fn titled(kind: &str, layer: Option<&str>) -> String {
    match layer {
        Some(l) => format!("{kind} ({l})"),
        None => kind.to_owned(),
    }
}

/// An island's own ops and the QUANTIZE/DEQUANTIZE ops around it.
fn island_ops(f: &QuantFinding) -> (Vec<OpId>, BTreeSet<OpId>) {
    let mut boundary = BTreeSet::new();
    if let FindingKind::FloatIsland { entries, exits, .. } = &f.kind {
        boundary.extend(entries.iter().chain(exits).copied());
    }
    (f.ops.clone(), boundary)
}

/// The entry of island `k` of `panel` (index `p` among the drawing's
/// panels), marking its ops and boundary.
fn island_mark(panel: &Panel<'_>, p: usize, k: usize) -> Option<(Mark, BTreeSet<OpId>)> {
    let island = panel.view.islands.get(k)?;
    let f = panel.quant.findings.get(island.finding)?;
    let sg = panel.model.subgraph(panel.view.subgraph);
    let (ops, boundary) = island_ops(f);
    let all: Vec<OpId> = ops.iter().chain(&boundary).copied().collect();
    let mark = Mark {
        group: Group::Island,
        title: titled(f.kind.name(), f.layer.as_deref()),
        text: super::super::inspect::describe(sg, f),
        brief: island_brief(f),
        suggestion: None,
        folded: Vec::new(),
        at: spans(&ops),
        nodes: nodes_of(panel.view, p, &all),
        island: Some((p, k)),
    };
    let mut members: BTreeSet<OpId> = ops.into_iter().collect();
    members.extend(boundary);
    Some((mark, members))
}

/// `3 float op(s) #3..#5, from DEQUANTIZE #2, to QUANTIZE #6`.
fn island_brief(f: &QuantFinding) -> String {
    let mut s = format!("{} float op(s) {}", f.ops.len(), spans(&f.ops));
    if let FindingKind::FloatIsland {
        entries,
        exits,
        from_graph_input,
        to_graph_output,
    } = &f.kind
    {
        let mut from: Vec<String> = Vec::new();
        if !entries.is_empty() {
            from.push(format!("DEQUANTIZE {}", spans(entries)));
        }
        if *from_graph_input {
            from.push("the graph input".to_owned());
        }
        let mut to: Vec<String> = Vec::new();
        if !exits.is_empty() {
            to.push(format!("QUANTIZE {}", spans(exits)));
        }
        if *to_graph_output {
            to.push("the graph output".to_owned());
        }
        if !from.is_empty() {
            s += &format!(", from {}", from.join(" and "));
        }
        if !to.is_empty() {
            s += &format!(", to {}", to.join(" and "));
        }
    }
    s
}

/// A single-op QUANTIZE or DEQUANTIZE finding: what an island's boundary is.
fn boundary_quantizer(f: &QuantFinding) -> Option<OpId> {
    match (&f.kind, f.ops.as_slice()) {
        (
            FindingKind::Quantize { .. }
            | FindingKind::QuantizeInput { .. }
            | FindingKind::Dequantize { .. }
            | FindingKind::DequantizeOutput { .. },
            [op],
        ) => Some(*op),
        _ => None,
    }
}

/// The list for one model: the analysis findings with an op in view.
pub(super) fn one(panel: &Panel<'_>) -> Vec<Mark> {
    let sg = panel.model.subgraph(panel.view.subgraph);
    let mut islands: Vec<(Mark, BTreeSet<OpId>)> = (0..panel.view.islands.len())
        .filter_map(|k| island_mark(panel, 0, k))
        .collect();
    let own: BTreeSet<usize> = panel.view.islands.iter().map(|i| i.finding).collect();
    let mut rest = Vec::new();
    for (i, f) in panel.quant.findings.iter().enumerate() {
        if own.contains(&i) || !f.ops.iter().any(|o| panel.view.node_of(*o).is_some()) {
            continue;
        }
        let title = titled(f.kind.name(), f.layer.as_deref());
        let text = super::super::inspect::describe(sg, f);
        let home = boundary_quantizer(f)
            .and_then(|op| islands.iter_mut().find(|(_, ops)| ops.contains(&op)));
        if let Some((island, _)) = home {
            island.folded.push(Folded {
                title,
                text,
                suggestion: None,
            });
            continue;
        }
        rest.push(Mark {
            group: Group::of_quant(&f.kind),
            title,
            brief: text.clone(),
            text,
            suggestion: None,
            folded: Vec::new(),
            at: spans(&f.ops),
            nodes: nodes_of(panel.view, 0, &f.ops),
            island: None,
        });
    }
    ordered(islands.into_iter().map(|(m, _)| m).chain(rest).collect())
}

/// The list for a pair (panel 0 the PTQ model, 1 the QAT one): the QAT
/// model's islands, then the PTQ model's, each with its counterparts on the
/// other side; then compare's findings about the QAT subgraph drawn.
pub(super) fn pair(ptq: &Panel<'_>, qat: &Panel<'_>, c: &Comparison) -> Vec<Mark> {
    let alignment = c
        .alignment
        .iter()
        .find(|a| a.qat == qat.view.subgraph && a.ptq == ptq.view.subgraph);
    // Counterparts of `ops` of panel `p` on the other panel.
    let across = |p: usize, ops: &BTreeSet<OpId>| -> Vec<(usize, usize)> {
        let Some(a) = alignment else {
            return Vec::new();
        };
        a.matches
            .iter()
            .filter_map(|m| {
                if p == 1 && ops.contains(&m.qat) {
                    ptq.view.node_of(m.ptq).map(|n| (0, n))
                } else if p == 0 && ops.contains(&m.ptq) {
                    qat.view.node_of(m.qat).map(|n| (1, n))
                } else {
                    None
                }
            })
            .collect()
    };
    let mut islands: Vec<(Mark, BTreeSet<OpId>)> = Vec::new();
    for (p, panel) in [(1, qat), (0, ptq)] {
        for k in 0..panel.view.islands.len() {
            if let Some((mut mark, ops)) = island_mark(panel, p, k) {
                mark.nodes.extend(across(p, &ops));
                islands.push((mark, ops));
            }
        }
    }
    let mut rest = Vec::new();
    for f in c
        .findings
        .iter()
        .filter(|f| f.subgraph == qat.view.subgraph)
    {
        let title = match &f.layer {
            Some(l) => format!("{} {} ({l})", f.kind.name(), f.severity.name()),
            None => format!("{} {}", f.kind.name(), f.severity.name()),
        };
        let text = super::super::compare::message(f);
        let suggestion = Some(super::super::compare::suggestion(f));
        let mut nodes = nodes_of(qat.view, 1, &f.qat_ops);
        nodes.extend(nodes_of(ptq.view, 0, &f.ptq_ops));
        // Float compute about one QAT island only: that island's advice.
        let home = (f.kind == Kind::AddQuantizer && !f.qat_ops.is_empty())
            .then(|| {
                islands.iter_mut().find(|(m, ops)| {
                    m.island.is_some_and(|(p, _)| p == 1)
                        && f.qat_ops.iter().all(|o| ops.contains(o))
                })
            })
            .flatten();
        if let Some((island, _)) = home {
            island.folded.push(Folded {
                title,
                text,
                suggestion,
            });
            island.nodes.extend(nodes);
            continue;
        }
        let at = if f.qat_ops.is_empty() {
            format!("PTQ {}", spans(&f.ptq_ops))
        } else {
            spans(&f.qat_ops)
        };
        rest.push(Mark {
            group: Group::of_compare(f.kind),
            title,
            brief: text.clone(),
            text,
            suggestion,
            folded: Vec::new(),
            at,
            nodes,
            island: None,
        });
    }
    ordered(islands.into_iter().map(|(m, _)| m).chain(rest).collect())
}

/// Marks in list order (by group, stably), their nodes sorted and unique.
fn ordered(mut marks: Vec<Mark>) -> Vec<Mark> {
    marks.sort_by_key(|m| m.group);
    for m in &mut marks {
        m.nodes.sort_unstable();
        m.nodes.dedup();
    }
    marks
}

/// Number the marks in list order (from 1): give each marked node the
/// numbers of its findings, and each listed island its label.
pub(super) fn number(marks: &[Mark], panels: &mut [PanelDraw]) {
    for (i, m) in marks.iter().enumerate() {
        let number = i + 1;
        for &(p, n) in &m.nodes {
            if let Some(node) = panels.get_mut(p).and_then(|d| d.nodes.get_mut(n)) {
                node.findings.push(number);
            }
        }
        if let Some((p, k)) = m.island
            && let Some(island) = panels.get_mut(p).and_then(|d| d.islands.get_mut(k))
        {
            island.number = number;
            island.title = format!("float island {number}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_join_consecutive_ops() {
        let ops = |v: &[u32]| v.iter().map(|&o| OpId(o)).collect::<Vec<_>>();
        assert_eq!(spans(&ops(&[22, 20, 21, 31, 32, 33])), "#20..#22, #31..#33");
        assert_eq!(spans(&ops(&[5])), "#5");
        assert_eq!(spans(&ops(&[1, 3, 5, 7, 9])), "#1, #3, #5, #7, …");
        assert_eq!(spans(&[]), "");
    }

    #[test]
    fn groups_list_islands_first() {
        assert!(Group::Island < Group::Quantizer);
        assert!(Group::Quantizer < Group::Placement);
        assert!(Group::Placement < Group::Other);
        assert_eq!(Group::of_compare(Kind::RemoveQuantizer), Group::Quantizer);
        assert_eq!(Group::of_compare(Kind::RangeWide), Group::Other);
    }
}
