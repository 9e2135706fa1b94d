//! What each placement costs: the error of a PTQ and a QAT model against the
//! float model, per layer, measured with the LiteRT interpreter.
//!
//! tflq runs no model itself. This module decides what to run and what to
//! compare, and accumulates the comparison; the interpreter runs in the
//! Python package's runner (`tflq.measure`, `tflq measure`), which hands
//! every tensor it reads to an [`Accumulator`]:
//!
//! 1. [`Plan::new`] pairs the float model with each quantized one
//!    ([`pairing`]: ops by tflq's alignment, then values through the ops'
//!    operands) and cuts both models ([`cut`]) so that each layer can run
//!    alone. Its [`Plan::runs`] are the interpreter runs of one sample, in
//!    order: the float model, then per quantized model the model itself, its
//!    local cut (each segment fed the float model's values, quantized by the
//!    interpreter as the op expects) and the float model's layer-wise cut
//!    (each float op fed the quantized model's values, dequantized: what
//!    TFLite's QuantizationDebugger compares).
//! 2. [`Accumulator::put`] takes each tensor a run read, [`Accumulator::end_sample`]
//!    folds the sample into running sums ([`stats::Sums`]): memory is bounded
//!    by the model, never by the number of samples.
//! 3. [`result::Measurement::new`] turns the sums into rows (SQNR, RMSE /
//!    scale, cosine, max error), joins them to `compare`'s findings and picks
//!    the layers to keep in float.

pub mod cut;
pub mod layers;
pub mod ops;
pub mod pairing;
pub mod result;
pub mod stats;

use std::collections::BTreeMap;

use crate::analysis::{self, SchemeKind};
use crate::compare::{self, Comparison, Evidence};
use crate::graph::Graph;
use crate::model::{DType, Model, OpId, SubgraphId, TensorId};
use pairing::Pairing;
use stats::Sums;

/// Which quantized model a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The post-training-quantized model (the second file).
    Ptq,
    /// The quantization-aware-trained model (the third file).
    Qat,
}

impl Role {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ptq => "ptq",
            Role::Qat => "qat",
        }
    }
}

/// Why a set of models cannot be measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

/// Where a run's graph input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Input `k` of the sample (the float model's input order).
    Sample(usize),
    /// A tensor another run of the same sample read.
    Tensor {
        /// Index into [`Plan::runs`].
        run: usize,
        /// Tensor index in that run's model.
        tensor: u32,
    },
}

/// Which file a run loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunModel {
    /// A float model: 0 the float model, 1 the QAT model's own float model.
    Float(usize),
    /// A quantized model (index into [`Plan::sides`]), as given.
    Quantized(usize),
    /// A cut model tflq built.
    Cut(Vec<u8>),
}

/// One interpreter run per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Short name (`float`, `ptq`, `ptq-local`, `ptq-layerwise`, ...).
    pub name: String,
    /// The model to load.
    pub model: RunModel,
    /// Whether every intermediate tensor must be kept
    /// (`experimental_preserve_all_tensors`): the whole models; a cut's
    /// values are its graph outputs.
    pub preserve_all_tensors: bool,
    /// Graph inputs (tensor index) and what to feed them.
    pub inputs: Vec<(u32, Source)>,
    /// Tensors to read after the run and hand to [`Accumulator::put`].
    pub reads: Vec<u32>,
}

/// One quantized model paired with the float model.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// PTQ or QAT.
    pub role: Role,
    /// Its float model: 0 the float model, 1 the QAT model's own.
    pub float: usize,
    /// Index into [`Plan::runs`] of that float model's run.
    pub float_run: usize,
    /// Paired ops: (float op, quantized op).
    pub ops: Vec<(OpId, OpId)>,
    /// Paired values, segments and cuts.
    pub pairing: Pairing,
    /// Index into [`Plan::runs`] of its whole-model run.
    pub run: usize,
    /// ... of its local cut (`None` when nothing could be cut).
    pub local_run: Option<usize>,
    /// ... of the float model's layer-wise cut.
    pub layerwise_run: Option<usize>,
    /// Why a cut could not be built.
    pub notes: Vec<String>,
}

/// What to run and compare for one float model and its quantized versions.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The quantized models: PTQ, then QAT when given.
    pub sides: Vec<Side>,
    /// The interpreter runs of one sample, in the order they must run.
    pub runs: Vec<Run>,
    /// `compare PTQ QAT`, when a QAT model is given.
    pub comparison: Option<Comparison>,
    /// Graph inputs of the float model (dtype, shape): what a sample holds.
    pub inputs: Vec<(DType, Vec<i32>)>,
}

