//! Alignment of two conversions of the same network.
//!
//! QUANTIZE and DEQUANTIZE ops are the very thing that differs between a PTQ
//! and a QAT conversion, so they are taken out first: each graph becomes a
//! sequence of compute ops in execution order, joined by "wires" (chains of
//! quantizer ops between two compute ops). Compute ops are then aligned like
//! lines in a patience diff:
//!
//! 1. anchors: ops whose (kind, Keras layer) or (kind, weight shape) key is
//!    unique in both graphs; the longest chain of anchors in the same order
//!    on both sides is kept (O(n log n));
//! 2. gaps between anchors: a longest-common-subsequence over compatible ops
//!    (same kind, same weight shape), or a linear greedy pass when the gap is
//!    too large for it;
//! 3. wires: a quantizer op matches the quantizer of the same role on the
//!    wire between the matched ops on the other side.
//!
//! Cost is O(n log n) in ops plus the gap work, which is bounded per gap.

use std::collections::HashMap;

use crate::analysis::OpInfo;
use crate::graph::Graph;
use crate::model::{OpId, OpKind, Subgraph, SubgraphId, TensorId};
use crate::rules;

/// Gaps larger than this (ops × ops) are matched greedily instead of by LCS.
const LCS_CELLS: usize = 1 << 20;

/// Layers of an op's output name that alignment compares. A converter's
/// fused name joins a handful; a forged one can join thousands, and the LCS
/// compares the layers of every pair of ops in a gap.
const ALIGN_LAYERS: usize = 8;

/// Why two ops were paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Evidence {
    /// Same kind and the same Keras layer, unique in both graphs.
    LayerName,
    /// Same kind and weight shape, unique in both graphs.
    UniqueWeights,
    /// Same kind (and weight shape) at the same place between anchors.
    Order,
    /// A quantizer of the same role on the wire between matched ops.
    Wire,
}

/// One pair of matched ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Op in the PTQ model.
    pub ptq: OpId,
    /// Op in the QAT model.
    pub qat: OpId,
    /// How they were matched.
    pub evidence: Evidence,
}

/// The alignment of one pair of subgraphs.
#[derive(Debug, Clone, PartialEq)]
pub struct SubgraphAlignment {
    /// Subgraph of the PTQ model.
    pub ptq: SubgraphId,
    /// Subgraph of the QAT model.
    pub qat: SubgraphId,
    /// Matched ops, in QAT order.
    pub matches: Vec<Match>,
    /// PTQ ops left unmatched.
    pub unmatched_ptq: Vec<OpId>,
    /// QAT ops left unmatched.
    pub unmatched_qat: Vec<OpId>,
    /// Compute ops (not QUANTIZE/DEQUANTIZE) matched, and in each model.
    pub compute: ComputeCoverage,
}

/// How much of the compute of each model the alignment covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComputeCoverage {
    /// Matched compute ops.
    pub matched: usize,
    /// Compute ops in the PTQ subgraph.
    pub ptq: usize,
    /// Compute ops in the QAT subgraph.
    pub qat: usize,
    /// Unmatched PTQ ops a quantization difference explains (an activation
    /// QAT fused).
    pub explained_ptq: usize,
    /// Unmatched QAT ops a quantization difference explains (the MUL/ADD of
    /// an unfolded BatchNorm, an activation PTQ fused).
    pub explained_qat: usize,
}

impl ComputeCoverage {
    /// At least half of the larger side's compute ops, not counting those a
    /// quantization difference explains, have a counterpart: the two look
    /// like conversions of one network.
    pub fn same_network(&self) -> bool {
        let ptq = self.ptq.saturating_sub(self.explained_ptq);
        let qat = self.qat.saturating_sub(self.explained_qat);
        self.matched >= ptq.max(qat).div_ceil(2)
    }
}

impl SubgraphAlignment {
    /// The PTQ op matched to each QAT op, indexed by QAT op (one pass; use
    /// it instead of searching `matches` per op).
    pub fn ptq_by_qat(&self, qat_ops: usize) -> Vec<Option<OpId>> {
        let mut v = vec![None; qat_ops];
        for m in &self.matches {
            if let Some(slot) = v.get_mut(m.qat.index()) {
                *slot = Some(m.ptq);
            }
        }
        v
    }
}

