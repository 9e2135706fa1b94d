//! Views of a PTQ and a QAT model side by side, as plain data for pictures:
//! which PTQ ops stand beside a view of the QAT model, and the neighbourhood
//! of each placement finding of a comparison in both models (the diagrams of
//! `tflq compare --format markdown`). The caller builds them from the
//! inspections and the comparison it made once, before any renderer runs;
//! [`crate::report::graph`] draws them.

use crate::analysis::graph_view::{GraphView, ViewOptions, build};
use crate::analysis::{Inspection, SubgraphQuant};
use crate::compare::{Comparison, Finding, SubgraphAlignment};
use crate::model::{Model, OpId};

/// Most nodes a neighbourhood view has.
pub const NEIGHBOURHOOD_NODES: usize = 40;

/// The PTQ ops aligned with the QAT ops `qat_view` shows: what a view of the
/// PTQ model beside it draws. Ascending, each once.
pub fn ptq_beside(qat_view: &GraphView, alignment: &SubgraphAlignment) -> Vec<OpId> {
    let mut ops: Vec<OpId> = alignment
        .matches
        .iter()
        .filter(|m| qat_view.node_of(m.qat).is_some())
        .map(|m| m.ptq)
        .collect();
    ops.sort_unstable();
    ops.dedup();
    ops
}

/// Where a finding of a comparison is, as views to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingView {
    /// Not drawn: not a placement finding, or its subgraph has no
    /// counterpart in the other model.
    Skip,
    /// The finding names no op, or the ops around it make more than
    /// [`NEIGHBOURHOOD_NODES`] nodes even with runs collapsed.
    TooLarge,
    /// Its neighbourhood.
    Drawn(Box<Neighbourhood>),
}

/// A placement finding's neighbourhood: the QAT ops it names and their
/// direct neighbours, and the PTQ ops beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbourhood {
    /// The view of the QAT model.
    pub qat: GraphView,
    /// The view of the PTQ model: the finding's PTQ ops and their
    /// neighbours, or else the counterparts of the QAT ops shown; `None`
    /// when there are none, or too many to draw.
    pub ptq: Option<GraphView>,
}

/// Where each finding of `c` is, in the comparison's order.
pub fn finding_views(
    ptq: (&Model, &Inspection),
    qat: (&Model, &Inspection),
    c: &Comparison,
) -> Vec<FindingView> {
    c.findings
        .iter()
        .map(|f| finding_view(ptq, qat, c, f))
        .collect()
}

fn finding_view(
    ptq: (&Model, &Inspection),
    qat: (&Model, &Inspection),
    c: &Comparison,
    f: &Finding,
) -> FindingView {
    let Some(alignment) = c.alignment.iter().find(|a| a.qat == f.subgraph) else {
        return FindingView::Skip;
    };
    let quants = (
        ptq.1.subgraphs.get(alignment.ptq.index()),
        qat.1.subgraphs.get(f.subgraph.index()),
    );
    let (Some(pq), Some(qq)) = quants else {
        return FindingView::Skip;
    };
    if !f.kind.is_placement() {
        return FindingView::Skip;
    }
    if f.qat_ops.is_empty() {
        return FindingView::TooLarge;
    }
    let Some(qv) = small(qat.0, qq, f.qat_ops.clone(), 1) else {
        return FindingView::TooLarge;
    };
    let pv = if f.ptq_ops.is_empty() {
        let beside = ptq_beside(&qv, alignment);
        (!beside.is_empty())
            .then(|| small(ptq.0, pq, beside, 0))
            .flatten()
    } else {
        small(ptq.0, pq, f.ptq_ops.clone(), 1)
    };
    FindingView::Drawn(Box::new(Neighbourhood { qat: qv, ptq: pv }))
}

/// The view of the ops within `depth` of `around`, every op drawn; else
/// with runs collapsed (the `around` ops kept); `None` when both have more
/// than [`NEIGHBOURHOOD_NODES`] nodes.
fn small(
    model: &Model,
    quant: &SubgraphQuant,
    around: Vec<OpId>,
    depth: usize,
) -> Option<GraphView> {
    let mut options = ViewOptions::new(quant.subgraph);
    options.min_run = 0;
    options.around = around;
    options.depth = depth;
    let view = build(model, quant, &options);
    if view.nodes.len() <= NEIGHBOURHOOD_NODES {
        return Some(view);
    }
    options.min_run = ViewOptions::MIN_RUN;
    options.keep = options.around.iter().copied().collect();
    let view = build(model, quant, &options);
    (view.nodes.len() <= NEIGHBOURHOOD_NODES).then_some(view)
}