/// A model with its file bytes (a cut copies the file).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a, 'm> {
    /// The loaded model.
    pub model: &'a Model<'m>,
    /// The whole file.
    pub bytes: &'a [u8],
}

const MAIN: SubgraphId = SubgraphId(0);

impl Plan {
    /// Pair `float` with `ptq` (and `qat`) and build the cuts. The float
    /// model must compute in float; the others may be anything the float
    /// model was converted to (the float model itself included). With two
    /// files the second is PTQ or QAT as the file says. `qat_float`, the
    /// float model of the QAT model's own trained weights, is what the QAT
    /// model is measured against when given (QAT fine-tuning moves the
    /// weights away from the float model's).
    pub fn new(
        float: Input<'_, '_>,
        qat_float: Option<Input<'_, '_>>,
        ptq: Input<'_, '_>,
        qat: Option<Input<'_, '_>>,
    ) -> Result<Plan, PlanError> {
        let fi = analysis::inspect(float.model);
        let Some(fs) = float_subgraph(float, &fi, "first model")? else {
            return Err(PlanError("the float model has no subgraph".into()));
        };
        let inputs: Vec<(DType, Vec<i32>)> = fs
            .inputs
            .iter()
            .map(|&t| (fs.tensor(t).dtype, fs.tensor(t).shape.to_vec()))
            .collect();
        if let Some((d, _)) = inputs.iter().find(|(d, _)| *d != DType::FLOAT32) {
            return Err(PlanError(format!(
                "the float model has a {d} input; tflq measure feeds float32 inputs only"
            )));
        }
        let (quantized, comparison) = pair_ops((&fi, fs), qat_float, ptq, qat)?;
        let floats: Vec<Input<'_, '_>> = std::iter::once(float).chain(qat_float).collect();
        let mut runs = Runs {
            runs: Vec::new(),
            float_runs: vec![None; floats.len()],
            float_reads: vec![Vec::new(); floats.len()],
        };
        let mut sides = Vec::new();
        for (i, (role, q, ops, fidx)) in quantized.into_iter().enumerate() {
            let Some(float) = floats.get(fidx).copied() else {
                continue;
            };
            sides.push(runs.add_side(i, (role, q, ops), (fidx, float))?);
        }
        let mut runs_of = runs.runs;
        for (reads, run) in runs.float_reads.into_iter().zip(runs.float_runs) {
            if let Some(r) = run {
                let mut reads = reads;
                reads.sort_unstable();
                reads.dedup();
                runs_of[r].reads = reads;
            }
        }
        Ok(Plan {
            sides,
            runs: runs_of,
            comparison,
            inputs,
        })
    }
}

/// A quantized model to measure: its role, the model, its compute ops
/// paired with its float model's (float op, quantized op), and which float
/// model that is (0 the float model, 1 the QAT model's own).
type ToMeasure<'a, 'm> = (Role, Input<'a, 'm>, Vec<(OpId, OpId)>, usize);

