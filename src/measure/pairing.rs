//! Which tensor of a quantized model holds the same value as which tensor of
//! the float model, and where to cut both models so that each layer can run
//! alone.
//!
//! Ops are paired by the alignment of [`crate::compare::align`]. Values are
//! then paired through the ops' operands:
//!
//! 1. an op's input: when a float op and its quantized counterpart read input
//!    `k`, the quantized tensor (and every tensor on its chain of QUANTIZE and
//!    DEQUANTIZE ops back to the op or graph input that made it) holds the
//!    float tensor's value;
//! 2. an op's output, for the float values no paired consumer reads (model
//!    outputs, unpaired consumers), unless rule 1 already gave that float
//!    value another source: a conv whose BatchNorm the quantized model left
//!    unfolded computes the pre-BatchNorm value, and the float value is the
//!    one the unfolded ADD writes;
//! 3. graph inputs and outputs by position, and values carried on through
//!    QUANTIZE and DEQUANTIZE.
//!
//! A quantized op whose output has no float counterpart (that conv, a RELU
//! the float model fused) joins the segment of the ops that read it: a
//! segment is the smallest group of ops that runs from paired values to
//! paired values, and is what "one layer alone" means for the local error.

#![deny(clippy::arithmetic_side_effects)]

use std::collections::BTreeMap;

use crate::graph::Graph;
use crate::model::{BuiltinCode, DType, OpId, Subgraph, TensorId};
use crate::rules;

/// Paired ops: (float op, quantized op).
pub type OpPairs = [(OpId, OpId)];

/// How a quantized tensor relates to its float counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A float value held as float32 or as a quantized integer: measured.
    Measured,
    /// The same non-float type on both sides (shapes, indices): exact, fed
    /// as it is, not measured.
    Exact,
}

/// A value the two models share: one row of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Tensor of the quantized model.
    pub q_tensor: TensorId,
    /// Its counterpart in the float model.
    pub f_tensor: TensorId,
    /// The quantized op that writes it (`None` for a graph input).
    pub op: Option<OpId>,
    /// The segment (index into [`Pairing::segments`]) that computes it.
    pub segment: Option<usize>,
}

/// Ops that run together from paired values to paired values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Quantized ops, in execution (file) order.
    pub ops: Vec<OpId>,
}

/// One value fed into a cut model from the other model's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The tensor of the other model whose value is fed.
    pub source: TensorId,
    /// The tensor of the cut model the consumers expect (its type decides
    /// whether a QUANTIZE or DEQUANTIZE is put in front).
    pub like: TensorId,
    /// (op, input slot) that read the fed value instead of `like`.
    pub consumers: Vec<(OpId, usize)>,
}

/// What to keep of a model and what to feed it: a cut.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cut {
    /// Ops kept, in file order.
    pub ops: Vec<OpId>,
    /// Fed values, one new graph input each.
    pub feeds: Vec<Feed>,
    /// Graph outputs of the cut.
    pub outputs: Vec<TensorId>,
}

/// The pairing of a float model's main subgraph with a quantized one's.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    /// Float counterpart and kind of each quantized tensor.
    pub counterpart: Vec<Option<(TensorId, Kind)>>,
    /// Measured values, in the quantized model's execution order.
    pub probes: Vec<Probe>,
    /// Graph outputs paired by position: (float, quantized).
    pub outputs: Vec<(TensorId, TensorId)>,
    /// Segments of the quantized model.
    pub segments: Vec<Segment>,
    /// The quantized model with every segment cut loose and fed the float
    /// model's values: the local error.
    pub local: Cut,
    /// The float model cut the same way and fed the quantized model's values
    /// (dequantized): the error of each quantized op on its own inputs, as
    /// TFLite's QuantizationDebugger measures it.
    pub layerwise: Cut,
}

fn is_float(d: DType) -> bool {
    d == DType::FLOAT32
}

/// Whether a quantized tensor can stand for a float one of `f`'s type.
fn kind_of(f: &crate::model::Tensor<'_>, q: &crate::model::Tensor<'_>) -> Option<Kind> {
    if f.element_count() != q.element_count() || f.element_count().is_none() {
        return None;
    }
    if is_float(f.dtype) {
        let int = matches!(q.dtype, DType::INT8 | DType::UINT8 | DType::INT16);
        if is_float(q.dtype) || (int && q.is_quantized()) {
            return Some(Kind::Measured);
        }
        return None;
    }
    (f.dtype == q.dtype && !q.is_quantized() && !f.is_quantized()).then_some(Kind::Exact)
}

