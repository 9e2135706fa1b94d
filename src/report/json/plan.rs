//! The document of `tflq plan`: per layer, its action, reasons, configs and
//! facts.

use serde::Serialize;

use super::{
    JsonQatConfig, JsonReason, JsonSchemeKind, json_reason, qat_config, scheme_kind_object,
};
use crate::advice::Plan;
use crate::model::{Granularity, OpKind};

#[derive(Serialize)]
pub(crate) struct PlanDoc<'a> {
    schema_version: u32,
    tool: &'static str,
    file: &'a str,
    producer: &'static str,
    scheme: JsonSchemeKind,
    layers: Vec<PlanLayer>,
}

#[derive(Serialize)]
pub(crate) struct PlanLayer {
    layer: Option<String>,
    action: &'static str,
    subgraph: u32,
    ops: Vec<u32>,
    opcodes: Vec<String>,
    folded: Vec<String>,
    reasons: Vec<JsonReason>,
    workaround: Option<&'static str>,
    config: Option<JsonQatConfig>,
    fallback: Option<JsonQatConfig>,
    calibrate: bool,
    facts: PlanFacts,
}

#[derive(Serialize)]
pub(crate) struct PlanFacts {
    compute: &'static str,
    weights: Option<PlanWeights>,
    output_dtype: Option<String>,
    fixed_output: Option<PlanParams>,
    shares_scale_with: Vec<String>,
    shares_scale_count: usize,
    outputs_integer: Vec<bool>,
}

#[derive(Serialize)]
pub(crate) struct PlanWeights {
    dtype: String,
    granularity: &'static str,
    axis: Option<i32>,
    symmetric: bool,
}

#[derive(Serialize)]
pub(crate) struct PlanParams {
    scale: f32,
    zero_point: i64,
}

/// The document of `plan`, made from the PTQ model read from `file`.
pub(crate) fn document<'a>(plan: &Plan, file: &'a str) -> PlanDoc<'a> {
    PlanDoc {
        schema_version: crate::report::JSON_SCHEMA_VERSION,
        tool: super::TOOL,
        file,
        producer: plan.producer.name(),
        scheme: scheme_kind_object(plan.scheme, plan.qat),
        layers: plan
            .layers
            .iter()
            .map(|l| PlanLayer {
                layer: l.layer.clone(),
                action: l.action.name(),
                subgraph: l.subgraph.0,
                ops: l.ops.iter().map(|o| o.0).collect(),
                opcodes: l.op_kinds.iter().map(OpKind::to_string).collect(),
                folded: l.folded.clone(),
                reasons: l.reasons.iter().map(json_reason).collect(),
                workaround: l.workaround.map(crate::report::workaround_text),
                config: l.config.map(qat_config),
                fallback: l.fallback.map(qat_config),
                calibrate: l.calibrate,
                facts: PlanFacts {
                    compute: l.facts.compute.name(),
                    weights: l.facts.weights.map(|w| PlanWeights {
                        dtype: w.dtype.to_string(),
                        granularity: match w.granularity {
                            Granularity::PerAxis { .. } => "per-axis",
                            Granularity::PerTensor => "per-tensor",
                            _ => "other",
                        },
                        axis: match w.granularity {
                            Granularity::PerAxis { axis, .. } => Some(axis),
                            _ => None,
                        },
                        symmetric: w.symmetric,
                    }),
                    output_dtype: l.facts.output_dtype.map(|d| d.to_string()),
                    fixed_output: l
                        .facts
                        .fixed_output
                        .map(|(scale, zero_point)| PlanParams { scale, zero_point }),
                    shares_scale_with: l.facts.shares_scale_with.clone(),
                    shares_scale_count: l.facts.shares_scale_count,
                    outputs_integer: l.facts.outputs.clone(),
                },
            })
            .collect(),
    }
}