/// Align the float model with the PTQ model and, given a QAT model, the PTQ
/// model with it (`compare`) and the QAT model's own float model with the PTQ
/// model: the ops each quantized model pairs with its float model's.
fn pair_ops<'a, 'm>(
    (fi, fs): (&analysis::Inspection, &crate::model::Subgraph<'_>),
    qat_float: Option<Input<'a, 'm>>,
    ptq: Input<'a, 'm>,
    qat: Option<Input<'a, 'm>>,
) -> Result<(Vec<ToMeasure<'a, 'm>>, Option<Comparison>), PlanError> {
    let fg = Graph::new(fs);
    let pi = analysis::inspect(ptq.model);
    let ps = ptq
        .model
        .subgraphs
        .first()
        .ok_or_else(|| PlanError("the PTQ model has no subgraph".into()))?;
    let pg = Graph::new(ps);
    let (fp, _, _) = compare::align::align_subgraphs(
        (&fg, MAIN, &fi.subgraphs[0].ops),
        (&pg, MAIN, &pi.subgraphs[0].ops),
    );
    let float_ptq: Vec<(OpId, OpId)> = compute_matches(&fp.matches);
    let ptq_role = match (qat.is_some(), compare::FileRole::of(&pi)) {
        (false, compare::FileRole::Qat(_)) => Role::Qat,
        _ => Role::Ptq,
    };
    let mut quantized = vec![(ptq_role, ptq, float_ptq.clone(), 0)];
    let Some(qat) = qat else {
        return Ok((quantized, None));
    };
    let qi = analysis::inspect(qat.model);
    let c = compare::compare_inspected(
        (ptq.model, &pi),
        (qat.model, &qi),
        compare::Options::default(),
    );
    let ptq_qat = c
        .alignment
        .iter()
        .find(|a| a.ptq == MAIN && a.qat == MAIN)
        .map(|a| compute_matches(&a.matches))
        .unwrap_or_default();
    // The QAT model's own float model is aligned with the PTQ model
    // as the float model is.
    let (f_of_p, float_index) = match qat_float {
        Some(qf) => {
            let qfi = analysis::inspect(qf.model);
            let qfs = float_subgraph(qf, &qfi, "QAT model's float model")?
                .ok_or_else(|| PlanError("the QAT model's float model has no subgraph".into()))?;
            let (a, _, _) = compare::align::align_subgraphs(
                (&Graph::new(qfs), MAIN, &qfi.subgraphs[0].ops),
                (&pg, MAIN, &pi.subgraphs[0].ops),
            );
            (compute_matches(&a.matches), 1)
        }
        None => (float_ptq, 0),
    };
    let f_of_p: BTreeMap<OpId, OpId> = f_of_p.iter().map(|&(f, p)| (p, f)).collect();
    let float_qat: Vec<(OpId, OpId)> = ptq_qat
        .iter()
        .filter_map(|&(p, q)| f_of_p.get(&p).map(|&f| (f, q)))
        .collect();
    quantized.push((Role::Qat, qat, float_qat, float_index));
    Ok((quantized, Some(c)))
}

/// The runs of a plan as they are added, with each float model's run and
/// the tensors it must read.
struct Runs {
    runs: Vec<Run>,
    float_runs: Vec<Option<usize>>,
    float_reads: Vec<Vec<u32>>,
}

impl Runs {
    /// Pair quantized model `i` (`role`, `q`, its paired `ops`) with float
    /// model `fidx` and add its runs: the float model's (once), its own, its
    /// local cut and the float model's layer-wise cut.
    fn add_side(
        &mut self,
        i: usize,
        (role, q, ops): (Role, Input<'_, '_>, Vec<(OpId, OpId)>),
        (fidx, float): (usize, Input<'_, '_>),
    ) -> Result<Side, PlanError> {
        let runs = &mut self.runs;
        let fs = &float.model.subgraphs[0];
        let fg = Graph::new(fs);
        let float_run = match self.float_runs[fidx] {
            Some(r) => r,
            None => {
                let name = if fidx == 0 { "float" } else { "qat-float" };
                runs.push(whole_run(name, RunModel::Float(fidx), fs));
                self.float_runs[fidx] = Some(runs.len() - 1);
                runs.len() - 1
            }
        };
        let float_reads = &mut self.float_reads[fidx];
        let qs = q
            .model
            .subgraphs
            .first()
            .ok_or_else(|| PlanError(format!("the {} model has no subgraph", role.name())))?;
        let qg = Graph::new(qs);
        if qs.inputs.len() != fs.inputs.len() {
            return Err(PlanError(format!(
                "the {} model has {} input(s) and the float model {}",
                role.name(),
                qs.inputs.len(),
                fs.inputs.len()
            )));
        }
        let pairing = pairing::pair(&fg, &qg, &ops);
        let run = runs.len();
        let mut reads: Vec<u32> = pairing.probes.iter().map(|p| p.q_tensor.0).collect();
        reads.extend(pairing.outputs.iter().map(|o| o.1.0));
        float_reads.extend(pairing.probes.iter().map(|p| p.f_tensor.0));
        float_reads.extend(pairing.outputs.iter().map(|o| o.0.0));
        runs.push(whole_run(role.name(), RunModel::Quantized(i), qs));
        let mut notes = Vec::new();
        let local_run = add_cut(
            runs,
            &mut notes,
            (format!("{}-local", role.name()), "local"),
            (q.bytes, &pairing.local),
            (fs, float_run, float_reads),
        );
        let layerwise_run = add_cut(
            runs,
            &mut notes,
            (format!("{}-layerwise", role.name()), "layer-wise"),
            (float.bytes, &pairing.layerwise),
            (qs, run, &mut reads),
        );
        reads.sort_unstable();
        reads.dedup();
        runs[run].reads = reads;
        Ok(Side {
            role,
            float: fidx,
            float_run,
            ops,
            pairing,
            run,
            local_run,
            layerwise_run,
            notes,
        })
    }
}

/// The run of a whole model: every tensor kept, the sample's inputs in order.
fn whole_run(name: &str, model: RunModel, sg: &crate::model::Subgraph<'_>) -> Run {
    Run {
        name: name.into(),
        model,
        preserve_all_tensors: true,
        inputs: sg
            .inputs
            .iter()
            .enumerate()
            .map(|(k, t)| (t.0, Source::Sample(k)))
            .collect(),
        reads: Vec::new(),
    }
}

/// Build `cut` of the model in `bytes` and add its run, fed from run
/// `source` (whose reads gain the fed tensors); its index, or `None` (with a
/// note) when there is nothing to cut or the cut fails.
fn add_cut(
    runs: &mut Vec<Run>,
    notes: &mut Vec<String>,
    (name, what): (String, &str),
    (bytes, cut): (&[u8], &pairing::Cut),
    (source_sg, source, source_reads): (&crate::model::Subgraph<'_>, usize, &mut Vec<u32>),
) -> Option<usize> {
    if cut.ops.is_empty() {
        return None;
    }
    let (model, fed) = match cut::build(bytes, cut, source_sg) {
        Ok(built) => built,
        Err(e) => {
            notes.push(format!("no {what} error: the cut failed: {e}"));
            return None;
        }
    };
    source_reads.extend(cut.feeds.iter().map(|f| f.source.0));
    let inputs = fed
        .iter()
        .zip(&cut.feeds)
        .map(|(&t, f)| {
            let src = Source::Tensor {
                run: source,
                tensor: f.source.0,
            };
            (t, src)
        })
        .collect();
    runs.push(Run {
        name,
        model: RunModel::Cut(model),
        preserve_all_tensors: false,
        inputs,
        reads: cut.outputs.iter().map(|t| t.0).collect(),
    });
    Some(runs.len().saturating_sub(1))
}

/// The main subgraph of a float model, or why it is not one.
fn float_subgraph<'a, 'm>(
    f: Input<'a, 'm>,
    insp: &analysis::Inspection,
    what: &str,
) -> Result<Option<&'a crate::model::Subgraph<'m>>, PlanError> {
    if !matches!(insp.scheme.kind, SchemeKind::Float) {
        return Err(PlanError(format!(
            "the {what} must be a float model, and this one is {}",
            insp.scheme.kind
        )));
    }
    Ok(f.model.subgraphs.first())
}

fn compute_matches(matches: &[compare::Match]) -> Vec<(OpId, OpId)> {
    matches
        .iter()
        .filter(|m| m.evidence != Evidence::Wire)
        .map(|m| (m.ptq, m.qat))
        .collect()
}

/// How to turn a tensor's bytes into float values.
#[derive(Debug, Clone, PartialEq)]
struct Decode {
    dtype: DType,
    elements: usize,
    scale: Vec<f32>,
    zero_point: Vec<i64>,
    /// Elements between two steps of the quantized axis, and its length.
    axis_stride: usize,
    axis_len: usize,
}

impl Decode {
    fn of(model: &Model<'_>, t: TensorId) -> Option<Decode> {
        let tensor = model.subgraphs.first()?.tensors.get(t.index())?;
        let elements = usize::try_from(tensor.element_count()?).ok()?;
        let (mut scale, mut zero_point, mut axis_stride, mut axis_len) = (vec![], vec![], 1, 1);
        if let Some(q) = tensor.quantization.as_ref().filter(|q| q.is_affine()) {
            scale = q.scale.to_vec();
            zero_point = q.zero_point.to_vec();
            if scale.len() > 1 {
                let axis = usize::try_from(q.quantized_dimension).ok()?;
                let dims: Vec<usize> = tensor
                    .shape
                    .iter()
                    .map(|&d| usize::try_from(d).ok())
                    .collect::<Option<_>>()?;
                axis_len = *dims.get(axis)?;
                axis_stride = dims.get(axis.checked_add(1)?..)?.iter().product();
                if axis_len != scale.len() {
                    return None;
                }
            }
        }
        Some(Decode {
            dtype: tensor.dtype,
            elements,
            scale,
            zero_point,
            axis_stride,
            axis_len,
        })
    }

    /// The values as float32 (dequantized), or why not.
    fn decode(&self, bytes: &[u8], out: &mut Vec<f32>) -> Result<(), String> {
        let size = match self.dtype {
            DType::FLOAT32 | DType::INT32 => 4,
            DType::INT16 => 2,
            DType::INT8 | DType::UINT8 => 1,
            d => return Err(format!("cannot read a {d} tensor")),
        };
        if Some(bytes.len()) != self.elements.checked_mul(size) {
            return Err(format!(
                "{} bytes for {} {} elements",
                bytes.len(),
                self.elements,
                self.dtype
            ));
        }
        out.clear();
        out.reserve(self.elements);
        let raw = bytes.chunks_exact(size).map(|c| match self.dtype {
            DType::FLOAT32 => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            DType::INT32 => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            DType::INT16 => f64::from(i16::from_le_bytes([c[0], c[1]])),
            DType::INT8 => f64::from(c[0] as i8),
            _ => f64::from(c[0]),
        });
        if self.scale.is_empty() {
            out.extend(raw.map(|v| v as f32));
            return Ok(());
        }
        for (i, v) in raw.enumerate() {
            let ch = if self.scale.len() > 1 {
                (i / self.axis_stride.max(1)) % self.axis_len.max(1)
            } else {
                0
            };
            let s = f64::from(self.scale.get(ch).copied().unwrap_or(1.0));
            let z = self.zero_point.get(ch).copied().unwrap_or(0) as f64;
            out.push(((v - z) * s) as f32);
        }
        Ok(())
    }
}

/// Which comparison a sum belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The quantized model end to end against the float model.
    Accumulated,
    /// The quantized segment alone, fed the float model's values.
    Local,
    /// The float op fed the quantized model's values, against the quantized
    /// op's own output (QuantizationDebugger's view).
    Layerwise,
}

/// Sums of every probe and output of one side.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SideSums {
    /// Per probe (parallel to `pairing.probes`): accumulated, local, layer-wise.
    pub probes: Vec<[Sums; 3]>,
    /// Per paired graph output (parallel to `pairing.outputs`).
    pub outputs: Vec<Sums>,
}

