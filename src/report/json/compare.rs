//! The document of `tflq compare`: the two models, the verdict, every
//! finding with its words, and the alignment.

use serde::Serialize;
use serde::ser::SerializeMap;

use super::{JsonQatConfig, JsonReason, compute, granularity, ids, json_reason, qat_config};
use crate::compare::{self, Comparison, Detail, FileRole, Removal, Side, SubgraphAlignment};
use crate::model::OpKind;

#[derive(Serialize)]
pub(crate) struct CompareFinding<'a> {
    kind: &'static str,
    severity: &'static str,
    subgraph: u32,
    qat_ops: Vec<u32>,
    ptq_ops: Vec<u32>,
    layer: Option<&'a str>,
    #[serde(flatten)]
    detail: CompareDetail<'a>,
    places: Vec<ComparePlace<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checked: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    causes: Vec<&'static str>,
    culprits: Vec<CompareCulprit<'a>>,
    message: String,
    suggestion: String,
}

#[derive(Serialize)]
pub(crate) struct ComparePlace<'a> {
    qat_ops: Vec<u32>,
    ptq_ops: Vec<u32>,
    layer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f32>,
}

#[derive(Serialize)]
pub(crate) struct CompareDoc<'a> {
    schema_version: u32,
    tool: &'static str,
    verdict: String,
    ptq: CompareModel<'a>,
    qat: CompareModel<'a>,
    comparable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    placement_matches: bool,
    same_network: bool,
    findings: Vec<CompareFinding<'a>>,
    alignment: CompareAlignment,
}

#[derive(Serialize)]
pub(crate) struct CompareModel<'a> {
    file: &'a str,
    role: &'static str,
    scheme: super::JsonSchemeKind,
}

#[derive(Serialize)]
pub(crate) struct CompareAlignment {
    subgraphs: Vec<CompareAlignedSubgraph>,
    unpaired_ptq_subgraphs: Vec<u32>,
    unpaired_qat_subgraphs: Vec<u32>,
}

fn role_id(r: FileRole) -> &'static str {
    match r {
        FileRole::Ptq(_) => "ptq",
        FileRole::Qat(_) => "qat",
        FileRole::NotInteger(_) => "not-integer",
    }
}

/// The words a comparison's document carries, written by its renderer.
pub(crate) struct CompareWords {
    /// The one-line verdict.
    pub(crate) verdict: String,
    /// Why the two cannot be compared, when they cannot.
    pub(crate) problem: Option<String>,
    /// Each finding's message and suggestion, in the comparison's order.
    pub(crate) findings: Vec<(String, String)>,
}

/// The document of `c`, a comparison of the models labelled `ptq_label`
/// and `qat_label`, with the renderer's `words`.
pub(crate) fn document<'a>(
    (ptq_label, qat_label): (&'a str, &'a str),
    c: &'a Comparison,
    words: CompareWords,
) -> CompareDoc<'a> {
    let model = |file: &'a str, r: FileRole| CompareModel {
        file,
        role: role_id(r),
        scheme: super::scheme_kind_object(r.scheme(), matches!(r, FileRole::Qat(_))),
    };
    CompareDoc {
        schema_version: crate::report::JSON_SCHEMA_VERSION,
        tool: super::TOOL,
        verdict: words.verdict,
        ptq: model(ptq_label, c.roles.0),
        qat: model(qat_label, c.roles.1),
        comparable: c.problem.is_none(),
        problem: words.problem,
        placement_matches: c.placement_matches(),
        same_network: c.same_network(),
        findings: c
            .findings
            .iter()
            .zip(words.findings)
            .map(|(f, (message, suggestion))| CompareFinding {
                kind: f.kind.name(),
                severity: f.severity.name(),
                subgraph: f.subgraph.0,
                qat_ops: ids(&f.qat_ops),
                ptq_ops: ids(&f.ptq_ops),
                layer: f.layer.as_deref(),
                detail: CompareDetail(&f.detail),
                places: f
                    .places
                    .iter()
                    .map(|p| ComparePlace {
                        qat_ops: ids(&p.qat_ops),
                        ptq_ops: ids(&p.ptq_ops),
                        layer: p.layer.as_deref(),
                        ratio: p.ratio,
                    })
                    .collect(),
                checked: f.checked,
                causes: f.causes.iter().map(|c| c.name()).collect(),
                culprits: f.culprits.iter().map(culprit).collect(),
                message,
                suggestion,
            })
            .collect(),
        alignment: CompareAlignment {
            subgraphs: c.alignment.iter().map(alignment).collect(),
            unpaired_ptq_subgraphs: c.unpaired_subgraphs.0.iter().map(|s| s.0).collect(),
            unpaired_qat_subgraphs: c.unpaired_subgraphs.1.iter().map(|s| s.0).collect(),
        },
    }
}