/// Follow QUANTIZE/DEQUANTIZE producers back from `t`: the tensors on the
/// chain, `t` first, ending at an op output or graph input.
fn chain(sg: &Subgraph<'_>, g: &Graph<'_>, t: TensorId) -> Vec<TensorId> {
    let mut out = vec![t];
    let mut cur = t;
    // Quantizer chains are short; the bound guards against a cycle in a
    // malformed file.
    for _ in 0..64 {
        let Some(p) = g.producer(cur) else { break };
        let op = sg.op(p);
        if !rules::is_quantize_or_dequantize(&op.kind) {
            break;
        }
        match op.inputs.first().copied().flatten() {
            Some(i) if !sg.tensor(i).is_constant() => {
                out.push(i);
                cur = i;
            }
            _ => break,
        }
    }
    out
}

/// A union-find over ops.
struct Groups(Vec<usize>);

impl Groups {
    fn new(n: usize) -> Groups {
        Groups((0..n).collect())
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            let up = self.0[self.0[x]];
            self.0[x] = up;
            x = up;
        }
        x
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// Pair the main subgraph of a float model (`fg`) with a quantized one
/// (`qg`), given their paired compute ops.
pub fn pair(fg: &Graph<'_>, qg: &Graph<'_>, ops: &OpPairs) -> Pairing {
    let (fs, qs) = (fg.subgraph(), qg.subgraph());
    let mut cp: Vec<Option<(TensorId, Kind)>> = vec![None; qs.tensors.len()];
    let assign = |cp: &mut Vec<Option<(TensorId, Kind)>>, q: TensorId, f: TensorId| {
        let (Some(qt), Some(ft)) = (qs.tensors.get(q.index()), fs.tensors.get(f.index())) else {
            return;
        };
        if qt.is_constant() || ft.is_constant() {
            return;
        }
        if let (Some(slot), Some(k)) = (cp.get_mut(q.index()), kind_of(ft, qt))
            && slot.is_none()
        {
            *slot = Some((f, k));
        }
    };
    // Rule 1: inputs of paired ops, through the quantizer chain.
    let mut sources: BTreeMap<TensorId, Vec<TensorId>> = BTreeMap::new();
    for &(f, q) in ops {
        let (fo, qo) = (fs.op(f), qs.op(q));
        for (ft, qt) in fo.inputs.iter().zip(qo.inputs.iter()) {
            let (Some(ft), Some(qt)) = (*ft, *qt) else {
                continue;
            };
            if fs.tensor(ft).is_constant() || qs.tensor(qt).is_constant() {
                continue;
            }
            let c = chain(qs, qg, qt);
            if let Some(&src) = c.last() {
                sources.entry(ft).or_default().push(src);
            }
            for t in c {
                assign(&mut cp, t, ft);
            }
        }
    }
    // Rule 2: outputs of paired ops whose float value has no other source.
    for &(f, q) in ops {
        for (&ft, &qt) in fs.op(f).outputs.iter().zip(qs.op(q).outputs.iter()) {
            if sources.get(&ft).is_some_and(|s| !s.contains(&qt)) {
                continue;
            }
            assign(&mut cp, qt, ft);
        }
    }
    // Rule 3: graph inputs and outputs by position.
    for (&ft, &qt) in fs.inputs.iter().zip(qs.inputs.iter()) {
        assign(&mut cp, qt, ft);
    }
    let mut outputs = Vec::new();
    for (&ft, &qt) in fs.outputs.iter().zip(qs.outputs.iter()) {
        for t in chain(qs, qg, qt) {
            assign(&mut cp, t, ft);
        }
        if cp
            .get(qt.index())
            .copied()
            .flatten()
            .is_some_and(|(f, k)| f == ft && k == Kind::Measured)
        {
            outputs.push((ft, qt));
        }
    }
    // ... and carried forward through quantizers, in execution order.
    let order = qg.execution_order();
    for &o in &order {
        let op = qs.op(o);
        if !rules::is_quantize_or_dequantize(&op.kind) {
            continue;
        }
        let from = op
            .inputs
            .first()
            .copied()
            .flatten()
            .and_then(|i| cp.get(i.index()).copied().flatten());
        if let (Some((f, _)), Some(&out)) = (from, op.outputs.first()) {
            assign(&mut cp, out, f);
        }
    }

    let segments_of = segments(qs, qg, &cp);
    let (segments, seg_of_op) = segments_of;
    let mut probes = Vec::new();
    let mut seen = vec![false; qs.tensors.len()];
    for &o in &order {
        let op = qs.op(o);
        if op.kind.is(BuiltinCode::DEQUANTIZE) {
            // A DEQUANTIZE writes exactly the value it reads.
            continue;
        }
        for &t in &op.outputs {
            if let Some((f, Kind::Measured)) = cp.get(t.index()).copied().flatten()
                && !std::mem::replace(&mut seen[t.index()], true)
            {
                probes.push(Probe {
                    q_tensor: t,
                    f_tensor: f,
                    op: Some(o),
                    segment: seg_of_op.get(o.index()).copied().flatten(),
                });
            }
        }
    }
    let local = local_cut(qs, qg, &cp, &segments, &probes);
    let layerwise = layerwise_cut(fs, fg, qs, qg, &cp, ops, &probes);
    Pairing {
        counterpart: cp,
        probes,
        outputs,
        segments,
        local,
        layerwise,
    }
}

/// Group the quantized ops into segments: an op joins the producer of every
/// input that has no float counterpart.
fn segments(
    qs: &Subgraph<'_>,
    qg: &Graph<'_>,
    cp: &[Option<(TensorId, Kind)>],
) -> (Vec<Segment>, Vec<Option<usize>>) {
    let n = qs.operators.len();
    let mut groups = Groups::new(n);
    for o in qs.op_ids() {
        for t in qs.op(o).present_inputs() {
            if qs.tensor(t).is_constant() || cp.get(t.index()).copied().flatten().is_some() {
                continue;
            }
            if let Some(p) = qg.producer(t) {
                groups.join(o.index(), p.index());
            }
        }
    }
    let mut by_root: BTreeMap<usize, usize> = BTreeMap::new();
    let mut segments: Vec<Segment> = Vec::new();
    let mut seg_of_op = vec![None; n];
    for o in qs.op_ids() {
        let root = groups.find(o.index());
        let next = segments.len();
        let s = *by_root.entry(root).or_insert(next);
        if s == next {
            segments.push(Segment { ops: Vec::new() });
        }
        segments[s].ops.push(o);
        seg_of_op[o.index()] = Some(s);
    }
    (segments, seg_of_op)
}

/// The quantized model's segments that compute a probe, each fed the float
/// model's values at its inputs.
fn local_cut(
    qs: &Subgraph<'_>,
    qg: &Graph<'_>,
    cp: &[Option<(TensorId, Kind)>],
    segments: &[Segment],
    probes: &[Probe],
) -> Cut {
    let mut wanted = vec![false; segments.len()];
    for p in probes {
        if let Some(s) = p.segment {
            wanted[s] = true;
        }
    }
    let mut feeds: BTreeMap<TensorId, Feed> = BTreeMap::new();
    let mut ops = Vec::new();
    let mut outputs = Vec::new();
    'segment: for (s, seg) in segments.iter().enumerate() {
        if !wanted[s] {
            continue;
        }
        let inside = |o: OpId| seg.ops.contains(&o);
        let mut seg_feeds: Vec<(TensorId, TensorId, (OpId, usize))> = Vec::new();
        for &o in &seg.ops {
            for (k, t) in qs.op(o).inputs.iter().enumerate() {
                let Some(t) = *t else { continue };
                let tensor = qs.tensor(t);
                if tensor.is_constant() || tensor.is_variable {
                    continue;
                }
                if qg.producer(t).is_some_and(inside) {
                    continue;
                }
                match cp.get(t.index()).copied().flatten() {
                    Some((f, _)) => seg_feeds.push((t, f, (o, k))),
                    // A value from nowhere the float model can supply: this
                    // segment cannot run alone.
                    None => continue 'segment,
                }
            }
        }
        for (t, f, consumer) in seg_feeds {
            feeds
                .entry(t)
                .or_insert_with(|| Feed {
                    source: f,
                    like: t,
                    consumers: Vec::new(),
                })
                .consumers
                .push(consumer);
        }
        ops.extend(seg.ops.iter().copied());
        for p in probes.iter().filter(|p| p.segment == Some(s)) {
            outputs.push(p.q_tensor);
        }
    }
    ops.sort_unstable();
    Cut {
        ops,
        feeds: feeds.into_values().collect(),
        outputs,
    }
}