/// What alignment needs to know about one compute op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlignOp {
    /// Op kind.
    pub kind: OpKind,
    /// Shape of the weight operand, for ops with weights.
    pub weight_shape: Option<Vec<i32>>,
    /// Keras layers named by its output (prefix `quant_` removed).
    pub layers: Vec<String>,
}

impl AlignOp {
    fn compatible(&self, other: &AlignOp) -> bool {
        self.kind == other.kind
            && (self.weight_shape.is_none()
                || other.weight_shape.is_none()
                || self.weight_shape == other.weight_shape)
    }

    fn shares_layer(&self, other: &AlignOp) -> bool {
        self.layers.iter().any(|l| other.layers.contains(l))
    }
}

/// Align two sequences of compute ops; returns (index in `a`, index in `b`,
/// evidence) pairs in increasing order on both sides.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "positions and lengths of in-memory slices, bounded by their lengths"
)]
pub fn align_sequences(a: &[AlignOp], b: &[AlignOp]) -> Vec<(usize, usize, Evidence)> {
    let mut anchors = unique_pairs(
        a,
        b,
        |o| o.layers.first().map(|l| format!("{}|{l}", o.kind)),
        Evidence::LayerName,
    );
    let taken_a: Vec<bool> = mark(a.len(), anchors.iter().map(|x| x.0));
    let taken_b: Vec<bool> = mark(b.len(), anchors.iter().map(|x| x.1));
    anchors.extend(
        unique_pairs(
            a,
            b,
            |o| o.weight_shape.as_ref().map(|w| format!("{}|{w:?}", o.kind)),
            Evidence::UniqueWeights,
        )
        .into_iter()
        .filter(|(i, j, _)| !taken_a[*i] && !taken_b[*j]),
    );
    let anchors = longest_increasing(anchors);

    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut pa, mut pb) = (0, 0);
    for (i, j, ev) in
        anchors
            .into_iter()
            .chain(std::iter::once((a.len(), b.len(), Evidence::Order)))
    {
        fill_gap(a, b, pa..i, pb..j, &mut out);
        if i < a.len() && j < b.len() {
            out.push((i, j, ev));
        }
        pa = i + 1;
        pb = j + 1;
    }
    out
}

fn mark(n: usize, it: impl Iterator<Item = usize>) -> Vec<bool> {
    let mut v = vec![false; n];
    for i in it {
        v[i] = true;
    }
    v
}

/// Pairs whose key occurs exactly once on each side.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "counts of in-memory elements, bounded by their number"
)]
fn unique_pairs(
    a: &[AlignOp],
    b: &[AlignOp],
    key: impl Fn(&AlignOp) -> Option<String>,
    ev: Evidence,
) -> Vec<(usize, usize, Evidence)> {
    let mut count: HashMap<String, (usize, usize, usize, usize)> = HashMap::new();
    for (i, o) in a.iter().enumerate() {
        if let Some(k) = key(o) {
            let e = count.entry(k).or_insert((0, 0, 0, 0));
            e.0 += 1;
            e.2 = i;
        }
    }
    for (j, o) in b.iter().enumerate() {
        if let Some(k) = key(o) {
            let e = count.entry(k).or_insert((0, 0, 0, 0));
            e.1 += 1;
            e.3 = j;
        }
    }
    let mut v: Vec<(usize, usize, Evidence)> = count
        .into_values()
        .filter(|(na, nb, _, _)| *na == 1 && *nb == 1)
        .map(|(_, _, i, j)| (i, j, ev))
        .collect();
    v.sort_unstable();
    v
}