/// A layer whose annotation a compare finding asks to change.
#[derive(Serialize)]
pub(crate) struct CompareCulprit<'a> {
    layer: &'a str,
    action: &'static str,
    annotated: bool,
    folded_into: Option<&'a str>,
    config: Option<JsonQatConfig>,
    fallback: Option<JsonQatConfig>,
    calibrate: bool,
    twins: bool,
    reasons: Vec<JsonReason>,
}

pub(crate) fn culprit(c: &crate::advice::Culprit) -> CompareCulprit<'_> {
    CompareCulprit {
        layer: &c.layer,
        action: c.action.name(),
        annotated: c.annotated,
        folded_into: c.folded_into.as_deref(),
        config: c.config.map(qat_config),
        fallback: c.fallback.map(qat_config),
        calibrate: c.calibrate,
        twins: c.twins,
        reasons: c.reasons.iter().map(json_reason).collect(),
    }
}

pub(crate) fn side(s: Side) -> &'static str {
    match s {
        Side::Ptq => "ptq",
        Side::Qat => "qat",
    }
}

fn op_kinds(v: &[OpKind]) -> Vec<String> {
    v.iter().map(OpKind::to_string).collect()
}

/// A finding's detail as the format writes it, flattened into the finding:
/// `detail` names the variant (a removal adds `what`), its fields follow.
/// Written straight from [`Detail`], field by field, rather than copied into
/// a second enum of the same shape first.
pub(crate) struct CompareDetail<'a>(&'a Detail);

impl Serialize for CompareDetail<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.0 {
            Detail::Remove(r) => {
                m.serialize_entry("detail", "remove")?;
                removal(&mut m, r)?;
            }
            Detail::Add {
                op_kinds: kinds,
                layers,
                unsupported,
                batchnorm_unfolded,
                entries,
                exits,
                reads_graph_input,
                ptq_compute,
                whole_model,
            } => {
                let unsupported: Vec<(&str, String)> = unsupported
                    .iter()
                    .map(|(l, k)| (l.as_str(), k.to_string()))
                    .collect();
                m.serialize_entry("detail", "add")?;
                m.serialize_entry("op_kinds", &op_kinds(kinds))?;
                m.serialize_entry("layers", layers)?;
                m.serialize_entry("unsupported", &unsupported)?;
                m.serialize_entry("batchnorm_unfolded", batchnorm_unfolded)?;
                m.serialize_entry("entries", &ids(entries))?;
                m.serialize_entry("exits", &ids(exits))?;
                m.serialize_entry("reads_graph_input", reads_graph_input)?;
                m.serialize_entry("ptq_compute", compute(*ptq_compute))?;
                m.serialize_entry("whole_model", whole_model)?;
            }
            Detail::Range {
                qat_tensor,
                ptq_tensor,
                qat_range,
                ptq_range,
                ratio,
                initial,
            } => {
                m.serialize_entry("detail", "range")?;
                m.serialize_entry("qat_tensor", &qat_tensor.0)?;
                m.serialize_entry("ptq_tensor", &ptq_tensor.0)?;
                m.serialize_entry("qat_range", qat_range)?;
                m.serialize_entry("ptq_range", ptq_range)?;
                m.serialize_entry("ratio", ratio)?;
                m.serialize_entry("initial", initial)?;
            }
            Detail::Granularity {
                qat_weights,
                ptq_weights,
                qat,
                ptq,
            } => {
                m.serialize_entry("detail", "granularity")?;
                m.serialize_entry("qat_weights", &qat_weights.0)?;
                m.serialize_entry("ptq_weights", &ptq_weights.0)?;
                m.serialize_entry("qat", &granularity(*qat))?;
                m.serialize_entry("ptq", &granularity(*ptq))?;
            }
            Detail::Fusion {
                separate_in,
                activation,
            } => {
                m.serialize_entry("detail", "fusion")?;
                m.serialize_entry("separate_in", side(*separate_in))?;
                m.serialize_entry("activation", &activation.to_string())?;
            }
            Detail::Structure {
                side: s,
                op_kinds: kinds,
                layers,
                batchnorm_unfolded,
                fold_into,
            } => {
                m.serialize_entry("detail", "structure")?;
                m.serialize_entry("side", side(*s))?;
                m.serialize_entry("op_kinds", &op_kinds(kinds))?;
                m.serialize_entry("layers", layers)?;
                m.serialize_entry("batchnorm_unfolded", batchnorm_unfolded)?;
                m.serialize_entry("fold_into", fold_into)?;
            }
            Detail::Width { ptq, qat } => {
                m.serialize_entry("detail", "width")?;
                m.serialize_entry("ptq", compute(*ptq))?;
                m.serialize_entry("qat", compute(*qat))?;
            }
            Detail::Io { ptq, qat } => {
                m.serialize_entry("detail", "io")?;
                m.serialize_entry("ptq", ptq)?;
                m.serialize_entry("qat", qat)?;
            }
        }
        m.end()
    }
}

