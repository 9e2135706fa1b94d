//! Each op's SQNR, joined from a measurement's rows: the value Model
//! Explorer's node data and `tflq graph --measure` colour an op by.
//!
//! A row is a measured value, written by one op; the other ops of its
//! segment ran with it and take its value, and a DEQUANTIZE takes the value
//! it reads. An op covered by several rows takes the worst. The rows come
//! from a side of a measurement (`SideResult::sqnr_rows`) or from the JSON document `tflq measure` writes
//! ([`JsonSide::read`]), so that a picture can be coloured from a saved
//! measurement without running anything.

use std::collections::BTreeMap;

use serde_json::Value;

use super::View;
use crate::analysis::graph_view::GraphView;
use crate::model::{BuiltinCode, OpId, Subgraph, TensorId};

/// The value an exact match (no error at all) stands at: pictures need a
/// number. SQNRs are clamped to ±`EXACT_DB`.
pub const EXACT_DB: f64 = 100.0;

/// `tflq graph`'s colour scale (dB): red at the first value and below,
/// yellow at the second, green at the third and above. 40 dB and up is
/// plain 8-bit rounding; 30 dB what PyTorch's tests ask of an output.
pub const SCALE_DB: [f64; 3] = [10.0, 25.0, 40.0];

/// The colours of the scale's three points, red, yellow and green (`tflq
/// graph`'s fills and the Model Explorer node data's gradient).
pub const SCALE_COLORS: [&str; 3] = ["#d73027", "#fee08b", "#1a9850"];

/// One measured value, as the op values need it.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSqnr {
    /// The op that writes it (`None` for a graph input).
    pub op: Option<OpId>,
    /// The other ops of its segment.
    pub segment: Vec<OpId>,
    /// The quantized tensor.
    pub tensor: TensorId,
    /// The view the value is from: local, else accumulated.
    pub view: View,
    /// SQNR in dB; `None` for no error at all.
    pub sqnr_db: Option<f64>,
}

/// An op's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpSqnr {
    /// SQNR in dB, clamped to ±[`EXACT_DB`] (`EXACT_DB` when exact).
    pub db: f64,
    /// No error at all.
    pub exact: bool,
    /// Local, or accumulated where the op has no local value.
    pub view: View,
    /// The op whose row gives the value: the op itself, the op its segment
    /// is measured at, or for a DEQUANTIZE the op that writes what it reads
    /// (`None`: a graph input).
    pub row_op: Option<OpId>,
}

impl RowSqnr {
    fn value(&self) -> OpSqnr {
        OpSqnr {
            db: self.sqnr_db.unwrap_or(EXACT_DB).clamp(-EXACT_DB, EXACT_DB),
            exact: self.sqnr_db.is_none(),
            view: self.view,
            row_op: self.op,
        }
    }
}

/// Each op's value in `sg` (the measured model's main subgraph): the worst
/// row that covers it, or for a DEQUANTIZE no row covers, the value it reads.
pub fn op_sqnr(sg: &Subgraph<'_>, rows: &[RowSqnr]) -> BTreeMap<OpId, OpSqnr> {
    let mut out: BTreeMap<OpId, OpSqnr> = BTreeMap::new();
    for r in rows {
        let Some(op) = r.op else { continue };
        let v = r.value();
        // The other ops of its segment ran with it: they show its value.
        for o in std::iter::once(op).chain(r.segment.iter().copied()) {
            let e = out.entry(o).or_insert(v);
            if v.db < e.db {
                *e = v;
            }
        }
    }
    // A DEQUANTIZE writes the value it reads: it shows that value's.
    let by_tensor: BTreeMap<TensorId, OpSqnr> =
        rows.iter().map(|r| (r.tensor, r.value())).collect();
    for o in sg.op_ids() {
        let op = sg.op(o);
        if op.kind.is(BuiltinCode::DEQUANTIZE)
            && let Some(v) = op
                .inputs
                .first()
                .copied()
                .flatten()
                .and_then(|t| by_tensor.get(&t))
        {
            out.entry(o).or_insert(*v);
        }
    }
    out
}