/// The longest chain of pairs increasing on both sides (patience sorting).
#[allow(
    clippy::arithmetic_side_effects,
    reason = "positions and lengths of in-memory slices, bounded by their lengths"
)]
fn longest_increasing(mut pairs: Vec<(usize, usize, Evidence)>) -> Vec<(usize, usize, Evidence)> {
    pairs.sort_unstable();
    let mut tails: Vec<usize> = Vec::new(); // index into pairs of the tail of each length
    let mut prev: Vec<Option<usize>> = vec![None; pairs.len()];
    for (k, p) in pairs.iter().enumerate() {
        let pos = tails.partition_point(|&t| pairs[t].1 < p.1);
        if pos > 0 {
            prev[k] = Some(tails[pos - 1]);
        }
        if pos == tails.len() {
            tails.push(k);
        } else {
            tails[pos] = k;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied();
    while let Some(k) = cur {
        out.push(pairs[k]);
        cur = prev[k];
    }
    out.reverse();
    out
}

#[allow(
    clippy::arithmetic_side_effects,
    reason = "positions and lengths of in-memory slices, bounded by their lengths"
)]
fn fill_gap(
    a: &[AlignOp],
    b: &[AlignOp],
    ra: std::ops::Range<usize>,
    rb: std::ops::Range<usize>,
    out: &mut Vec<(usize, usize, Evidence)>,
) {
    let (n, m) = (ra.len(), rb.len());
    if n == 0 || m == 0 {
        return;
    }
    if n.saturating_mul(m) > LCS_CELLS {
        // Linear fallback: walk both, pairing compatible ops, skipping on the
        // side whose next op finds a partner sooner.
        let (mut i, mut j) = (ra.start, rb.start);
        while i < ra.end && j < rb.end {
            if a[i].compatible(&b[j]) {
                out.push((i, j, Evidence::Order));
                i += 1;
                j += 1;
                continue;
            }
            let next_b = (j..rb.end.min(j + 64)).position(|k| a[i].compatible(&b[k]));
            let next_a = (i..ra.end.min(i + 64)).position(|k| a[k].compatible(&b[j]));
            match (next_a, next_b) {
                (Some(x), Some(y)) if x <= y => i += x,
                (_, Some(y)) => j += y,
                (Some(x), None) => i += x,
                (None, None) => {
                    i += 1;
                    j += 1;
                }
            }
        }
        return;
    }
    // LCS with a score: a compatible pair counts 2, 3 when it shares a layer name.
    let score = |i: usize, j: usize| -> u32 {
        let (x, y) = (&a[ra.start + i], &b[rb.start + j]);
        if !x.compatible(y) {
            0
        } else if x.shares_layer(y) {
            3
        } else {
            2
        }
    };
    let w = m + 1;
    let mut dp = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let s = score(i, j);
            let diag = if s > 0 {
                dp[(i + 1) * w + j + 1] + s
            } else {
                0
            };
            dp[i * w + j] = diag.max(dp[(i + 1) * w + j]).max(dp[i * w + j + 1]);
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        let s = score(i, j);
        if s > 0 && dp[i * w + j] == dp[(i + 1) * w + j + 1] + s {
            out.push((ra.start + i, rb.start + j, Evidence::Order));
            i += 1;
            j += 1;
        } else if dp[(i + 1) * w + j] >= dp[i * w + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
}

/// Where a wire starts: a compute op's output, a graph input, or a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WireSource {
    /// Output of a compute op.
    Op(OpId),
    /// A graph input (or a tensor nothing produces).
    Input(TensorId),
    /// Constant data.
    Constant(TensorId),
}

/// Where a wire ends: a compute op's input, or a graph output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WireSink {
    /// Input of a compute op.
    Op(OpId),
    /// A graph output (its position in the output list).
    Output(usize),
}

/// A chain of quantizer ops between a source and a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    /// Start.
    pub source: WireSource,
    /// End.
    pub sink: WireSink,
    /// Tensor the sink reads.
    pub tensor: TensorId,
    /// QUANTIZE / DEQUANTIZE ops on it, in data order.
    pub quantizers: Vec<OpId>,
}

/// The skeleton of a subgraph: compute ops and the wires between them.
#[derive(Debug)]
pub struct Skeleton {
    /// Compute ops in execution order.
    pub ops: Vec<OpId>,
    /// Alignment view of each compute op (parallel to `ops`).
    pub view: Vec<AlignOp>,
    /// Every wire into a compute op or a graph output.
    pub wires: Vec<Wire>,
}

