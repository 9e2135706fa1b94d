//! The measurement as data: per layer of each quantized model its error
//! against the float model (accumulated, local, layer-wise), the model
//! outputs, the cost of each `compare` finding, and the layers to keep in
//! float to reach a target SQNR. `report::measure` words it.

use std::collections::{BTreeMap, BTreeSet};

use super::stats::{Metrics, Sums};
use super::{Accumulator, Plan, Role};
use crate::analysis::{self, Compute};
use crate::compare::{Kind, Severity};
use crate::model::{DType, Model, OpId, TensorId};

/// What the caller asks for and says about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The model-output SQNR (dB) the kept-float layers are chosen to reach.
    pub target_sqnr_db: f64,
    /// Where the inputs came from, in words (files, a dataset, random).
    pub inputs: String,
    /// The interpreter that ran the models (name and version).
    pub runtime: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target_sqnr_db: 30.0,
            inputs: String::new(),
            runtime: String::new(),
        }
    }
}

/// One measured value of a quantized model.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The quantized tensor.
    pub q_tensor: TensorId,
    /// Its name.
    pub q_name: String,
    /// The float tensor it is compared with.
    pub f_tensor: TensorId,
    /// Its name (what QuantizationDebugger's `denylisted_nodes` takes).
    pub f_name: String,
    /// The quantized op writing it.
    pub op: Option<OpId>,
    /// Its kind (`CONV_2D`).
    pub op_kind: String,
    /// How it computes.
    pub compute: Option<Compute>,
    /// The op keeps its input's scale on its output (pooling, reshape,
    /// padding): it adds no rounding of its own.
    pub same_scale: bool,
    /// The Keras layer (or module) the op came from.
    pub layer: Option<String>,
    /// The other quantized ops of its segment (run together for the local error).
    pub segment: Vec<OpId>,
    /// The quantized tensor's type.
    pub dtype: DType,
    /// Its (first) scale, when quantized.
    pub scale: Option<f32>,
    /// The quantized model end to end against the float model.
    pub accumulated: Option<Metrics>,
    /// The segment alone, fed the float model's values.
    pub local: Option<Metrics>,
    /// The float op fed the quantized model's values, against this value
    /// (QuantizationDebugger's comparison).
    pub layerwise: Option<Metrics>,
    /// 1 for the worst local error of the model, 2 for the next, ...
    pub rank: usize,
}

/// A model output.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Position among the graph outputs.
    pub index: usize,
    /// Float tensor name.
    pub f_name: String,
    /// Quantized tensor name.
    pub q_name: String,
    /// The quantized model's output against the float model's.
    pub metrics: Option<Metrics>,
}

/// A layer kept in float by the greedy choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// Index into the side's rows.
    pub row: usize,
    /// Its share of the summed local noise-to-signal ratios.
    pub share: f64,
    /// Predicted model-output SQNR once this one and those before it run in float.
    pub predicted_sqnr_db: Option<f64>,
}

/// The smallest set of layers to keep in float, by local error, to reach
/// the target at the model outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Denylist {
    /// Target model-output SQNR (dB).
    pub target_sqnr_db: f64,
    /// Measured model-output SQNR (all outputs together).
    pub measured_sqnr_db: Option<f64>,
    /// The layers, worst first.
    pub kept: Vec<Kept>,
    /// Whether the prediction reaches the target.
    pub reached: bool,
}

/// One quantized model's measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct SideResult {
    /// PTQ or QAT.
    pub role: Role,
    /// Its float model: 0 the float model, 1 the QAT model's own.
    pub float: usize,
    /// Measured values, in execution order.
    pub rows: Vec<Row>,
    /// Model outputs.
    pub outputs: Vec<Output>,
    /// All outputs pooled.
    pub output_total: Option<Metrics>,
    /// The layers to keep in float.
    pub denylist: Denylist,
    /// Paired ops against the float model's compute ops.
    pub paired_ops: usize,
    /// The float model's ops.
    pub float_ops: usize,
    /// What could not be measured.
    pub notes: Vec<String>,
    /// Each op's SQNR, as pictures colour it ([`super::ops::op_sqnr`]).
    pub op_sqnr: BTreeMap<OpId, super::ops::OpSqnr>,
    /// The Keras layers of the kept-float layers, in order, without
    /// repeats: what `tflq plan`'s float action leaves unannotated.
    pub float_layers: Vec<String>,
}

