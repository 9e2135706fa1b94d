//! The document of `tflq measure`: every side's values, its kept-float
//! layers, and the cost of each compare finding.
//!
//! Every object's fields are in alphabetical order, the order the document
//! has always had (it was first written through `serde_json`'s sorted maps).

use serde::Serialize;

use crate::measure::Role;
use crate::measure::result::{Cost, Measurement, Row, SideResult};
use crate::measure::stats::Metrics;
use crate::model::Model;

/// Round to `digits` significant digits, so that the last bits of a sum,
/// which may differ between CPUs, do not reach the output.
fn sig(x: f64, digits: usize) -> Option<f64> {
    if !x.is_finite() {
        return None;
    }
    let s = format!("{:.*e}", digits.saturating_sub(1), x);
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A dB value to two decimals.
fn db(x: f64) -> Option<f64> {
    // Not finite in, not finite out.
    Some((x * 100.0).round() / 100.0).filter(|v| v.is_finite())
}

#[derive(Serialize)]
pub(crate) struct MeasureDoc<'a> {
    compare_problem: Option<String>,
    findings: Vec<MeasureFinding<'a>>,
    float: &'a str,
    inputs: &'a str,
    problems: Vec<MeasureProblem<'a>>,
    runtime: &'a str,
    samples: u64,
    schema_version: u32,
    sides: Vec<MeasureSide<'a>>,
    tool: &'static str,
}

#[derive(Serialize)]
pub(crate) struct MeasureProblem<'a> {
    samples: u64,
    what: &'a str,
}

#[derive(Serialize)]
pub(crate) struct MeasureFinding<'a> {
    finding: usize,
    kind: &'static str,
    layer: Option<&'a str>,
    ptq: MeasureCost<'a>,
    qat: MeasureCost<'a>,
    severity: &'static str,
}

/// Where a finding's cost is read: its exit, and its worst local value.
#[derive(Serialize)]
pub(crate) struct MeasureCost<'a> {
    exit: Option<MeasureAt<'a>>,
    worst_local: Option<MeasureAt<'a>>,
}

#[derive(Serialize)]
pub(crate) struct MeasureAt<'a> {
    layer: Option<&'a str>,
    op: Option<u32>,
    sqnr_db: Option<f64>,
}

#[derive(Serialize)]
pub(crate) struct MeasureMetrics {
    cosine: Option<f64>,
    elements: u64,
    exact: bool,
    max_abs_error: Option<f64>,
    mean_error: Option<f64>,
    mean_squared_error: Option<f64>,
    rmse: Option<f64>,
    rmse_over_scale: Option<f64>,
    sqnr_db: Option<f64>,
}

#[derive(Serialize)]
pub(crate) struct MeasureSide<'a> {
    file: &'a str,
    float: &'a str,
    float_ops: usize,
    keep_float: MeasureKeepFloat<'a>,
    layers: Vec<MeasureRow<'a>>,
    notes: &'a [String],
    ops: usize,
    output_total: Option<MeasureMetrics>,
    outputs: Vec<MeasureOutput<'a>>,
    paired_ops: usize,
    role: &'static str,
}

#[derive(Serialize)]
pub(crate) struct MeasureOutput<'a> {
    float_tensor_name: &'a str,
    index: usize,
    metrics: Option<MeasureMetrics>,
    tensor_name: &'a str,
}

/// One measured value (a layer's output, or a segment's).
#[derive(Serialize)]
pub(crate) struct MeasureRow<'a> {
    accumulated: Option<MeasureMetrics>,
    compute: Option<&'static str>,
    dtype: String,
    float_tensor: u32,
    float_tensor_name: &'a str,
    layer: Option<&'a str>,
    layerwise: Option<MeasureMetrics>,
    local: Option<MeasureMetrics>,
    op: Option<u32>,
    opcode: &'a str,
    rank: usize,
    scale: Option<f64>,
    segment_ops: Vec<u32>,
    tensor: u32,
    tensor_name: &'a str,
}

#[derive(Serialize)]
pub(crate) struct MeasureKeepFloat<'a> {
    denylisted_nodes: Vec<String>,
    layers: Vec<MeasureKept<'a>>,
    measured_sqnr_db: Option<f64>,
    plan_float_layers: &'a [String],
    reached: bool,
    target_sqnr_db: Option<f64>,
}

#[derive(Serialize)]
pub(crate) struct MeasureKept<'a> {
    layer: Option<&'a str>,
    op: Option<u32>,
    opcode: &'a str,
    predicted_sqnr_db: Option<f64>,
    share: Option<f64>,
}

fn metrics(m: Option<&Metrics>) -> Option<MeasureMetrics> {
    let m = m?;
    Some(MeasureMetrics {
        cosine: m.cosine.and_then(|v| sig(v, 8)),
        elements: m.count,
        exact: m.sqnr_db.is_none(),
        max_abs_error: sig(m.max_abs_error, 6),
        mean_error: sig(m.mean_error, 6),
        mean_squared_error: sig(m.mean_squared_error, 6),
        rmse: sig(m.rmse, 6),
        rmse_over_scale: m.rmse_over_scale.and_then(|v| sig(v, 6)),
        sqnr_db: m.sqnr_db.and_then(db),
    })
}