/// Build the skeleton of a subgraph.
/// `layers` gives each op's layers as the inspection recovered them, so
/// inspect and compare attribute an op to the same layers.
pub fn skeleton(sg: &Subgraph, graph: &Graph<'_>, layers: &[OpInfo]) -> Skeleton {
    let mut ops = Vec::new();
    let mut view = Vec::new();
    // Independent ops (two branches) in an order both conversions share:
    // quantizers as soon as they can run, then by layer name and kind; file
    // position only breaks what is still tied.
    let order = graph.canonical_order(|op| {
        let o = sg.op(op);
        let layer = layers
            .get(op.index())
            .and_then(|i| i.layers.first().cloned())
            .unwrap_or_default();
        (
            !rules::is_quantize_or_dequantize(&o.kind),
            layer,
            o.kind.to_string(),
        )
    });
    for op in order {
        let o = sg.op(op);
        if rules::is_quantize_or_dequantize(&o.kind) {
            continue;
        }
        let weight_shape = rules::rule(&o.kind)
            .weights
            .and_then(|w| o.inputs.get(w.weights).copied().flatten())
            .filter(|t| {
                sg.tensor(*t).is_constant()
                    || graph
                        .producer(*t)
                        .is_some_and(|p| sg.op(p).kind.is(crate::model::BuiltinCode::DEQUANTIZE))
            })
            .map(|t| sg.tensor(t).shape.to_vec());
        let layers = layers
            .get(op.index())
            .map(|i| i.layers.iter().take(ALIGN_LAYERS).cloned().collect())
            .unwrap_or_default();
        ops.push(op);
        view.push(AlignOp {
            kind: o.kind.clone(),
            weight_shape,
            layers,
        });
    }
    let trace = |t: TensorId| -> (WireSource, Vec<OpId>) {
        let mut chain = Vec::new();
        let mut cur = t;
        // Quantizer chains are short; the bound guards against cycles in a
        // malformed file.
        for _ in 0..64 {
            match graph.producer(cur) {
                Some(p) if rules::is_quantize_or_dequantize(&sg.op(p).kind) => {
                    chain.push(p);
                    match sg.op(p).inputs.first().copied().flatten() {
                        Some(i) => cur = i,
                        None => break,
                    }
                }
                Some(p) => {
                    chain.reverse();
                    return (WireSource::Op(p), chain);
                }
                None => break,
            }
        }
        chain.reverse();
        let src = if sg.tensor(cur).is_constant() {
            WireSource::Constant(cur)
        } else {
            WireSource::Input(cur)
        };
        (src, chain)
    };
    let mut wires = Vec::new();
    for &op in &ops {
        for t in sg.op(op).present_inputs() {
            let (source, quantizers) = trace(t);
            if matches!(source, WireSource::Constant(_)) && quantizers.is_empty() {
                continue;
            }
            wires.push(Wire {
                source,
                sink: WireSink::Op(op),
                tensor: t,
                quantizers,
            });
        }
    }
    for (k, &t) in sg.outputs.iter().enumerate() {
        let (source, quantizers) = trace(t);
        wires.push(Wire {
            source,
            sink: WireSink::Output(k),
            tensor: t,
            quantizers,
        });
    }
    Skeleton { ops, view, wires }
}

/// What a QUANTIZE or DEQUANTIZE op does, for matching across models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuantizerRole {
    /// A QUANTIZE (not a DEQUANTIZE).
    pub quantize: bool,
    /// It reads a float tensor.
    pub float_in: bool,
    /// It writes a float tensor.
    pub float_out: bool,
}

impl QuantizerRole {
    /// A QUANTIZE from integer to integer: a requantize.
    pub fn is_requantize(self) -> bool {
        self.quantize && !self.float_in && !self.float_out
    }
}

/// Role of a quantizer op, for matching across models.
pub fn quantizer_role(sg: &Subgraph, op: OpId) -> QuantizerRole {
    let o = sg.op(op);
    let dtype = |t: Option<TensorId>| t.map(|t| sg.tensor(t).dtype);
    let i = dtype(o.inputs.first().copied().flatten());
    let out = dtype(o.outputs.first().copied());
    QuantizerRole {
        quantize: o.kind.is(crate::model::BuiltinCode::QUANTIZE),
        float_in: i.is_some_and(|d| d.is_float()),
        float_out: out.is_some_and(|d| d.is_float()),
    }
}