/// Running sums of a [`Plan`]'s comparisons, fed one sample at a time.
#[derive(Debug, Clone)]
pub struct Accumulator {
    decode: Vec<BTreeMap<u32, Decode>>,
    current: Vec<BTreeMap<u32, Vec<f32>>>,
    /// Per side.
    pub sums: Vec<SideSums>,
    /// Samples folded in.
    pub samples: u64,
    /// Problems met while comparing (shape mismatches), with a count each.
    pub problems: BTreeMap<String, u64>,
}

impl Accumulator {
    /// Start empty. `floats` are the float model (and the QAT model's own),
    /// `quantized` the sides' models, as given to [`Plan::new`].
    pub fn new(plan: &Plan, floats: &[&Model<'_>], quantized: &[&Model<'_>]) -> Accumulator {
        let mut decode = Vec::with_capacity(plan.runs.len());
        for (r, run) in plan.runs.iter().enumerate() {
            let model = match plan.owner(r) {
                Owner::Float(k) => floats.get(k).copied(),
                Owner::Side(i) => quantized.get(i).copied(),
            };
            let map = run
                .reads
                .iter()
                .filter_map(|&t| Some((t, Decode::of(model?, TensorId(t))?)))
                .collect();
            decode.push(map);
        }
        Accumulator {
            current: vec![BTreeMap::new(); plan.runs.len()],
            decode,
            sums: plan
                .sides
                .iter()
                .map(|s| SideSums {
                    probes: vec![[Sums::default(); 3]; s.pairing.probes.len()],
                    outputs: vec![Sums::default(); s.pairing.outputs.len()],
                })
                .collect(),
            samples: 0,
            problems: BTreeMap::new(),
        }
    }