fn row(r: &Row) -> MeasureRow<'_> {
    MeasureRow {
        accumulated: metrics(r.accumulated.as_ref()),
        compute: r.compute.map(|c| c.name()),
        dtype: r.dtype.to_string(),
        float_tensor: r.f_tensor.0,
        float_tensor_name: &r.f_name,
        layer: r.layer.as_deref(),
        layerwise: metrics(r.layerwise.as_ref()),
        local: metrics(r.local.as_ref()),
        op: r.op.map(|o| o.0),
        opcode: &r.op_kind,
        rank: r.rank,
        // As serde_json writes an f32 it holds as a value: widened to f64.
        scale: r.scale.filter(|s| s.is_finite()).map(f64::from),
        segment_ops: r.segment.iter().map(|o| o.0).collect(),
        tensor: r.q_tensor.0,
        tensor_name: &r.q_name,
    }
}

fn cost<'a>(side: Option<&'a SideResult>, c: &Cost) -> MeasureCost<'a> {
    let at = |x: Option<(usize, Option<f64>)>| {
        let ((i, v), s) = (x?, side?);
        let r = s.rows.get(i);
        Some(MeasureAt {
            layer: r.and_then(|r| r.layer.as_deref()),
            op: r.and_then(|r| r.op).map(|o| o.0),
            sqnr_db: v.and_then(db),
        })
    };
    MeasureCost {
        exit: at(c.exit),
        worst_local: at(c.worst_local),
    }
}

fn keep_float<'a>(s: &'a SideResult, plan_layers: &'a [String]) -> MeasureKeepFloat<'a> {
    let d = &s.denylist;
    MeasureKeepFloat {
        denylisted_nodes: s.denylisted_nodes(),
        layers: d
            .kept
            .iter()
            .filter_map(|k| {
                let r = s.rows.get(k.row)?;
                Some(MeasureKept {
                    layer: r.layer.as_deref(),
                    op: r.op.map(|o| o.0),
                    opcode: &r.op_kind,
                    predicted_sqnr_db: k.predicted_sqnr_db.and_then(db),
                    share: sig(k.share, 4),
                })
            })
            .collect(),
        measured_sqnr_db: d.measured_sqnr_db.and_then(db),
        plan_float_layers: plan_layers,
        reached: d.reached,
        target_sqnr_db: db(d.target_sqnr_db),
    }
}

fn side<'a>(
    s: &'a SideResult,
    model: &Model<'_>,
    (file, float): (&'a str, &'a str),
    plan_layers: &'a [String],
) -> MeasureSide<'a> {
    MeasureSide {
        file,
        float,
        float_ops: s.float_ops,
        keep_float: keep_float(s, plan_layers),
        layers: s.rows.iter().map(row).collect(),
        notes: &s.notes,
        ops: model.subgraphs.first().map_or(0, |g| g.operators.len()),
        output_total: metrics(s.output_total.as_ref()),
        outputs: s
            .outputs
            .iter()
            .map(|o| MeasureOutput {
                float_tensor_name: &o.f_name,
                index: o.index,
                metrics: metrics(o.metrics.as_ref()),
                tensor_name: &o.q_name,
            })
            .collect(),
        paired_ops: s.paired_ops,
        role: s.role.name(),
    }
}

/// The document of `m`. `labels` are the labels of the float model, the two
/// quantized models (`m.sides` in order) and the QAT model's own float model
/// (empty when absent); `quantized` the models of `m.sides`;
/// `compare_problem` why the two could not be compared, in words.
pub(crate) fn document<'a>(
    m: &'a Measurement,
    float: &Model<'_>,
    quantized: &[&Model<'_>],
    labels: &[&'a str],
    compare_problem: Option<String>,
) -> MeasureDoc<'a> {
    let label = |i: usize| labels.get(i).copied().unwrap_or("");
    let findings = m.findings.iter().map(|f| MeasureFinding {
        finding: f.finding,
        kind: f.kind.name(),
        layer: f.layer.as_deref(),
        ptq: cost(m.side(Role::Ptq), &f.ptq),
        qat: cost(m.side(Role::Qat), &f.qat),
        severity: f.severity.name(),
    });
    let sides = m.sides.iter().enumerate().map(|(i, s)| {
        let model = quantized.get(i).copied().unwrap_or(float);
        let fl = if s.float == 0 { label(0) } else { label(3) };
        side(s, model, (label(i.saturating_add(1)), fl), &s.float_layers)
    });
    MeasureDoc {
        compare_problem,
        findings: findings.collect(),
        float: label(0),
        inputs: &m.options.inputs,
        problems: m
            .problems
            .iter()
            .map(|(what, samples)| MeasureProblem {
                samples: *samples,
                what,
            })
            .collect(),
        runtime: &m.options.runtime,
        samples: m.samples,
        schema_version: crate::report::JSON_SCHEMA_VERSION,
        sides: sides.collect(),
        tool: super::TOOL,
    }
}