/// One side of a measure document, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSide {
    /// `ptq` or `qat`.
    pub role: String,
    /// The quantized model's file, as the measurement named it.
    pub file: String,
    /// Its rows with a value.
    pub rows: Vec<RowSqnr>,
    /// The opcode each measured op had (`CONV_2D`), to check that a picture
    /// draws the model that was measured.
    pub opcodes: BTreeMap<OpId, String>,
}

impl JsonSide {
    /// The sides of `doc`, a document `tflq measure --format json` wrote
    /// (docs/json.md), or what is wrong with it.
    pub fn read(doc: &Value) -> Result<Vec<JsonSide>, String> {
        let sides = doc
            .get("sides")
            .and_then(Value::as_array)
            .filter(|_| doc.get("samples").is_some())
            .ok_or(
                "not a document of `tflq measure --format json` (no \"samples\" and \"sides\")",
            )?;
        sides
            .iter()
            .enumerate()
            .map(|(i, s)| JsonSide::read_side(s).map_err(|e| format!("sides[{i}]: {e}")))
            .collect()
    }

    fn read_side(s: &Value) -> Result<JsonSide, String> {
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let role = text(s, "role").ok_or("no \"role\"")?;
        let file = text(s, "file").unwrap_or_default();
        let layers = s
            .get("layers")
            .and_then(Value::as_array)
            .ok_or("no \"layers\" list")?;
        let mut rows = Vec::new();
        let mut opcodes = BTreeMap::new();
        for (k, l) in layers.iter().enumerate() {
            let row = read_row(l).map_err(|e| format!("layers[{k}]: {e}"))?;
            if let (Some(op), Some(code)) = (row.as_ref().and_then(|r| r.op), text(l, "opcode")) {
                opcodes.insert(op, code);
            }
            rows.extend(row);
        }
        Ok(JsonSide {
            role,
            file,
            rows,
            opcodes,
        })
    }
}

fn op_id(v: &Value) -> Result<Option<OpId>, String> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|n| Some(OpId(n)))
            .ok_or_else(|| format!("{v} is not an op index")),
    }
}

/// A layer's row, `None` when it has neither a local nor an accumulated value.
fn read_row(l: &Value) -> Result<Option<RowSqnr>, String> {
    let op = op_id(l.get("op").unwrap_or(&Value::Null))?;
    let tensor = l
        .get("tensor")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .map(TensorId)
        .ok_or("no \"tensor\" index")?;
    let segment = match l.get("segment_ops").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .map(|v| op_id(v)?.ok_or_else(|| "a segment op is null".to_owned()))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let metrics = |k: &str| l.get(k).filter(|m| m.is_object());
    let (view, m) = match (metrics("local"), metrics("accumulated")) {
        (Some(m), _) => (View::Local, m),
        (None, Some(m)) => (View::Accumulated, m),
        (None, None) => return Ok(None),
    };
    let exact = m.get("exact").and_then(Value::as_bool) == Some(true);
    // The document writes a non-finite SQNR (no signal) as null, not exact.
    let sqnr_db = match m.get("sqnr_db").and_then(Value::as_f64) {
        _ if exact => None,
        Some(v) => Some(v),
        None => Some(f64::NEG_INFINITY),
    };
    Ok(Some(RowSqnr {
        op,
        segment,
        tensor,
        view,
        sqnr_db,
    }))
}

/// A node's value in a picture: the worst of its ops'.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSqnr {
    /// The worst op's value.
    pub worst: OpSqnr,
    /// The op it is from.
    pub op: OpId,
    /// Where it sits on [`SCALE_DB`]: 0 at the red end, 0.5 yellow, 1 green.
    pub position: f64,
    /// Each measured op of the node with its value, in op order.
    pub ops: Vec<(OpId, OpSqnr)>,
}