    /// Take the bytes (little-endian, as the interpreter holds them) of
    /// tensor `tensor` after run `run`. Tensors the plan does not compare are
    /// ignored.
    pub fn put(&mut self, run: usize, tensor: u32, bytes: &[u8]) -> Result<(), String> {
        let Some(d) = self.decode.get(run).and_then(|m| m.get(&tensor)) else {
            return Ok(());
        };
        let mut v = Vec::new();
        d.decode(bytes, &mut v)
            .map_err(|e| format!("run {run}, tensor {tensor}: {e}"))?;
        if let Some(m) = self.current.get_mut(run) {
            m.insert(tensor, v);
        }
        Ok(())
    }

    /// Fold the sample whose tensors were [`put`](Self::put) into the sums.
    pub fn end_sample(&mut self, plan: &Plan) {
        for (side, sums) in plan.sides.iter().zip(self.sums.iter_mut()) {
            let runs = [
                Some(side.run),
                side.local_run,
                side.layerwise_run.map(|_| side.run),
            ];
            for (p, s) in side.pairing.probes.iter().zip(sums.probes.iter_mut()) {
                // accumulated: float run vs the quantized run
                // local: float run vs the local cut
                // layer-wise: the float layer-wise cut vs the quantized run
                let f = side.float_run;
                let pairs = [
                    (Some((f, p.f_tensor.0)), runs[0].map(|r| (r, p.q_tensor.0))),
                    (Some((f, p.f_tensor.0)), runs[1].map(|r| (r, p.q_tensor.0))),
                    (
                        side.layerwise_run.map(|r| (r, p.f_tensor.0)),
                        runs[2].map(|r| (r, p.q_tensor.0)),
                    ),
                ];
                for (slot, (a, b)) in s.iter_mut().zip(pairs) {
                    let (Some(a), Some(b)) = (a, b) else { continue };
                    compare_into(&self.current, &mut self.problems, a, b, slot);
                }
            }
            for (&(f, q), slot) in side.pairing.outputs.iter().zip(sums.outputs.iter_mut()) {
                compare_into(
                    &self.current,
                    &mut self.problems,
                    (side.float_run, f.0),
                    (side.run, q.0),
                    slot,
                );
            }
        }
        for m in &mut self.current {
            m.clear();
        }
        self.samples = self.samples.saturating_add(1);
    }
}

