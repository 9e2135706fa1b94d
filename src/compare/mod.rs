//! Compare a PTQ conversion with a QAT conversion of the same network and say
//! where the QAT model's quantizers differ from what PTQ needs: quantizers to
//! remove (B-1), ops to quantize (B-2), and informational differences (ranges,
//! weight granularity, fusion, structure). Pure data; `report::compare` words it.

pub mod align;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use crate::analysis::{self, Compute, FindingKind, Inspection, SchemeKind, rules};
use crate::graph::Graph;
use crate::model::{
    Activation, BuiltinCode, DType, Granularity, Model, OpId, OpKind, Subgraph, SubgraphId,
    TensorId,
};
pub use align::{ComputeCoverage, Evidence, Match, SubgraphAlignment};
use align::{Skeleton, WireSink, WireSource};

/// Kinds of comparison findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// B-1: the QAT model has a quantizer PTQ does not need.
    RemoveQuantizer,
    /// B-2: the QAT model runs in float what PTQ runs in integer.
    AddQuantizer,
    /// A learned range far from the calibrated one, or never trained.
    RangeMismatch,
    /// Per-tensor versus per-channel weights.
    GranularityMismatch,
    /// An activation fused in one model and separate in the other.
    FusionMismatch,
    /// Ops present in one model only (other than quantizers), or different I/O.
    StructureMismatch,
}

impl Kind {
    /// All kinds, in report order.
    pub const ALL: [Kind; 6] = [
        Kind::RemoveQuantizer,
        Kind::AddQuantizer,
        Kind::RangeMismatch,
        Kind::GranularityMismatch,
        Kind::FusionMismatch,
        Kind::StructureMismatch,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RemoveQuantizer => "remove-quantizer",
            Kind::AddQuantizer => "add-quantizer",
            Kind::RangeMismatch => "range-mismatch",
            Kind::GranularityMismatch => "granularity-mismatch",
            Kind::FusionMismatch => "fusion-mismatch",
            Kind::StructureMismatch => "structure-mismatch",
        }
    }

    /// Parse a kebab-case name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether it is about quantizer placement (add or remove).
    pub fn is_placement(self) -> bool {
        matches!(self, Kind::RemoveQuantizer | Kind::AddQuantizer)
    }
}

/// Which model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The PTQ model.
    Ptq,
    /// The QAT model.
    Qat,
}

/// What a quantizer to remove does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "what", rename_all = "kebab-case")]
pub enum Removal {
    /// int → int QUANTIZE.
    Requantize {
        /// Input (scale, zero point).
        from: Option<(f32, i64)>,
        /// Output (scale, zero point).
        to: Option<(f32, i64)>,
        /// A same-scale op next to it whose own output quantizer causes it.
        same_scale_op: Option<(OpId, OpKind)>,
        /// Layer producing the requantized value.
        producer_layer: Option<String>,
        /// Layer consuming it.
        consumer_layer: Option<String>,
    },
    /// QUANTIZE and DEQUANTIZE back to back between two float values or two
    /// integer ops.
    RoundTrip,
    /// A single QUANTIZE or DEQUANTIZE between two ops that PTQ joins directly.
    Boundary {
        /// QUANTIZE (true) or DEQUANTIZE.
        quantize: bool,
    },
}