/// Where `db` sits on [`SCALE_DB`], from 0 to 1.
pub fn scale_position(db: f64) -> f64 {
    let [lo, mid, hi] = SCALE_DB;
    if db <= lo {
        0.0
    } else if db < mid {
        0.5 * (db - lo) / (mid - lo)
    } else if db < hi {
        0.5 + 0.5 * (db - mid) / (hi - mid)
    } else {
        1.0
    }
}

/// The value of each node of `view` (parallel to `view.nodes`; `None` for a
/// node none of whose ops was measured).
pub fn node_sqnr(view: &GraphView, ops: &BTreeMap<OpId, OpSqnr>) -> Vec<Option<NodeSqnr>> {
    view.nodes
        .iter()
        .map(|n| {
            let measured: Vec<(OpId, OpSqnr)> = n
                .ops()
                .iter()
                .filter_map(|o| Some((*o, *ops.get(o)?)))
                .collect();
            let &(op, worst) = measured
                .iter()
                .min_by(|a, b| a.1.db.total_cmp(&b.1.db).then(a.0.cmp(&b.0)))?;
            Some(NodeSqnr {
                worst,
                op,
                position: scale_position(worst.db),
                ops: measured,
            })
        })
        .collect()
}

/// A picture's colouring by SQNR: one side's value per node of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct SqnrView {
    /// The side the values are of (`ptq`, `qat`).
    pub role: String,
    /// Parallel to the view's nodes.
    pub nodes: Vec<Option<NodeSqnr>>,
}

impl SqnrView {
    /// The colouring of `view` by `side`, whose model is `sg` (the drawn
    /// model's main subgraph).
    pub fn new(view: &GraphView, sg: &Subgraph<'_>, side: &JsonSide) -> SqnrView {
        SqnrView {
            role: side.role.clone(),
            nodes: node_sqnr(view, &op_sqnr(sg, &side.rows)),
        }
    }
}

impl JsonSide {
    /// The side of `sides` to colour a model by: the one of `role` when
    /// given, else the only one, else the one measured on a file of the same
    /// name as `model` (a path as the user gave it).
    pub fn pick<'s>(
        sides: &'s [JsonSide],
        role: Option<&str>,
        model: &str,
    ) -> Result<&'s JsonSide, String> {
        let roles: Vec<&str> = sides.iter().map(|s| s.role.as_str()).collect();
        if let Some(role) = role {
            return sides
                .iter()
                .find(|s| s.role == role)
                .ok_or_else(|| format!("it has no {role} side (it has {})", roles.join(", ")));
        }
        if let [only] = sides {
            return Ok(only);
        }
        let name = |p: &str| std::path::Path::new(p).file_name().map(|n| n.to_owned());
        let mut same = sides.iter().filter(|s| name(&s.file) == name(model));
        match (same.next(), same.next()) {
            (Some(s), None) => Ok(s),
            _ => Err(format!(
                "it measured {} models ({}); say which colours this one with --measure-side",
                sides.len(),
                roles.join(", ")
            )),
        }
    }

    /// Whether the measured ops are the ops of `sg`: every measured op
    /// exists there with the same opcode. A measurement of another model
    /// would colour the wrong ops.
    pub fn check(&self, sg: &Subgraph<'_>) -> Result<(), String> {
        for (&op, code) in &self.opcodes {
            let here = sg.operators.get(op.index()).map(|o| o.kind.to_string());
            if here.as_deref() != Some(code.as_str()) {
                return Err(format!(
                    "its {} side was measured on another model: op #{op} is {code} there and {} here",
                    self.role,
                    here.as_deref().unwrap_or("missing")
                ));
            }
        }
        for r in &self.rows {
            if let Some(o) = r.segment.iter().find(|o| o.index() >= sg.operators.len()) {
                return Err(format!(
                    "its {} side names op #{o}, which this model does not have",
                    self.role
                ));
            }
        }
        Ok(())
    }
}