/// The float ops that compute each probe's float value, fed the quantized
/// model's values (each float op reads what its quantized counterpart reads).
fn layerwise_cut(
    fs: &Subgraph<'_>,
    fg: &Graph<'_>,
    qs: &Subgraph<'_>,
    qg: &Graph<'_>,
    cp: &[Option<(TensorId, Kind)>],
    ops: &OpPairs,
    probes: &[Probe],
) -> Cut {
    let held = held_values(fs, cp);
    let mut groups = Groups::new(fs.operators.len());
    for o in fs.op_ids() {
        for t in fs.op(o).present_inputs() {
            if fs.tensor(t).is_constant() || held.get(t.index()).copied().flatten().is_some() {
                continue;
            }
            if let Some(p) = fg.producer(t) {
                groups.join(o.index(), p.index());
            }
        }
    }
    let mut wanted_root = vec![false; fs.operators.len()];
    let mut outputs = Vec::new();
    for p in probes {
        if let Some(w) = fg.producer(p.f_tensor) {
            let root = groups.find(w.index());
            wanted_root[root] = true;
            if !outputs.contains(&p.f_tensor) {
                outputs.push(p.f_tensor);
            }
        }
    }
    let mut kept = Vec::new();
    for o in fs.op_ids() {
        let root = groups.find(o.index());
        if !wanted_root[root] {
            continue;
        }
        kept.push((o, root));
    }
    let sources = Sources {
        fs,
        fg,
        qs,
        qg,
        cp,
        held: &held,
        q_of: ops.iter().copied().collect(),
    };
    let mut dropped = vec![false; fs.operators.len()];
    let mut pending: Vec<Pending> = Vec::new();
    for &(o, root) in &kept {
        if !sources.feeds_of(o, root, &mut groups, &mut pending) {
            dropped[root] = true;
        }
    }
    let mut feeds: BTreeMap<(TensorId, TensorId), Feed> = BTreeMap::new();
    for (key, consumer, root) in pending {
        if dropped[root] {
            continue;
        }
        feeds
            .entry(key)
            .or_insert_with(|| Feed {
                source: key.1,
                like: key.0,
                consumers: Vec::new(),
            })
            .consumers
            .push(consumer);
    }
    let ops: Vec<OpId> = kept
        .iter()
        .filter(|(_, r)| !dropped[*r])
        .map(|(o, _)| *o)
        .collect();
    outputs.retain(|t| {
        fg.producer(*t)
            .is_some_and(|p| !dropped[groups.find(p.index())])
    });
    Cut {
        ops,
        feeds: feeds.into_values().collect(),
        outputs,
    }
}