/// The numbers behind a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "detail", rename_all = "kebab-case")]
pub enum Detail {
    /// B-1.
    Remove(Removal),
    /// B-2: a float region of the QAT model.
    Add {
        /// Op kinds in the region (distinct, in order).
        op_kinds: Vec<OpKind>,
        /// Keras layers of the region.
        layers: Vec<String>,
        /// Layers whose kind tfmot's default registry does not quantize.
        unsupported: Vec<(String, OpKind)>,
        /// The region holds a BatchNorm left unfolded (MUL/ADD after a conv).
        batchnorm_unfolded: bool,
        /// DEQUANTIZE ops entering it (the input side already has a range).
        entries: Vec<OpId>,
        /// QUANTIZE ops leaving it (the output side already has a range).
        exits: Vec<OpId>,
        /// It reads a float graph input with no quantizer in front.
        reads_graph_input: bool,
        /// How its PTQ counterparts compute.
        ptq_compute: Compute,
        /// Nothing in the QAT subgraph is integer: it was not converted from a QAT graph.
        whole_model: bool,
    },
    /// A matched tensor's ranges.
    Range {
        /// QAT tensor.
        qat_tensor: TensorId,
        /// PTQ tensor.
        ptq_tensor: TensorId,
        /// QAT [min, max].
        qat_range: (f32, f32),
        /// PTQ [min, max].
        ptq_range: (f32, f32),
        /// QAT width / PTQ width.
        ratio: f32,
        /// The QAT range is still tfmot's initial [-6, 6].
        initial: bool,
    },
    /// Weight granularity.
    Granularity {
        /// QAT weights.
        qat_weights: TensorId,
        /// PTQ weights.
        ptq_weights: TensorId,
        /// QAT granularity.
        qat: Granularity,
        /// PTQ granularity.
        ptq: Granularity,
    },
    /// Fusion.
    Fusion {
        /// The model that keeps the activation as its own op.
        separate_in: Side,
        /// The activation.
        activation: OpKind,
    },
    /// Structure.
    Structure {
        /// Model holding the extra ops.
        side: Side,
        /// Op kinds.
        op_kinds: Vec<OpKind>,
        /// Keras layers.
        layers: Vec<String>,
        /// Ops of a BatchNorm left unfolded.
        batchnorm_unfolded: bool,
    },
    /// Model I/O types differ.
    Io {
        /// PTQ input and output types.
        ptq: (Vec<DType>, Vec<DType>),
        /// QAT input and output types.
        qat: (Vec<DType>, Vec<DType>),
    },
}

/// One comparison finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Kind.
    pub kind: Kind,
    /// QAT subgraph.
    pub subgraph: SubgraphId,
    /// Ops in the QAT model.
    pub qat_ops: Vec<OpId>,
    /// Ops in the PTQ model.
    pub ptq_ops: Vec<OpId>,
    /// Keras layer the finding is about.
    pub layer: Option<String>,
    /// The numbers.
    #[serde(flatten)]
    pub detail: Detail,
}

/// Result of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// PTQ model scheme.
    pub ptq_scheme: SchemeKind,
    /// QAT model scheme.
    pub qat_scheme: SchemeKind,
    /// Aligned subgraph pairs.
    pub alignment: Vec<SubgraphAlignment>,
    /// Subgraphs present in one model only: (PTQ-only, QAT-only).
    pub unpaired_subgraphs: (Vec<SubgraphId>, Vec<SubgraphId>),
    /// Findings, by subgraph, kind and first QAT op.
    pub findings: Vec<Finding>,
}

impl Comparison {
    /// True when no add or remove finding exists: QAT placement equals PTQ's.
    pub fn placement_matches(&self) -> bool {
        !self.findings.iter().any(|f| f.kind.is_placement())
    }

    /// Whether the models look like conversions of the same network (in
    /// every paired subgraph, half or more of the compute ops align). When
    /// not, findings say little about quantizer placement.
    pub fn same_network(&self) -> bool {
        self.alignment.iter().all(|a| a.compute.same_network())
    }

    /// Number of findings of a kind.
    pub fn count(&self, kind: Kind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }
}

/// Thresholds of the informational checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Flag a range whose width differs by more than this factor.
    pub range_ratio: f32,
}

impl Default for Options {
    fn default() -> Self {
        Options { range_ratio: 4.0 }
    }
}

