//! The document of `tflq measure`: every side's values, its kept-float
//! layers, and the cost of each compare finding. Built as a `serde_json`
//! value, whose keys serde_json writes in sorted order.

use serde_json::{Value, json};

use crate::measure::Role;
use crate::measure::result::{Cost, Measurement, Row, SideResult};
use crate::measure::stats::Metrics;
use crate::model::Model;

/// Round to `digits` significant digits, so that the last bits of a sum,
/// which may differ between CPUs, do not reach the output.
fn sig(x: f64, digits: usize) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    let s = format!("{:.*e}", digits.saturating_sub(1), x);
    s.parse::<f64>().map_or(Value::Null, |v| json!(v))
}

/// A dB value to two decimals.
fn db(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 100.0).round() / 100.0)
    } else {
        Value::Null
    }
}

fn metrics_json(m: Option<&Metrics>) -> Value {
    let Some(m) = m else { return Value::Null };
    json!({
        "elements": m.count,
        "sqnr_db": m.sqnr_db.map_or(Value::Null, db),
        "exact": m.sqnr_db.is_none(),
        "rmse": sig(m.rmse, 6),
        "rmse_over_scale": m.rmse_over_scale.map_or(Value::Null, |v| sig(v, 6)),
        "cosine": m.cosine.map_or(Value::Null, |v| sig(v, 8)),
        "max_abs_error": sig(m.max_abs_error, 6),
        "mean_error": sig(m.mean_error, 6),
        "mean_squared_error": sig(m.mean_squared_error, 6),
    })
}

fn row_json(r: &Row) -> Value {
    json!({
        "rank": r.rank,
        "op": r.op.map(|o| o.0),
        "opcode": r.op_kind,
        "compute": r.compute.map(|c| c.name()),
        "layer": r.layer,
        "tensor": r.q_tensor.0,
        "tensor_name": r.q_name,
        "float_tensor": r.f_tensor.0,
        "float_tensor_name": r.f_name,
        "dtype": r.dtype.to_string(),
        "scale": r.scale.map(|s| json!(s)),
        "segment_ops": r.segment.iter().map(|o| o.0).collect::<Vec<_>>(),
        "accumulated": metrics_json(r.accumulated.as_ref()),
        "local": metrics_json(r.local.as_ref()),
        "layerwise": metrics_json(r.layerwise.as_ref()),
    })
}

fn cost_json(side: Option<&SideResult>, c: &Cost) -> Value {
    let at = |x: Option<(usize, Option<f64>)>| match (x, side) {
        (Some((i, v)), Some(s)) => json!({
            "op": s.rows.get(i).and_then(|r| r.op).map(|o| o.0),
            "layer": s.rows.get(i).and_then(|r| r.layer.clone()),
            "sqnr_db": v.map_or(Value::Null, db),
        }),
        _ => Value::Null,
    };
    json!({ "exit": at(c.exit), "worst_local": at(c.worst_local) })
}

fn side_json(
    s: &SideResult,
    model: &Model<'_>,
    (label, float_label): (&str, &str),
    plan_layers: &[String],
) -> Value {
    let d = &s.denylist;
    json!({
        "role": s.role.name(),
        "file": label,
        "float": float_label,
        "paired_ops": s.paired_ops,
        "float_ops": s.float_ops,
        "ops": model.subgraphs.first().map_or(0, |g| g.operators.len()),
        "outputs": s.outputs.iter().map(|o| json!({
            "index": o.index,
            "tensor_name": o.q_name,
            "float_tensor_name": o.f_name,
            "metrics": metrics_json(o.metrics.as_ref()),
        })).collect::<Vec<_>>(),
        "output_total": metrics_json(s.output_total.as_ref()),
        "layers": s.rows.iter().map(row_json).collect::<Vec<_>>(),
        "keep_float": {
            "target_sqnr_db": db(d.target_sqnr_db),
            "measured_sqnr_db": d.measured_sqnr_db.map_or(Value::Null, db),
            "reached": d.reached,
            "layers": d.kept.iter().map(|k| {
                let r = &s.rows[k.row];
                json!({
                    "op": r.op.map(|o| o.0),
                    "opcode": r.op_kind,
                    "layer": r.layer,
                    "share": sig(k.share, 4),
                    "predicted_sqnr_db": k.predicted_sqnr_db.map_or(Value::Null, db),
                })
            }).collect::<Vec<_>>(),
            "denylisted_nodes": s.denylisted_nodes(),
            "plan_float_layers": plan_layers,
        },
        "notes": s.notes,
    })
}

/// The document of `m`. `labels` are the labels of the float model, the two
/// quantized models (`m.sides` in order) and the QAT model's own float model
/// (empty when absent); `quantized` the models of `m.sides`;
/// `compare_problem` why the two could not be compared, in words.
pub(crate) fn document(
    m: &Measurement,
    float: &Model<'_>,
    quantized: &[&Model<'_>],
    labels: &[&str],
    compare_problem: Option<String>,
) -> Value {
    let label = |i: usize| labels.get(i).copied().unwrap_or("");
    let c = m.findings.iter().map(|f| {
        json!({
            "finding": f.finding,
            "kind": f.kind.name(),
            "severity": f.severity.name(),
            "layer": f.layer,
            "qat": cost_json(m.side(Role::Qat), &f.qat),
            "ptq": cost_json(m.side(Role::Ptq), &f.ptq),
        })
    });
    json!({
        "schema_version": crate::report::JSON_SCHEMA_VERSION,
        "tool": super::TOOL,
        "float": label(0),
        "samples": m.samples,
        "inputs": m.options.inputs,
        "runtime": m.options.runtime,
        "sides": m.sides.iter().enumerate().map(|(i, s)| {
            let model = quantized.get(i).copied().unwrap_or(float);
            let fl = if s.float == 0 { label(0) } else { label(3) };
            side_json(s, model, (label(i.saturating_add(1)), fl), &s.float_layers)
        }).collect::<Vec<_>>(),
        "findings": c.collect::<Vec<_>>(),
        "compare_problem": compare_problem,
        "problems": m.problems.iter().map(|(k, n)| json!({"what": k, "samples": n})).collect::<Vec<_>>(),
    })
}