/// A removal's `what` and fields, after the detail's tag.
fn removal<M: SerializeMap>(m: &mut M, r: &Removal) -> Result<(), M::Error> {
    match r {
        Removal::Requantize {
            from,
            to,
            same_scale_op,
            producer_layer,
            consumer_layer,
        } => {
            let same_scale_op = same_scale_op.as_ref().map(|(o, k)| (o.0, k.to_string()));
            m.serialize_entry("what", "requantize")?;
            m.serialize_entry("from", from)?;
            m.serialize_entry("to", to)?;
            m.serialize_entry("scale_ratio", &crate::model::scale_ratio(*from, *to))?;
            m.serialize_entry("same_scale_op", &same_scale_op)?;
            m.serialize_entry("producer_layer", producer_layer)?;
            m.serialize_entry("consumer_layer", consumer_layer)
        }
        Removal::RoundTrip => m.serialize_entry("what", "round-trip"),
        Removal::Boundary { quantize } => {
            m.serialize_entry("what", "boundary")?;
            m.serialize_entry("quantize", quantize)
        }
    }
}

#[derive(Serialize)]
pub(crate) struct CompareMatch {
    ptq: u32,
    qat: u32,
    evidence: &'static str,
}

#[derive(Serialize)]
pub(crate) struct CompareCoverage {
    matched: usize,
    ptq: usize,
    qat: usize,
}

#[derive(Serialize)]
pub(crate) struct CompareAlignedSubgraph {
    ptq: u32,
    qat: u32,
    matches: Vec<CompareMatch>,
    unmatched_ptq: Vec<u32>,
    unmatched_qat: Vec<u32>,
    compute: CompareCoverage,
}

pub(crate) fn alignment(a: &SubgraphAlignment) -> CompareAlignedSubgraph {
    CompareAlignedSubgraph {
        ptq: a.ptq.0,
        qat: a.qat.0,
        matches: a
            .matches
            .iter()
            .map(|m| CompareMatch {
                ptq: m.ptq.0,
                qat: m.qat.0,
                evidence: match m.evidence {
                    compare::Evidence::LayerName => "layer-name",
                    compare::Evidence::UniqueWeights => "unique-weights",
                    compare::Evidence::Order => "order",
                    compare::Evidence::Wire => "wire",
                },
            })
            .collect(),
        unmatched_ptq: ids(&a.unmatched_ptq),
        unmatched_qat: ids(&a.unmatched_qat),
        compute: CompareCoverage {
            matched: a.compute.matched,
            ptq: a.compute.ptq,
            qat: a.compute.qat,
        },
    }
}
