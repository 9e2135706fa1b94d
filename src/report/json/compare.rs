//! The document of `tflq compare`: the two models, the verdict, every
//! finding with its words, and the alignment.

use serde::Serialize;

use super::{
    JsonGranularity, JsonQatConfig, JsonReason, Params, compute, granularity, ids, json_reason,
    qat_config,
};
use crate::compare::{self, Comparison, Detail, FileRole, Removal, Side, SubgraphAlignment};
use crate::model::{DType, OpKind};

#[derive(Serialize)]
pub(crate) struct CompareFinding<'a> {
    kind: &'static str,
    severity: &'static str,
    subgraph: u32,
    qat_ops: Vec<u32>,
    ptq_ops: Vec<u32>,
    layer: Option<&'a str>,
    #[serde(flatten)]
    detail: CompareDetail,
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
                detail: detail(&f.detail),
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

#[derive(Serialize)]
#[serde(tag = "what")]
pub(crate) enum CompareRemoval {
    #[serde(rename = "requantize")]
    Requantize {
        from: Option<Params>,
        to: Option<Params>,
        scale_ratio: Option<f32>,
        same_scale_op: Option<(u32, String)>,
        producer_layer: Option<String>,
        consumer_layer: Option<String>,
    },
    #[serde(rename = "round-trip")]
    RoundTrip,
    #[serde(rename = "boundary")]
    Boundary { quantize: bool },
}

#[derive(Serialize)]
#[serde(tag = "detail")]
pub(crate) enum CompareDetail {
    #[serde(rename = "remove")]
    Remove(CompareRemoval),
    #[serde(rename = "add")]
    Add {
        op_kinds: Vec<String>,
        layers: Vec<String>,
        unsupported: Vec<(String, String)>,
        batchnorm_unfolded: bool,
        entries: Vec<u32>,
        exits: Vec<u32>,
        reads_graph_input: bool,
        ptq_compute: &'static str,
        whole_model: bool,
    },
    #[serde(rename = "range")]
    Range {
        qat_tensor: u32,
        ptq_tensor: u32,
        qat_range: (f32, f32),
        ptq_range: (f32, f32),
        ratio: f32,
        initial: bool,
    },
    #[serde(rename = "granularity")]
    Granularity {
        qat_weights: u32,
        ptq_weights: u32,
        qat: JsonGranularity,
        ptq: JsonGranularity,
    },
    #[serde(rename = "fusion")]
    Fusion {
        separate_in: &'static str,
        activation: String,
    },
    #[serde(rename = "structure")]
    Structure {
        side: &'static str,
        op_kinds: Vec<String>,
        layers: Vec<String>,
        batchnorm_unfolded: bool,
        fold_into: Vec<String>,
    },
    #[serde(rename = "width")]
    Width {
        ptq: &'static str,
        qat: &'static str,
    },
    #[serde(rename = "io")]
    Io {
        ptq: (Vec<DType>, Vec<DType>),
        qat: (Vec<DType>, Vec<DType>),
    },
}

pub(crate) fn detail(d: &Detail) -> CompareDetail {
    match d {
        Detail::Remove(r) => CompareDetail::Remove(match r {
            Removal::Requantize {
                from,
                to,
                same_scale_op,
                producer_layer,
                consumer_layer,
            } => CompareRemoval::Requantize {
                from: *from,
                to: *to,
                scale_ratio: crate::model::scale_ratio(*from, *to),
                same_scale_op: same_scale_op.as_ref().map(|(o, k)| (o.0, k.to_string())),
                producer_layer: producer_layer.clone(),
                consumer_layer: consumer_layer.clone(),
            },
            Removal::RoundTrip => CompareRemoval::RoundTrip,
            Removal::Boundary { quantize } => CompareRemoval::Boundary {
                quantize: *quantize,
            },
        }),
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
        } => CompareDetail::Add {
            op_kinds: op_kinds(kinds),
            layers: layers.clone(),
            unsupported: unsupported
                .iter()
                .map(|(l, k)| (l.clone(), k.to_string()))
                .collect(),
            batchnorm_unfolded: *batchnorm_unfolded,
            entries: ids(entries),
            exits: ids(exits),
            reads_graph_input: *reads_graph_input,
            ptq_compute: compute(*ptq_compute),
            whole_model: *whole_model,
        },
        Detail::Range {
            qat_tensor,
            ptq_tensor,
            qat_range,
            ptq_range,
            ratio,
            initial,
        } => CompareDetail::Range {
            qat_tensor: qat_tensor.0,
            ptq_tensor: ptq_tensor.0,
            qat_range: *qat_range,
            ptq_range: *ptq_range,
            ratio: *ratio,
            initial: *initial,
        },
        Detail::Granularity {
            qat_weights,
            ptq_weights,
            qat,
            ptq,
        } => CompareDetail::Granularity {
            qat_weights: qat_weights.0,
            ptq_weights: ptq_weights.0,
            qat: granularity(*qat),
            ptq: granularity(*ptq),
        },
        Detail::Fusion {
            separate_in,
            activation,
        } => CompareDetail::Fusion {
            separate_in: side(*separate_in),
            activation: activation.to_string(),
        },
        Detail::Structure {
            side: s,
            op_kinds: kinds,
            layers,
            batchnorm_unfolded,
            fold_into,
        } => CompareDetail::Structure {
            side: side(*s),
            op_kinds: op_kinds(kinds),
            layers: layers.clone(),
            batchnorm_unfolded: *batchnorm_unfolded,
            fold_into: fold_into.clone(),
        },
        Detail::Width { ptq, qat } => CompareDetail::Width {
            ptq: compute(*ptq),
            qat: compute(*qat),
        },
        Detail::Io { ptq, qat } => CompareDetail::Io {
            ptq: ptq.clone(),
            qat: qat.clone(),
        },
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