/// Compare a PTQ model with a QAT model of the same network.
pub fn compare(ptq: &Model, qat: &Model, options: Options) -> Comparison {
    let ip = analysis::inspect(ptq);
    let iq = analysis::inspect(qat);
    let n = ptq.subgraphs.len().min(qat.subgraphs.len());
    let mut alignment = Vec::with_capacity(n);
    let mut findings = Vec::new();
    for s in 0..n {
        let id = SubgraphId(s as u32);
        let (gp, gq) = (Graph::new(&ptq.subgraphs[s]), Graph::new(&qat.subgraphs[s]));
        let (a, sp, sq) = align::align_subgraphs((&gp, id), (&gq, id));
        let ctx = Ctx {
            ptq: &ptq.subgraphs[s],
            qat: &qat.subgraphs[s],
            gq: &gq,
            ptq_by_qat: a.ptq_by_qat(qat.subgraphs[s].operators.len()),
            ip: &ip,
            iq: &iq,
            s,
            a: &a,
            sp: &sp,
            sq: &sq,
            options,
        };
        findings.extend(ctx.findings());
        alignment.push(a);
    }
    findings.sort_by(|x, y| {
        (x.subgraph, x.kind, x.qat_ops.first(), x.ptq_ops.first()).cmp(&(
            y.subgraph,
            y.kind,
            y.qat_ops.first(),
            y.ptq_ops.first(),
        ))
    });
    Comparison {
        ptq_scheme: ip.scheme.kind,
        qat_scheme: iq.scheme.kind,
        alignment,
        unpaired_subgraphs: (
            (n..ptq.subgraphs.len())
                .map(|s| SubgraphId(s as u32))
                .collect(),
            (n..qat.subgraphs.len())
                .map(|s| SubgraphId(s as u32))
                .collect(),
        ),
        findings,
    }
}

struct Ctx<'a> {
    ptq: &'a Subgraph<'a>,
    qat: &'a Subgraph<'a>,
    /// Dataflow of the QAT subgraph, built once.
    gq: &'a Graph<'a>,
    /// The PTQ op matched to each QAT op.
    ptq_by_qat: Vec<Option<OpId>>,
    ip: &'a Inspection,
    iq: &'a Inspection,
    s: usize,
    a: &'a SubgraphAlignment,
    sp: &'a Skeleton,
    sq: &'a Skeleton,
    options: Options,
}

/// Keras layer kinds tfmot's default 8-bit registry quantizes, by the TFLite op they become.
fn tfmot_supports(kind: &OpKind) -> bool {
    let OpKind::Builtin(c) = kind else {
        return false;
    };
    matches!(
        *c,
        BuiltinCode::CONV_2D
            | BuiltinCode::DEPTHWISE_CONV_2D
            | BuiltinCode::FULLY_CONNECTED
            | BuiltinCode::TRANSPOSE_CONV
            | BuiltinCode::ADD
            | BuiltinCode::CONCATENATION
            | BuiltinCode::AVERAGE_POOL_2D
            | BuiltinCode::MAX_POOL_2D
            | BuiltinCode::MEAN
            | BuiltinCode::RESHAPE
            | BuiltinCode::RELU
            | BuiltinCode::RELU6
            | BuiltinCode::LEAKY_RELU
            | BuiltinCode::SOFTMAX
            | BuiltinCode::LOGISTIC
            | BuiltinCode::TANH
            | BuiltinCode::HARD_SWISH
            | BuiltinCode::RESIZE_BILINEAR
            | BuiltinCode::RESIZE_NEAREST_NEIGHBOR
            | BuiltinCode::PAD
            | BuiltinCode::TRANSPOSE
            | BuiltinCode::STRIDED_SLICE
            | BuiltinCode::SQUEEZE
            | BuiltinCode::EXPAND_DIMS
    )
}

fn int_range(sg: &Subgraph, t: TensorId) -> Option<(f32, f32)> {
    let tensor = sg.tensor(t);
    let (s, zp) = tensor.per_tensor()?;
    let (qmin, qmax) = match tensor.dtype {
        DType::INT8 => (-128i64, 127i64),
        DType::UINT8 => (0, 255),
        DType::INT16 => (-32768, 32767),
        _ => return None,
    };
    // The zero point is the file's i64: far outside the type's range it
    // gives no range rather than an overflow.
    let (lo, hi) = (qmin.checked_sub(zp)?, qmax.checked_sub(zp)?);
    Some((s * lo as f32, s * hi as f32))
}