/// Float values some quantized tensor holds, with the first (in tensor
/// order) of its holders.
fn held_values(fs: &Subgraph<'_>, cp: &[Option<(TensorId, Kind)>]) -> Vec<Option<TensorId>> {
    let mut held: Vec<Option<TensorId>> = vec![None; fs.tensors.len()];
    for (q, c) in cp.iter().enumerate() {
        if let Some((f, _)) = c
            && let Some(slot) = held.get_mut(f.index())
            && slot.is_none()
        {
            *slot = Some(TensorId(u32::try_from(q).unwrap_or(u32::MAX)));
        }
    }
    held
}

/// A fed input of the layer-wise cut: (float value, quantized source),
/// (op, slot), the op's group.
type Pending = ((TensorId, TensorId), (OpId, usize), usize);

/// Where the layer-wise cut's float ops read the quantized model's values.
struct Sources<'a, 'm> {
    fs: &'a Subgraph<'m>,
    fg: &'a Graph<'m>,
    qs: &'a Subgraph<'m>,
    qg: &'a Graph<'m>,
    cp: &'a [Option<(TensorId, Kind)>],
    held: &'a [Option<TensorId>],
    /// The quantized counterpart of each paired float op.
    q_of: BTreeMap<OpId, OpId>,
}

impl Sources<'_, '_> {
    /// Add the feeds of float op `o` (of group `root`) to `pending`: each
    /// input from outside its group. `false` when an input has no quantized
    /// source (then the group cannot run).
    fn feeds_of(
        &self,
        o: OpId,
        root: usize,
        groups: &mut Groups,
        pending: &mut Vec<Pending>,
    ) -> bool {
        let mut all = true;
        for (k, t) in self.fs.op(o).inputs.iter().enumerate() {
            let Some(t) = *t else { continue };
            let tensor = self.fs.tensor(t);
            if tensor.is_constant() || tensor.is_variable {
                continue;
            }
            if self
                .fg
                .producer(t)
                .is_some_and(|p| groups.find(p.index()) == root)
            {
                continue;
            }
            match self.source(o, k, t) {
                Some(src) => pending.push(((t, src), (o, k), root)),
                None => all = false,
            }
        }
        all
    }

    /// The quantized tensor that feeds float op `o`'s input `k` (float value
    /// `t`): what the quantized counterpart of the op reads there, when it
    /// holds the same value; else any holder of the value.
    fn source(&self, o: OpId, k: usize, t: TensorId) -> Option<TensorId> {
        let (qs, qg, cp) = (self.qs, self.qg, self.cp);
        let holds = |qt: TensorId| cp.get(qt.index()).copied().flatten().map(|c| c.0) == Some(t);
        let direct = self
            .q_of
            .get(&o)
            .and_then(|&q| qs.op(q).inputs.get(k).copied().flatten())
            .filter(|&qt| holds(qt))
            // A value the quantized model quantized for this op from a
            // float tensor is fed as that float tensor, as
            // QuantizationDebugger's float ops read it.
            .map(|qt| {
                qg.producer(qt)
                    .map(|p| qs.op(p))
                    .filter(|p| p.kind.is(BuiltinCode::QUANTIZE))
                    .and_then(|p| p.inputs.first().copied().flatten())
                    .filter(|&i| is_float(qs.tensor(i).dtype) && holds(i))
                    .unwrap_or(qt)
            });
        direct.or_else(|| self.held.get(t.index()).copied().flatten())
    }
}