impl SideResult {
    /// The rows that have a local or an accumulated value, as
    /// [`super::ops::op_sqnr`] takes them.
    pub fn sqnr_rows(&self) -> Vec<super::ops::RowSqnr> {
        self.rows
            .iter()
            .filter_map(|r| {
                let (view, m) = match (&r.local, &r.accumulated) {
                    (Some(m), _) => (super::View::Local, m),
                    (None, Some(m)) => (super::View::Accumulated, m),
                    (None, None) => return None,
                };
                Some(super::ops::RowSqnr {
                    op: r.op,
                    segment: r.segment.clone(),
                    tensor: r.q_tensor,
                    view,
                    sqnr_db: m.sqnr_db,
                })
            })
            .collect()
    }

    /// QuantizationDebugger's `denylisted_nodes`: the float model's tensor
    /// names of the kept-float layers.
    pub fn denylisted_nodes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .denylist
            .kept
            .iter()
            .filter_map(|k| self.rows.get(k.row))
            .map(|r| r.f_name.clone())
            .collect();
        v.dedup();
        v
    }
}

/// The cost of one `compare` finding on each side.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// Accumulated SQNR at the last measured value among the finding's ops
    /// (where the place hands its value on), with that row.
    pub exit: Option<(usize, Option<f64>)>,
    /// The worst local SQNR among them, with that row.
    pub worst_local: Option<(usize, Option<f64>)>,
}

/// A finding of `compare PTQ QAT` with its measured cost.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingCost {
    /// Index into the comparison's findings.
    pub finding: usize,
    /// Its kind.
    pub kind: Kind,
    /// Its severity.
    pub severity: Severity,
    /// Its layer.
    pub layer: Option<String>,
    /// On the QAT model (its own ops).
    pub qat: Cost,
    /// On the PTQ model (the ops aligned with them).
    pub ptq: Cost,
}

/// Everything measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Samples run.
    pub samples: u64,
    /// PTQ, then QAT.
    pub sides: Vec<SideResult>,
    /// `compare`'s findings with their cost (QAT given).
    pub findings: Vec<FindingCost>,
    /// Why `compare` refused the PTQ/QAT pair, if it did (then `findings`
    /// is empty).
    pub compare_problem: Option<crate::compare::PairProblem>,
    /// The options.
    pub options: Options,
    /// Problems met while comparing, with counts.
    pub problems: Vec<(String, u64)>,
}

/// SQNR for ranking: no noise ranks best.
pub fn rank_key(m: Option<&Metrics>) -> f64 {
    match m {
        Some(m) => m.sqnr_db.unwrap_or(f64::INFINITY),
        None => f64::INFINITY,
    }
}