/// Align a PTQ subgraph with a QAT subgraph.
pub fn align_subgraphs(
    ptq: (&Graph<'_>, SubgraphId, &[OpInfo]),
    qat: (&Graph<'_>, SubgraphId, &[OpInfo]),
) -> (SubgraphAlignment, Skeleton, Skeleton) {
    let (gp, gq) = (ptq.0, qat.0);
    let (sp, sq) = (
        skeleton(gp.subgraph(), gp, ptq.2),
        skeleton(gq.subgraph(), gq, qat.2),
    );
    let ptq = (gp.subgraph(), ptq.1);
    let qat = (gq.subgraph(), qat.1);
    let pairs = align_sequences(&sp.view, &sq.view);
    let compute = ComputeCoverage {
        matched: pairs.len(),
        ptq: sp.ops.len(),
        qat: sq.ops.len(),
        explained_ptq: 0,
        explained_qat: 0,
    };
    let mut matches: Vec<Match> = pairs
        .iter()
        .map(|&(i, j, evidence)| Match {
            ptq: sp.ops[i],
            qat: sq.ops[j],
            evidence,
        })
        .collect();

    // Wires: pair quantizers of the same role on corresponding wires.
    let qat_to_ptq: HashMap<OpId, OpId> = matches.iter().map(|m| (m.qat, m.ptq)).collect();
    // Where each QAT graph input is first listed: one lookup per wire.
    let mut qat_input_position: HashMap<TensorId, usize> = HashMap::new();
    for (k, t) in qat.0.inputs.iter().enumerate() {
        qat_input_position.entry(*t).or_insert(k);
    }
    let map_src = |s: WireSource| match s {
        WireSource::Op(o) => qat_to_ptq.get(&o).map(|p| WireSource::Op(*p)),
        WireSource::Input(t) => qat_input_position
            .get(&t)
            .and_then(|&k| ptq.0.inputs.get(k))
            .map(|t| WireSource::Input(*t)),
        WireSource::Constant(_) => None,
    };
    let map_sink = |s: WireSink| match s {
        WireSink::Op(o) => qat_to_ptq.get(&o).map(|p| WireSink::Op(*p)),
        WireSink::Output(k) => Some(WireSink::Output(k)),
    };
    // The PTQ quantizers on the wires between each pair of ends, by role, in
    // wire order, with a cursor past those already used: `used_ptq` only
    // grows, so each is passed over once however many QAT quantizers ask.
    let mut ptq_quantizers: HashMap<(WireSource, WireSink, QuantizerRole), (Vec<OpId>, usize)> =
        HashMap::new();
    for w in &sp.wires {
        for &p in &w.quantizers {
            let key = (w.source, w.sink, quantizer_role(ptq.0, p));
            ptq_quantizers.entry(key).or_default().0.push(p);
        }
    }
    let mut used_ptq = vec![false; ptq.0.operators.len()];
    for m in &matches {
        used_ptq[m.ptq.index()] = true;
    }
    let mut wire_matches = Vec::new();
    let mut used_qat = vec![false; qat.0.operators.len()];
    for w in &sq.wires {
        let (Some(src), Some(sink)) = (map_src(w.source), map_sink(w.sink)) else {
            continue;
        };
        for &q in &w.quantizers {
            if used_qat[q.index()] {
                continue;
            }
            let role = quantizer_role(qat.0, q);
            let Some((cands, next)) = ptq_quantizers.get_mut(&(src, sink, role)) else {
                continue;
            };
            while cands.get(*next).is_some_and(|p| used_ptq[p.index()]) {
                *next = next.saturating_add(1);
            }
            if let Some(&p) = cands.get(*next) {
                used_ptq[p.index()] = true;
                used_qat[q.index()] = true;
                wire_matches.push(Match {
                    ptq: p,
                    qat: q,
                    evidence: Evidence::Wire,
                });
            }
        }
    }
    matches.extend(wire_matches);
    for m in &matches {
        used_qat[m.qat.index()] = true;
    }
    matches.sort_by_key(|m| (m.qat, m.ptq));
    let unmatched_ptq = ptq.0.op_ids().filter(|o| !used_ptq[o.index()]).collect();
    let unmatched_qat = qat.0.op_ids().filter(|o| !used_qat[o.index()]).collect();
    (
        SubgraphAlignment {
            ptq: ptq.1,
            qat: qat.1,
            matches,
            unmatched_ptq,
            unmatched_qat,
            compute,
        },
        sp,
        sq,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BuiltinCode as C;

    fn op(code: C, w: Option<&[i32]>, layer: &str) -> AlignOp {
        AlignOp {
            kind: OpKind::Builtin(code),
            weight_shape: w.map(<[i32]>::to_vec),
            layers: if layer.is_empty() {
                vec![]
            } else {
                vec![layer.to_owned()]
            },
        }
    }

    #[test]
    fn names_anchor_and_order_fills() {
        let a = vec![
            op(C::CONV_2D, Some(&[8, 3, 3, 3]), "conv2d"),
            op(C::MAX_POOL_2D, None, "max_pooling2d"),
            op(C::CONV_2D, Some(&[16, 3, 3, 8]), "conv2d_1"),
            op(C::FULLY_CONNECTED, Some(&[10, 16]), "dense"),
            op(C::SOFTMAX, None, ""),
        ];
        // QAT: an extra RELU after the first conv (fusion blocked), names unchanged.
        let b = vec![
            op(C::CONV_2D, Some(&[8, 3, 3, 3]), "conv2d"),
            op(C::RELU, None, "re_lu"),
            op(C::MAX_POOL_2D, None, "max_pooling2d"),
            op(C::CONV_2D, Some(&[16, 3, 3, 8]), "conv2d_1"),
            op(C::FULLY_CONNECTED, Some(&[10, 16]), "dense"),
            op(C::SOFTMAX, None, "dense"),
        ];
        let m = align_sequences(&a, &b);
        let pairs: Vec<(usize, usize)> = m.iter().map(|x| (x.0, x.1)).collect();
        assert_eq!(pairs, vec![(0, 0), (1, 2), (2, 3), (3, 4), (4, 5)]);
        assert_eq!(m[0].2, Evidence::LayerName);
        assert_eq!(m[4].2, Evidence::Order);
    }

    #[test]
    fn renamed_layers_still_align_by_weights_and_order() {
        // No names at all (stripped debug info): unique weight shapes anchor.
        let a = vec![
            op(C::CONV_2D, Some(&[8, 3, 3, 3]), ""),
            op(C::ADD, None, ""),
            op(C::CONV_2D, Some(&[8, 1, 1, 8]), ""),
            op(C::MUL, None, ""),
        ];
        let b = vec![
            op(C::CONV_2D, Some(&[8, 3, 3, 3]), ""),
            op(C::MUL, None, ""),
            op(C::ADD, None, ""),
            op(C::CONV_2D, Some(&[8, 1, 1, 8]), ""),
            op(C::MUL, None, ""),
        ];
        let m = align_sequences(&a, &b);
        let pairs: Vec<(usize, usize, Evidence)> = m;
        assert_eq!(
            pairs,
            vec![
                (0, 0, Evidence::UniqueWeights),
                (1, 2, Evidence::Order),
                (2, 3, Evidence::UniqueWeights),
                (3, 4, Evidence::Order)
            ]
        );
    }

    #[test]
    fn crossing_anchors_are_dropped() {
        // Two name anchors in opposite order: only one can be kept.
        let a = vec![op(C::ADD, None, "x"), op(C::ADD, None, "y")];
        let b = vec![op(C::ADD, None, "y"), op(C::ADD, None, "x")];
        let m = align_sequences(&a, &b);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn large_gaps_use_the_linear_pass() {
        let n = 3000; // 9e6 cells > LCS_CELLS
        let a: Vec<AlignOp> = (0..n)
            .map(|i| op(if i % 2 == 0 { C::ADD } else { C::MUL }, None, ""))
            .collect();
        let mut b = a.clone();
        b.insert(10, op(C::RELU, None, ""));
        let m = align_sequences(&a, &b);
        assert_eq!(m.len(), n);
        assert!(
            m.iter()
                .all(|(i, j, _)| if *i < 10 { i == j } else { *j == i + 1 })
        );
    }
}