fn compare_into(
    current: &[BTreeMap<u32, Vec<f32>>],
    problems: &mut BTreeMap<String, u64>,
    (ra, ta): (usize, u32),
    (rb, tb): (usize, u32),
    slot: &mut Sums,
) {
    let get = |r: usize, t: u32| current.get(r).and_then(|m| m.get(&t));
    match (get(ra, ta), get(rb, tb)) {
        (Some(a), Some(b)) if a.len() == b.len() => slot.add(a, b),
        (Some(_), Some(_)) => {
            let n = problems
                .entry(format!("tensor {ta} and tensor {tb} differ in size"))
                .or_default();
            *n = n.saturating_add(1);
        }
        _ => {}
    }
}

/// Which model a run's tensors belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Float model `k` (0 the float model, 1 the QAT model's own).
    Float(usize),
    /// Side `i`'s quantized model.
    Side(usize),
}

impl Plan {
    /// Whose tensors run `run` reads: the layer-wise cut is the float model's.
    pub fn owner(&self, run: usize) -> Owner {
        match self.runs.get(run).map(|r| &r.model) {
            None => Owner::Float(0),
            Some(RunModel::Float(k)) => Owner::Float(*k),
            Some(RunModel::Quantized(i)) => Owner::Side(*i),
            Some(RunModel::Cut(_)) => {
                let idx = Some(run);
                for (i, s) in self.sides.iter().enumerate() {
                    if idx == s.local_run {
                        return Owner::Side(i);
                    }
                    if idx == s.layerwise_run {
                        return Owner::Float(s.float);
                    }
                }
                Owner::Float(0)
            }
        }
    }
}

/// `tflq plan` of the second file, with the kept-float layers of `s` given
/// the float action (left unannotated).
pub fn keep_float_plan(
    model: &crate::model::Model<'_>,
    s: &result::SideResult,
) -> crate::advice::Plan {
    let insp = crate::analysis::inspect(model);
    let mut plan = crate::advice::plan(model, &insp);
    let keep = &s.float_layers;
    for l in &mut plan.layers {
        if l.layer.as_ref().is_some_and(|n| keep.contains(n)) {
            l.action = crate::advice::Action::Float;
            l.reasons = vec![crate::advice::Reason::KeptFloatByMeasure];
        }
    }
    plan
}

/// The Keras layers of the kept-float layers (what `tflq plan`'s float
/// action leaves unannotated), in order, without repeats.
pub fn float_layers(s: &result::SideResult) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for k in &s.denylist.kept {
        if let Some(l) = s.rows.get(k.row).and_then(|r| r.layer.clone())
            && !v.contains(&l)
        {
            v.push(l);
        }
    }
    v
}

/// The side `name` (`ptq`, `qat`) asks for, else the first, with its index.
pub fn pick_side<'m>(
    m: &'m result::Measurement,
    name: &str,
) -> Option<(usize, &'m result::SideResult)> {
    let role = if name == "ptq" { Role::Ptq } else { Role::Qat };
    let mut sides = m.sides.iter().enumerate();
    sides
        .clone()
        .find(|(_, s)| s.role == role)
        .or_else(|| sides.next())
}