impl Measurement {
    /// Turn the sums into the measurement. `floats` are the float models
    /// and `quantized` the models of `plan.sides`, as the plan was made.
    pub fn new(
        plan: &Plan,
        acc: &Accumulator,
        floats: &[&Model<'_>],
        quantized: &[&Model<'_>],
        options: &Options,
    ) -> Measurement {
        let mut sides = Vec::new();
        for (i, side) in plan.sides.iter().enumerate() {
            let (Some(model), Some(float)) = (quantized.get(i), floats.get(side.float)) else {
                continue;
            };
            sides.push(side_result(side, acc, i, (float, model), options));
        }
        let (findings, compare_problem) = match &plan.comparison {
            Some(c) => match &c.problem {
                Some(p) => (Vec::new(), Some(p.clone())),
                None => (join(c, &sides), None),
            },
            None => (Vec::new(), None),
        };
        Measurement {
            samples: acc.samples,
            sides,
            findings,
            compare_problem,
            options: options.clone(),
            problems: acc.problems.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }

    /// The sides whose model output falls below `min_db`, the gate of
    /// `tflq measure --fail-below`: each quantized model's output SQNR (all
    /// its outputs pooled) must reach `min_db`. No error at all passes; a
    /// model whose output was not measured fails, since nothing shows it
    /// holds. Each failure in words.
    pub fn below(&self, min_db: f64) -> Vec<String> {
        self.sides
            .iter()
            .filter_map(|s| {
                let role = s.role.name();
                match s.output_total.as_ref().map(|m| m.sqnr_db) {
                    None => Some(format!(
                        "the {role} model's output was not measured, so it cannot be held to {min_db} dB"
                    )),
                    Some(None) => None,
                    Some(Some(db)) if db >= min_db => None,
                    Some(Some(db)) => Some(format!(
                        "the {role} model's output SQNR is {db:.2} dB, below {min_db} dB"
                    )),
                }
            })
            .collect()
    }

    /// The side of `role`.
    pub fn side(&self, role: Role) -> Option<&SideResult> {
        self.sides.iter().find(|s| s.role == role)
    }
}

/// Whether keeping this row's op in float is a choice to make: an op the
/// quantized model computes in integer with rounding of its own (not a
/// QUANTIZE, nor an op that keeps its input's scale).
/// The measurement of side `i` (`side` of the plan) from the sums in `acc`.
fn side_result(
    side: &super::Side,
    acc: &Accumulator,
    i: usize,
    (float, model): (&Model<'_>, &Model<'_>),
    options: &Options,
) -> SideResult {
    let fs = &float.subgraphs[0];
    let qs = &model.subgraphs[0];
    let sums = acc.sums.get(i);
    let mut rows = side_rows(side, sums, fs, model);
    rank(&mut rows);
    let (outputs, output_total) = side_outputs(side, sums, fs, qs);
    let denylist = greedy(&rows, output_total.as_ref(), options.target_sqnr_db);
    let mut notes = side.notes.clone();
    let unmeasured = rows.iter().filter(|r| r.local.is_none()).count();
    if unmeasured > 0 && acc.samples > 0 {
        notes.push(format!(
            "{unmeasured} of {} value(s) have no local error: their segment reads a value the float model does not have",
            rows.len()
        ));
    }
    let mut s = SideResult {
        role: side.role,
        float: side.float,
        rows,
        outputs,
        output_total,
        denylist,
        paired_ops: side.ops.len(),
        float_ops: fs.operators.len(),
        notes,
        op_sqnr: Default::default(),
        float_layers: Vec::new(),
    };
    s.op_sqnr = super::ops::op_sqnr(qs, &s.sqnr_rows());
    s.float_layers = super::float_layers(&s);
    s
}

/// One row per probe of `side`, in execution order, unranked.
fn side_rows(
    side: &super::Side,
    sums: Option<&super::SideSums>,
    fs: &crate::model::Subgraph<'_>,
    model: &Model<'_>,
) -> Vec<Row> {
    let insp = analysis::inspect(model);
    let qs = &model.subgraphs[0];
    let mut rows = Vec::with_capacity(side.pairing.probes.len());
    for (k, p) in side.pairing.probes.iter().enumerate() {
        let q = qs.tensor(p.q_tensor);
        let scale = q
            .quantization
            .as_ref()
            .filter(|q| q.is_affine())
            .and_then(|q| q.scale.first());
        let info = p.op.and_then(|o| insp.subgraphs[0].ops.get(o.index()));
        let metrics = |v: usize| {
            sums.and_then(|s| s.probes.get(k))
                .and_then(|s| s[v].metrics(scale))
        };
        let segment = p
            .segment
            .and_then(|s| side.pairing.segments.get(s))
            .map(|s| s.ops.iter().copied().filter(|&o| Some(o) != p.op).collect())
            .unwrap_or_default();
        rows.push(Row {
            q_tensor: p.q_tensor,
            q_name: q.name.to_owned(),
            f_tensor: p.f_tensor,
            f_name: fs.tensor(p.f_tensor).name.to_owned(),
            op: p.op,
            op_kind: p.op.map(|o| qs.op(o).kind.to_string()).unwrap_or_default(),
            compute: info.map(|i| i.compute),
            same_scale: p.op.is_some_and(|o| {
                crate::rules::rule(&qs.op(o).kind)
                    .same_scale
                    .is_same_scale()
            }),
            layer: info.and_then(|i| i.layer.clone()),
            segment,
            dtype: q.dtype,
            scale,
            accumulated: metrics(0),
            local: metrics(1),
            layerwise: metrics(2),
            rank: 0,
        });
    }
    rows
}

/// Rank the rows: 1 for the lowest local SQNR (accumulated where there is
/// no local), ties by accumulated SQNR, then by order.
fn rank(rows: &mut [Row]) {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |r: &Row| {
            (
                rank_key(r.local.as_ref().or(r.accumulated.as_ref())),
                rank_key(r.accumulated.as_ref()),
            )
        };
        key(&rows[a])
            .partial_cmp(&key(&rows[b]))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    for (r, &k) in order.iter().enumerate() {
        rows[k].rank = r.saturating_add(1);
    }
}

/// The paired model outputs of `side`, and all of them pooled.
fn side_outputs(
    side: &super::Side,
    sums: Option<&super::SideSums>,
    fs: &crate::model::Subgraph<'_>,
    qs: &crate::model::Subgraph<'_>,
) -> (Vec<Output>, Option<Metrics>) {
    let mut total = Sums::default();
    let outputs: Vec<Output> = side
        .pairing
        .outputs
        .iter()
        .enumerate()
        .map(|(k, &(f, q))| {
            let s = sums
                .and_then(|s| s.outputs.get(k))
                .copied()
                .unwrap_or_default();
            total.merge(&s);
            Output {
                index: k,
                f_name: fs.tensor(f).name.to_owned(),
                q_name: qs.tensor(q).name.to_owned(),
                metrics: s.metrics(None),
            }
        })
        .collect();
    (outputs, total.metrics(None))
}

fn candidate(r: &Row) -> bool {
    matches!(r.compute, Some(Compute::Int8 | Compute::Int16))
        && r.op_kind != "QUANTIZE"
        && !r.same_scale
        && r.local.and_then(|m| m.noise_to_signal).is_some()
}

/// Keep layers in float, worst local error first, until the predicted
/// model-output SQNR reaches the target. The prediction takes the local
/// noise-to-signal ratios as independent shares of the measured output
/// noise: keeping a layer in float removes its share.
fn greedy(rows: &[Row], output: Option<&Metrics>, target: f64) -> Denylist {
    let measured = output.and_then(|m| m.sqnr_db);
    let out_nsr = output.and_then(|m| m.noise_to_signal);
    let total: f64 = rows
        .iter()
        .filter_map(|r| r.local.and_then(|m| m.noise_to_signal))
        .sum();
    let mut cands: Vec<usize> = (0..rows.len()).filter(|&i| candidate(&rows[i])).collect();
    let nsr = |i: usize| rows[i].local.and_then(|m| m.noise_to_signal).unwrap_or(0.0);
    cands.sort_by(|&a, &b| {
        nsr(b)
            .partial_cmp(&nsr(a))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let predict = |removed: f64| -> Option<f64> {
        let out = out_nsr?;
        if total <= 0.0 {
            return measured;
        }
        let left = (out * (total - removed).max(0.0) / total).max(0.0);
        (left > 0.0).then(|| -10.0 * left.log10())
    };
    let reached_at = |p: Option<f64>| p.is_none_or(|db| db >= target);
    let mut kept = Vec::new();
    let mut removed = 0.0;
    let mut reached = out_nsr.is_none() || reached_at(measured);
    for i in cands {
        if reached {
            break;
        }
        removed += nsr(i);
        let p = predict(removed);
        kept.push(Kept {
            row: i,
            share: if total > 0.0 { nsr(i) / total } else { 0.0 },
            predicted_sqnr_db: p,
        });
        reached = reached_at(p);
    }
    Denylist {
        target_sqnr_db: target,
        measured_sqnr_db: measured,
        kept,
        reached,
    }
}

fn cost(side: Option<&SideResult>, ops: &BTreeSet<OpId>) -> Cost {
    let Some(side) = side else {
        return Cost {
            exit: None,
            worst_local: None,
        };
    };
    let hit = |r: &Row| r.op.is_some_and(|o| ops.contains(&o));
    let exit = side
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| hit(r))
        .max_by_key(|(_, r)| r.op)
        .map(|(i, r)| (i, r.accumulated.and_then(|m| m.sqnr_db)));
    let worst_local = side
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| hit(r) && r.local.is_some())
        .min_by(|a, b| {
            rank_key(a.1.local.as_ref())
                .partial_cmp(&rank_key(b.1.local.as_ref()))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|(i, r)| (i, r.local.and_then(|m| m.sqnr_db)));
    Cost { exit, worst_local }
}

fn join(c: &crate::compare::Comparison, sides: &[SideResult]) -> Vec<FindingCost> {
    let ptq = sides.iter().find(|s| s.role == Role::Ptq);
    let qat = sides.iter().find(|s| s.role == Role::Qat);
    c.findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.subgraph.0 == 0)
        .map(|(i, f)| {
            let mut q_ops: BTreeSet<OpId> = f.qat_ops.iter().copied().collect();
            let mut p_ops: BTreeSet<OpId> = f.ptq_ops.iter().copied().collect();
            for p in &f.places {
                q_ops.extend(p.qat_ops.iter().copied());
                p_ops.extend(p.ptq_ops.iter().copied());
            }
            FindingCost {
                finding: i,
                kind: f.kind,
                severity: f.severity,
                layer: f.layer.clone(),
                qat: cost(qat, &q_ops),
                ptq: cost(ptq, &p_ops),
            }
        })
        .collect()
}