impl Ctx<'_> {
    fn compute(&self, side: Side, op: OpId) -> Compute {
        let i = match side {
            Side::Ptq => self.ip,
            Side::Qat => self.iq,
        };
        i.subgraphs[self.s].ops[op.index()].compute
    }

    fn layer(&self, side: Side, op: OpId) -> Option<String> {
        let i = match side {
            Side::Ptq => self.ip,
            Side::Qat => self.iq,
        };
        i.subgraphs[self.s].ops[op.index()].layer.clone()
    }

    fn ptq_of(&self, qat: OpId) -> Option<OpId> {
        self.ptq_by_qat.get(qat.index()).copied().flatten()
    }

    fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let covered = self.add_quantizer(&mut out);
        self.remove_quantizer(&covered, &mut out);
        let fused = self.fusion(&mut out);
        self.structure(&covered, &fused, &mut out);
        self.granularity(&mut out);
        self.ranges(&mut out);
        out
    }

    fn finding(
        &self,
        kind: Kind,
        qat_ops: Vec<OpId>,
        ptq_ops: Vec<OpId>,
        layer: Option<String>,
        detail: Detail,
    ) -> Finding {
        Finding {
            kind,
            subgraph: SubgraphId(self.s as u32),
            qat_ops,
            ptq_ops,
            layer,
            detail,
        }
    }

    /// B-2. Returns the QAT ops (compute and quantizer) the findings cover.
    fn add_quantizer(&self, out: &mut Vec<Finding>) -> BTreeSet<OpId> {
        let mut covered = BTreeSet::new();
        let qat_int = self.iq.subgraphs[self.s]
            .ops
            .iter()
            .any(|o| o.compute.is_integer());
        let ptq_int_ops: Vec<OpId> = self.ip.subgraphs[self.s]
            .ops
            .iter()
            .filter(|o| o.compute.is_integer())
            .map(|o| o.op)
            .collect();
        if !qat_int && !ptq_int_ops.is_empty() {
            // Nothing in the QAT model is integer: it was not converted as QAT.
            let float_ops: Vec<OpId> = self.iq.subgraphs[self.s]
                .ops
                .iter()
                .filter(|o| o.compute.is_float())
                .map(|o| o.op)
                .collect();
            if !float_ops.is_empty() {
                let ptq_compute = self.compute(Side::Ptq, ptq_int_ops[0]);
                covered.extend(float_ops.iter().copied());
                out.push(self.finding(
                    Kind::AddQuantizer,
                    float_ops.clone(),
                    ptq_int_ops,
                    None,
                    self.add_detail(&float_ops, Vec::new(), Vec::new(), false, ptq_compute, true),
                ));
            }
            return covered;
        }
        for f in &self.iq.subgraphs[self.s].findings {
            let FindingKind::FloatIsland {
                entries,
                exits,
                from_graph_input,
                ..
            } = &f.kind
            else {
                continue;
            };
            let mut ptq_ops: Vec<OpId> = f
                .ops
                .iter()
                .filter_map(|o| self.ptq_of(*o).or_else(|| self.fused_into(*o)))
                .filter(|p| self.compute(Side::Ptq, *p).is_integer())
                .collect();
            ptq_ops.sort_unstable();
            ptq_ops.dedup();
            // PTQ also runs these in float (or has no counterpart): nothing a
            // quantizer in the QAT model could fix.
            let Some(&first) = ptq_ops.first() else {
                continue;
            };
            let ptq_compute = self.compute(Side::Ptq, first);
            covered.extend(f.ops.iter().copied());
            covered.extend(entries.iter().copied());
            covered.extend(exits.iter().copied());
            out.push(self.finding(
                Kind::AddQuantizer,
                f.ops.clone(),
                ptq_ops,
                f.layer.clone(),
                self.add_detail(
                    &f.ops,
                    entries.clone(),
                    exits.clone(),
                    *from_graph_input,
                    ptq_compute,
                    false,
                ),
            ));
        }
        covered
    }

    /// For a QAT op with no PTQ counterpart (a BatchNorm MUL/ADD, a separate
    /// activation), the PTQ op it was folded into: the counterpart of the
    /// nearest matched producer, through quantizer ops and other unmatched ops.
    fn fused_into(&self, op: OpId) -> Option<OpId> {
        let g = self.gq;
        let mut cur = op;
        for _ in 0..8 {
            let t = self
                .qat
                .op(cur)
                .present_inputs()
                .find(|t| !self.qat.tensor(*t).is_constant())?;
            let mut p = g.producer(t)?;
            while rules::is_quantize_or_dequantize(&self.qat.op(p).kind) {
                let t = self.qat.op(p).inputs.first().copied().flatten()?;
                p = g.producer(t)?;
            }
            if let Some(m) = self.ptq_of(p) {
                return Some(m);
            }
            cur = p;
        }
        None
    }

    fn add_detail(
        &self,
        ops: &[OpId],
        entries: Vec<OpId>,
        exits: Vec<OpId>,
        reads_graph_input: bool,
        ptq_compute: Compute,
        whole_model: bool,
    ) -> Detail {
        let mut op_kinds: Vec<OpKind> = Vec::new();
        let mut layers: Vec<String> = Vec::new();
        let mut unsupported: Vec<(String, OpKind)> = Vec::new();
        // Membership in sets, order in the vectors: an island of thousands of
        // ops with as many layers stays linear.
        let (mut seen_kinds, mut seen_layers, mut seen_unsupported) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        for &o in ops {
            let kind = &self.qat.op(o).kind;
            if seen_kinds.insert(kind) {
                op_kinds.push(kind.clone());
            }
            let layer = self.layer(Side::Qat, o);
            if let Some(l) = &layer
                && seen_layers.insert(l.clone())
            {
                layers.push(l.clone());
            }
            if !tfmot_supports(kind) && self.ptq_of(o).is_some() {
                let name = layer.unwrap_or_else(|| format!("op #{o}"));
                if seen_unsupported.insert(name.clone()) {
                    unsupported.push((name, kind.clone()));
                }
            }
        }
        Detail::Add {
            op_kinds,
            layers,
            unsupported,
            batchnorm_unfolded: self.bn_unfolded(ops),
            entries,
            exits,
            reads_graph_input,
            ptq_compute,
            whole_model,
        }
    }

    /// MUL and/or ADD with constant operands right after a conv in the QAT
    /// model, unmatched in PTQ (where BN folded into the conv).
    fn bn_unfolded(&self, ops: &[OpId]) -> bool {
        let g = self.gq;
        ops.iter().any(|&o| {
            let op = self.qat.op(o);
            (op.kind.is(BuiltinCode::MUL) || op.kind.is(BuiltinCode::ADD))
                && self.ptq_of(o).is_none()
                && op
                    .present_inputs()
                    .any(|t| self.qat.tensor(t).is_constant())
                && op.present_inputs().filter_map(|t| g.producer(t)).any(|p| {
                    let k = &self.qat.op(p).kind;
                    k.is(BuiltinCode::CONV_2D)
                        || k.is(BuiltinCode::DEPTHWISE_CONV_2D)
                        || k.is(BuiltinCode::MUL)
                        || k.is(BuiltinCode::FULLY_CONNECTED)
                })
        })
    }

    /// B-1.
    fn remove_quantizer(&self, covered: &BTreeSet<OpId>, out: &mut Vec<Finding>) {
        let matched: BTreeSet<OpId> = self.a.matches.iter().map(|m| m.qat).collect();
        let g = self.gq;
        let mut done: BTreeSet<OpId> = BTreeSet::new();
        for w in &self.sq.wires {
            let extra: Vec<OpId> = w
                .quantizers
                .iter()
                .copied()
                .filter(|q| !matched.contains(q) && !covered.contains(q) && !done.contains(q))
                .collect();
            if extra.is_empty() {
                continue;
            }
            let at_io =
                matches!(w.source, WireSource::Input(_)) || matches!(w.sink, WireSink::Output(_));
            // A quantizer next to a float op that PTQ also runs in float is the
            // converter's normal float fallback, not a placement choice.
            let float_neighbour = |side_op: Option<OpId>| {
                side_op.is_some_and(|o| self.compute(Side::Qat, o).is_float())
            };
            let src_op = match w.source {
                WireSource::Op(o) => Some(o),
                _ => None,
            };
            let sink_op = match w.sink {
                WireSink::Op(o) => Some(o),
                WireSink::Output(_) => None,
            };
            let roles: Vec<(bool, bool, bool)> = extra
                .iter()
                .map(|q| align::quantizer_role(self.qat, *q))
                .collect();
            let requant: Vec<OpId> = extra
                .iter()
                .zip(&roles)
                .filter(|(_, r)| r.0 && !r.1 && !r.2)
                .map(|(q, _)| *q)
                .collect();
            done.extend(extra.iter().copied());
            if !requant.is_empty() {
                for q in requant {
                    let o = self.qat.op(q);
                    let ti = o.inputs.first().copied().flatten();
                    let to = o.outputs.first().copied();
                    if let (Some(ti), Some(to)) = (ti, to)
                        && self.qat.tensor(ti).dtype != self.qat.tensor(to).dtype
                    {
                        continue;
                    }
                    // The same-scale op whose own range forced this requantize.
                    let same_scale = to
                        .into_iter()
                        .flat_map(|t| g.distinct_consumers(t))
                        .chain(ti.and_then(|t| g.producer(t)))
                        .chain(src_op)
                        .chain(sink_op)
                        .find(|op| rules::is_same_scale(&self.qat.op(*op).kind))
                        .map(|op| (op, self.qat.op(op).kind.clone()));
                    let layer = same_scale
                        .as_ref()
                        .and_then(|(op, _)| self.layer(Side::Qat, *op))
                        .or_else(|| src_op.and_then(|o| self.layer(Side::Qat, o)));
                    let ptq_ops: Vec<OpId> = src_op
                        .into_iter()
                        .chain(sink_op)
                        .filter_map(|o| self.ptq_of(o))
                        .collect();
                    out.push(self.finding(
                        Kind::RemoveQuantizer,
                        vec![q],
                        ptq_ops,
                        layer,
                        Detail::Remove(Removal::Requantize {
                            from: ti.and_then(|t| self.qat.tensor(t).per_tensor()),
                            to: to.and_then(|t| self.qat.tensor(t).per_tensor()),
                            same_scale_op: same_scale,
                            producer_layer: src_op.and_then(|o| self.layer(Side::Qat, o)),
                            consumer_layer: sink_op.and_then(|o| self.layer(Side::Qat, o)),
                        }),
                    ));
                }
                continue;
            }
            if at_io {
                // Reported once, as an I/O type difference, below.
                continue;
            }
            if float_neighbour(src_op) || float_neighbour(sink_op) {
                continue;
            }
            let ptq_ops: Vec<OpId> = src_op
                .into_iter()
                .chain(sink_op)
                .filter_map(|o| self.ptq_of(o))
                .collect();
            let layer = src_op
                .and_then(|o| self.layer(Side::Qat, o))
                .or_else(|| sink_op.and_then(|o| self.layer(Side::Qat, o)));
            let removal = if extra.len() >= 2 {
                Removal::RoundTrip
            } else {
                Removal::Boundary {
                    quantize: roles[0].0,
                }
            };
            out.push(self.finding(
                Kind::RemoveQuantizer,
                extra,
                ptq_ops,
                layer,
                Detail::Remove(removal),
            ));
        }
        {
            let io = |sg: &Subgraph| {
                (
                    sg.inputs
                        .iter()
                        .map(|t| sg.tensor(*t).dtype)
                        .collect::<Vec<_>>(),
                    sg.outputs
                        .iter()
                        .map(|t| sg.tensor(*t).dtype)
                        .collect::<Vec<_>>(),
                )
            };
            let (pi, qi) = (io(self.ptq), io(self.qat));
            if pi != qi {
                out.push(self.finding(
                    Kind::StructureMismatch,
                    Vec::new(),
                    Vec::new(),
                    None,
                    Detail::Io { ptq: pi, qat: qi },
                ));
            }
        }
    }

    /// Activations fused in one model and separate in the other. Returns the
    /// ops explained this way.
    fn fusion(&self, out: &mut Vec<Finding>) -> (BTreeSet<OpId>, BTreeSet<OpId>) {
        let mut explained = (BTreeSet::new(), BTreeSet::new());
        let unmatched_q: BTreeSet<OpId> = self.a.unmatched_qat.iter().copied().collect();
        let unmatched_p: BTreeSet<OpId> = self.a.unmatched_ptq.iter().copied().collect();
        let fused =
            |sg: &Subgraph, o: OpId| sg.op(o).activation.is_some_and(|a| a != Activation::None);
        // Separate in QAT, fused in PTQ.
        for w in &self.sq.wires {
            let (WireSource::Op(src), WireSink::Op(act)) = (w.source, w.sink) else {
                continue;
            };
            if !unmatched_q.contains(&act) || !rules::is_fusable_activation(&self.qat.op(act).kind)
            {
                continue;
            }
            let Some(p) = self.ptq_of(src) else { continue };
            if fused(self.ptq, p) && !fused(self.qat, src) {
                explained.0.insert(act);
                out.push(
                    self.finding(
                        Kind::FusionMismatch,
                        vec![src, act],
                        vec![p],
                        self.layer(Side::Qat, act)
                            .or_else(|| self.layer(Side::Qat, src)),
                        Detail::Fusion {
                            separate_in: Side::Qat,
                            activation: self.qat.op(act).kind.clone(),
                        },
                    ),
                );
            }
        }
        // Separate in PTQ, fused in QAT.
        let qat_of: BTreeMap<OpId, OpId> = self.a.matches.iter().map(|m| (m.ptq, m.qat)).collect();
        for w in &self.sp.wires {
            let (WireSource::Op(src), WireSink::Op(act)) = (w.source, w.sink) else {
                continue;
            };
            if !unmatched_p.contains(&act) || !rules::is_fusable_activation(&self.ptq.op(act).kind)
            {
                continue;
            }
            let Some(&q) = qat_of.get(&src) else { continue };
            if fused(self.qat, q) && !fused(self.ptq, src) {
                explained.1.insert(act);
                out.push(self.finding(
                    Kind::FusionMismatch,
                    vec![q],
                    vec![src, act],
                    self.layer(Side::Qat, q),
                    Detail::Fusion {
                        separate_in: Side::Ptq,
                        activation: self.ptq.op(act).kind.clone(),
                    },
                ));
            }
        }
        explained
    }

    fn structure(
        &self,
        covered: &BTreeSet<OpId>,
        fused: &(BTreeSet<OpId>, BTreeSet<OpId>),
        out: &mut Vec<Finding>,
    ) {
        for (side, sg, unmatched, skip) in [
            (Side::Qat, self.qat, &self.a.unmatched_qat, &fused.0),
            (Side::Ptq, self.ptq, &self.a.unmatched_ptq, &fused.1),
        ] {
            // Consecutive runs of unmatched compute ops.
            let mut run: Vec<OpId> = Vec::new();
            let mut runs: Vec<Vec<OpId>> = Vec::new();
            for &o in unmatched.iter() {
                let k = &sg.op(o).kind;
                if rules::is_quantize_or_dequantize(k)
                    || skip.contains(&o)
                    || (side == Side::Qat && covered.contains(&o))
                {
                    continue;
                }
                if run.last().is_some_and(|l| l.0 + 1 != o.0) {
                    runs.push(std::mem::take(&mut run));
                }
                run.push(o);
            }
            if !run.is_empty() {
                runs.push(run);
            }
            for run in runs {
                let mut op_kinds: Vec<OpKind> = Vec::new();
                let mut layers: Vec<String> = Vec::new();
                let (mut seen_kinds, mut seen_layers) = (HashSet::new(), HashSet::new());
                for &o in &run {
                    let k = &sg.op(o).kind;
                    if seen_kinds.insert(k) {
                        op_kinds.push(k.clone());
                    }
                    if let Some(l) = self.layer(side, o)
                        && seen_layers.insert(l.clone())
                    {
                        layers.push(l);
                    }
                }
                let bn = side == Side::Qat && self.bn_unfolded(&run);
                let layer = layers.first().cloned();
                let (qat_ops, ptq_ops) = match side {
                    Side::Qat => (run, Vec::new()),
                    Side::Ptq => (Vec::new(), run),
                };
                out.push(self.finding(
                    Kind::StructureMismatch,
                    qat_ops,
                    ptq_ops,
                    layer,
                    Detail::Structure {
                        side,
                        op_kinds,
                        layers,
                        batchnorm_unfolded: bn,
                    },
                ));
            }
        }
    }

    fn granularity(&self, out: &mut Vec<Finding>) {
        for m in &self.a.matches {
            let (q, p) = (self.qat.op(m.qat), self.ptq.op(m.ptq));
            let Some(w) = rules::weight_operands(&q.kind) else {
                continue;
            };
            let (Some(Some(wq)), Some(Some(wp))) =
                (q.inputs.get(w.weights), p.inputs.get(w.weights))
            else {
                continue;
            };
            let (gq, gp) = (
                self.qat.tensor(*wq).granularity(),
                self.ptq.tensor(*wp).granularity(),
            );
            let class = |g: Granularity| match g {
                Granularity::PerTensor => 1,
                Granularity::PerAxis { .. } => 2,
                _ => 0,
            };
            if class(gq) != 0 && class(gp) != 0 && class(gq) != class(gp) {
                out.push(self.finding(
                    Kind::GranularityMismatch,
                    vec![m.qat],
                    vec![m.ptq],
                    self.layer(Side::Qat, m.qat),
                    Detail::Granularity {
                        qat_weights: *wq,
                        ptq_weights: *wp,
                        qat: gq,
                        ptq: gp,
                    },
                ));
            }
        }
    }

    fn ranges(&self, out: &mut Vec<Finding>) {
        for m in &self.a.matches {
            if m.evidence == Evidence::Wire {
                continue;
            }
            let (q, p) = (self.qat.op(m.qat), self.ptq.op(m.ptq));
            if rules::has_fixed_output(&q.kind) || rules::is_same_scale(&q.kind) {
                continue;
            }
            let (Some(&tq), Some(&tp)) = (q.outputs.first(), p.outputs.first()) else {
                continue;
            };
            if self.qat.tensor(tq).dtype != self.ptq.tensor(tp).dtype {
                continue;
            }
            let (Some(rq), Some(rp)) = (int_range(self.qat, tq), int_range(self.ptq, tp)) else {
                continue;
            };
            let (wq, wp) = (rq.1 - rq.0, rp.1 - rp.0);
            if wq <= 0.0 || wp <= 0.0 {
                continue;
            }
            let ratio = wq / wp;
            let near = |a: f32, b: f32| (a - b).abs() <= 0.05;
            let initial = near(rq.0, -6.0) && near(rq.1, 6.0);
            if initial || ratio > self.options.range_ratio || ratio < 1.0 / self.options.range_ratio
            {
                out.push(self.finding(
                    Kind::RangeMismatch,
                    vec![m.qat],
                    vec![m.ptq],
                    self.layer(Side::Qat, m.qat),
                    Detail::Range {
                        qat_tensor: tq,
                        ptq_tensor: tp,
                        qat_range: rq,
                        ptq_range: rp,
                        ratio,
                        initial,
                    },
                ));
            }
        }
    }
}
