//! Analyses: pure functions from a [`Model`] to plain data. No printing and
//! no formatting here; [`crate::report`] turns the data into text.

#![deny(clippy::arithmetic_side_effects)]

pub mod graph_view;
pub mod quant;
pub mod summary;

use crate::model::{Model, SubgraphId};
use crate::producer::{self, Producer};
pub use quant::{
    Compute, Evidence, Finding, FindingKind, OpClass, OpInfo, Scheme, SchemeKind, SubgraphQuant,
};
pub use summary::Summary;

/// Everything `tflq inspect` shows about one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// Who wrote the file (decides how names are read).
    pub producer: Producer,
    /// Model-level facts.
    pub summary: Summary,
    /// The quantization scheme.
    pub scheme: Scheme,
    /// Per-subgraph op classification and findings, in subgraph order.
    pub subgraphs: Vec<SubgraphQuant>,
}

/// Analyse a model. Cost is linear in operators, tensors and edges.
pub fn inspect(model: &Model) -> Inspection {
    let producer = producer::detect(model);
    let subgraphs: Vec<SubgraphQuant> = (0..model.subgraphs.len())
        .map(|i| quant::analyze_subgraph(model, producer, SubgraphId(i as u32)))
        .collect();
    Inspection {
        producer,
        summary: summary::summarize(model),
        scheme: quant::scheme(model, producer, &subgraphs),
        subgraphs,
    }
}
