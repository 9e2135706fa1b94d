//! Compare a PTQ conversion with a QAT conversion of the same network and say
//! where the QAT model's quantizers differ from what PTQ needs: quantizers to
//! remove (B-1), ops to quantize (B-2), and informational differences (ranges,
//! weight granularity, fusion, structure). Pure data; `report::compare` words it.

#![deny(clippy::arithmetic_side_effects)]

pub mod align;
mod wording;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::advice::{self, Culprit, PlanIndex, Suggestion};
use crate::analysis::{self, Compute, FindingKind, Inspection, SchemeKind};
use crate::graph::Graph;
use crate::model::{
    Activation, BuiltinCode, DType, Granularity, Model, OpId, OpKind, Subgraph, SubgraphId,
    TensorId,
};
use crate::producer::{Producer, Vocabulary, is_tf_op_lambda};
use crate::rules;
pub use align::{ComputeCoverage, Evidence, Match, SubgraphAlignment};
use align::{Skeleton, WireSink, WireSource};
pub use wording::{RangeVerdict, RollUp, Wording};

/// Kinds of comparison findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// The QAT model has a quantizer PTQ does not need.
    RemoveQuantizer,
    /// The QAT model runs in float what PTQ runs in integer.
    AddQuantizer,
    /// QAT ranges still at tfmot's initial [-6, 6]: the quantizers never trained.
    RangeUntrained,
    /// A learned range much narrower than the calibrated one: values clip.
    RangeClipping,
    /// A learned range much wider than the calibrated one: resolution is lost.
    RangeWide,
    /// Per-tensor versus per-channel weights.
    GranularityMismatch,
    /// An activation fused in one model and separate in the other.
    FusionMismatch,
    /// Ops present in one model only (other than quantizers), or different I/O.
    StructureMismatch,
    /// The two compute at different integer widths (int8 against int16
    /// activations).
    WidthMismatch,
}

impl Kind {
    /// All kinds, in report order.
    pub const ALL: [Kind; 9] = [
        Kind::WidthMismatch,
        Kind::RemoveQuantizer,
        Kind::AddQuantizer,
        Kind::RangeUntrained,
        Kind::RangeClipping,
        Kind::RangeWide,
        Kind::GranularityMismatch,
        Kind::FusionMismatch,
        Kind::StructureMismatch,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RemoveQuantizer => "remove-quantizer",
            Kind::AddQuantizer => "add-quantizer",
            Kind::RangeUntrained => "range-untrained",
            Kind::RangeClipping => "range-clipping",
            Kind::RangeWide => "range-wide",
            Kind::GranularityMismatch => "granularity-mismatch",
            Kind::FusionMismatch => "fusion-mismatch",
            Kind::StructureMismatch => "structure-mismatch",
            Kind::WidthMismatch => "width-mismatch",
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

    /// Whether it is about a learned range.
    pub fn is_range(self) -> bool {
        matches!(
            self,
            Kind::RangeUntrained | Kind::RangeClipping | Kind::RangeWide
        )
    }
}

/// How much a finding costs the QAT model, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// Ops computed in float inside an integer graph.
    FloatCompute,
    /// Activations at a narrower integer width than PTQ's (int8 for int16).
    Precision,
    /// An extra quantizer op with a real scale change (rounding, latency).
    ExtraQuantizer,
    /// A range narrower than the data: values clip.
    Clipping,
    /// A range wider than the data: resolution is lost.
    WideRange,
    /// A requantize whose scales differ by under 1%: nearly free.
    NearFree,
    /// A difference worth knowing that costs nothing by itself.
    Info,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Severity; 7] = [
        Severity::FloatCompute,
        Severity::Precision,
        Severity::ExtraQuantizer,
        Severity::Clipping,
        Severity::WideRange,
        Severity::NearFree,
        Severity::Info,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::FloatCompute => "float-compute",
            Severity::Precision => "precision",
            Severity::ExtraQuantizer => "extra-quantizer",
            Severity::Clipping => "clipping",
            Severity::WideRange => "wide-range",
            Severity::NearFree => "near-free",
            Severity::Info => "info",
        }
    }

    /// Parse a kebab-case name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One place a finding applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Ops in the QAT model.
    pub qat_ops: Vec<OpId>,
    /// Ops in the PTQ model.
    pub ptq_ops: Vec<OpId>,
    /// The layer.
    pub layer: Option<String>,
    /// The place's number, where the kind has one (a range's width ratio).
    pub ratio: Option<f32>,
}

/// Which model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The PTQ model.
    Ptq,
    /// The QAT model.
    Qat,
}

/// What a quantizer to remove does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
        /// Extra QAT ops computing in integer right after an op PTQ also
        /// has: the layers of PTQ's op, which folds them in (a quantizer
        /// QAT keeps between them stops the fold). Empty otherwise.
        fold_into: Vec<String>,
    },
    /// The matched ops compute at different integer widths.
    Width {
        /// How the PTQ op computes.
        ptq: Compute,
        /// How the QAT op computes.
        qat: Compute,
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
#[derive(Debug, Clone, PartialEq)]
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
    pub detail: Detail,
    /// Kinds of `qat_ops`, in the same order.
    pub qat_kinds: Vec<OpKind>,
    /// Kinds of `ptq_ops`, in the same order.
    pub ptq_kinds: Vec<OpKind>,
    /// What to change, decided from the facts above.
    pub suggestion: Suggestion,
    /// The layers whose annotation must change, with the plan's action.
    pub culprits: Vec<Culprit>,
    /// The terms its advice is worded in (the QAT model's producer).
    pub vocabulary: Vocabulary,
    /// How much it costs.
    pub severity: Severity,
    /// Every place this root cause applies to (one for most findings; a
    /// roll-up lists them all, and its ops and detail are the first's).
    pub places: Vec<Place>,
    /// For range findings: how many matched outputs were compared.
    pub checked: Option<usize>,
    /// For a float region: the causes its culprits answer, in order (regions
    /// with the same causes roll up into one finding).
    pub causes: Vec<Cause>,
    /// What its words say beyond the detail and suggestion (clipping or
    /// wide, what a roll-up sums up), chosen once here.
    pub wording: Wording,
    /// For a requantize: the PTQ scale group it breaks (the requantizes of
    /// one group are one finding, whose culprits name the group once).
    pub scale_group: Option<advice::ScaleGroupId>,
}

/// Why a float region's layers are not quantized as PTQ quantizes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Cause {
    /// BatchNormalization or activation layers left out of the annotation of
    /// the layer PTQ folds them into: tfmot does not fold them.
    FoldLeftOut,
    /// Layers tfmot's registry quantizes as PTQ does, left unannotated.
    Unannotated,
    /// Layers that need a QuantizeConfig of their own (the plan's output,
    /// no-quantizer or weights-only).
    NeedsConfig,
    /// Layers annotated although PTQ keeps them in float.
    FloatInPtq,
    /// Layers no tfmot annotation quantizes as PTQ does.
    Unsupported,
}

impl Cause {
    /// The cause a culprit's change answers.
    pub fn of(c: &Culprit) -> Cause {
        match (c.action, &c.folded_into) {
            (advice::Action::Unsupported, _) => Cause::Unsupported,
            (advice::Action::Float, _) => Cause::FloatInPtq,
            (advice::Action::Default, Some(_)) => Cause::FoldLeftOut,
            (advice::Action::Default, None) => Cause::Unannotated,
            _ => Cause::NeedsConfig,
        }
    }

    /// The kebab-case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Cause::FoldLeftOut => "fold-left-out",
            Cause::Unannotated => "unannotated",
            Cause::NeedsConfig => "needs-config",
            Cause::FloatInPtq => "float-in-ptq",
            Cause::Unsupported => "unsupported",
        }
    }
}

/// What a file is, as far as compare is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// A post-training integer conversion.
    Ptq(SchemeKind),
    /// A conversion of a tfmot QAT graph (metadata or fake-quant names).
    Qat(SchemeKind),
    /// No integer compute (float, float16 weights, dynamic range).
    NotInteger(SchemeKind),
}

impl FileRole {
    /// Read the role from an inspection.
    pub fn of(insp: &Inspection) -> FileRole {
        let kind = insp.scheme.kind;
        let integer = matches!(
            kind,
            SchemeKind::FullInteger
                | SchemeKind::Int16x8
                | SchemeKind::MixedInt8
                | SchemeKind::MixedInt16x8
        );
        if insp.scheme.qat {
            FileRole::Qat(kind)
        } else if integer {
            FileRole::Ptq(kind)
        } else {
            FileRole::NotInteger(kind)
        }
    }

    /// The scheme.
    pub fn scheme(self) -> SchemeKind {
        match self {
            FileRole::Ptq(k) | FileRole::Qat(k) | FileRole::NotInteger(k) => k,
        }
    }
}

/// Why two files cannot be compared as PTQ then QAT.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PairProblem {
    /// The PTQ slot holds a QAT conversion (the arguments are swapped, or two
    /// QAT files were given).
    QatAsBaseline {
        /// The first file.
        ptq: FileRole,
        /// The second file.
        qat: FileRole,
    },
    /// The PTQ slot holds a model with no integer compute.
    BaselineNotInteger {
        /// The first file.
        ptq: FileRole,
    },
    /// Too few compute ops align for the two to be one network.
    NotOneNetwork {
        /// The subgraph.
        subgraph: SubgraphId,
        /// Its coverage.
        coverage: ComputeCoverage,
    },
}

/// Result of a comparison.
#[derive(Debug, Clone, PartialEq)]
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
    /// What each file is.
    pub roles: (FileRole, FileRole),
    /// Why the pair cannot be compared, if it cannot: then the findings mean
    /// nothing and the command line refuses the pair.
    pub problem: Option<PairProblem>,
}

impl Comparison {
    /// True when no add, remove or width finding exists: QAT placement
    /// equals PTQ's.
    pub fn placement_matches(&self) -> bool {
        !self.findings.iter().any(|f| {
            f.kind.is_placement()
                || f.kind == Kind::WidthMismatch
                || (f.kind == Kind::StructureMismatch && !f.culprits.is_empty())
        })
    }

    /// Whether the models look like conversions of the same network (in
    /// every paired subgraph, half or more of the compute ops align). When
    /// not, findings say little about quantizer placement.
    pub fn same_network(&self) -> bool {
        self.alignment.iter().all(|a| a.compute.same_network())
    }

    /// Number of structure findings whose ops PTQ folds into a neighbour's
    /// op and QAT keeps apart with a quantizer the culprits can drop.
    pub fn folds_to_unblock(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.kind == Kind::StructureMismatch && !f.culprits.is_empty())
            .count()
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
    compare_inspected((ptq, &ip), (qat, &iq), options)
}

/// [`compare`] with each model's [`analysis::inspect`] already made: a
/// caller that has them, or that exits without freeing them (the command
/// line: freeing 100k ops' analyses is a tenth of the work), passes them in.
pub fn compare_inspected(
    (ptq, ip): (&Model, &Inspection),
    (qat, iq): (&Model, &Inspection),
    options: Options,
) -> Comparison {
    let plan = PlanIndex::new(&advice::plan(ptq, ip));
    // Advice speaks the QAT producer's language; a file of unknown origin
    // takes the PTQ one's.
    let vocabulary = match iq.producer {
        Producer::Unknown => ip.producer.vocabulary(),
        p => p.vocabulary(),
    };
    let annotated: BTreeSet<String> = iq
        .subgraphs
        .iter()
        .flat_map(|s| s.ops.iter())
        .flat_map(|o| o.wrapped.iter().cloned())
        .collect();
    let n = ptq.subgraphs.len().min(qat.subgraphs.len());
    let mut alignment = Vec::with_capacity(n);
    let mut findings = Vec::new();
    for s in 0..n {
        let id = SubgraphId(s as u32);
        let (gp, gq) = (Graph::new(&ptq.subgraphs[s]), Graph::new(&qat.subgraphs[s]));
        let (a, sp, sq) = align::align_subgraphs(
            (&gp, id, &ip.subgraphs[s].ops),
            (&gq, id, &iq.subgraphs[s].ops),
        );
        let ctx = Ctx {
            ptq: &ptq.subgraphs[s],
            qat: &qat.subgraphs[s],
            gq: &gq,
            ptq_by_qat: a.ptq_by_qat(qat.subgraphs[s].operators.len()),
            ip,
            iq,
            s,
            a: &a,
            sp: &sp,
            sq: &sq,
            options,
            plan: &plan,
            annotated: &annotated,
            groups_named: Default::default(),
            vocabulary,
        };
        let (f, (explained_ptq, explained_qat)) = ctx.findings();
        findings.extend(f);
        let mut a = a;
        a.compute.explained_ptq = explained_ptq;
        a.compute.explained_qat = explained_qat;
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
    let mut findings = roll_up(with_causes(findings));
    wording::choose(&mut findings);
    // Most severe first; then by subgraph, kind and place.
    findings.sort_by(|x, y| {
        (
            x.severity,
            x.subgraph,
            x.kind,
            x.qat_ops.first(),
            x.ptq_ops.first(),
        )
            .cmp(&(
                y.severity,
                y.subgraph,
                y.kind,
                y.qat_ops.first(),
                y.ptq_ops.first(),
            ))
    });
    let roles = (FileRole::of(ip), FileRole::of(iq));
    let problem = match roles {
        (FileRole::Qat(_), _) => Some(PairProblem::QatAsBaseline {
            ptq: roles.0,
            qat: roles.1,
        }),
        (FileRole::NotInteger(_), _) => Some(PairProblem::BaselineNotInteger { ptq: roles.0 }),
        _ => alignment
            .iter()
            .find(|a| !a.compute.same_network())
            .map(|a| PairProblem::NotOneNetwork {
                subgraph: a.qat,
                coverage: a.compute,
            }),
    };
    Comparison {
        roles,
        problem,
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
    /// The PTQ model's plan, by layer.
    plan: &'a PlanIndex,
    /// Layers the QAT model wraps for QAT.
    annotated: &'a BTreeSet<String>,
    /// The scale groups whose layers a requantize finding has named.
    groups_named: std::cell::RefCell<HashSet<advice::ScaleGroupId>>,
    /// The terms advice is worded in.
    vocabulary: Vocabulary,
}

/// Whether tfmot's default 8-bit registry knows the Keras layer behind `kind`.
fn tfmot_supports(kind: &OpKind) -> bool {
    matches!(
        rules::rule(kind).tfmot,
        rules::Tfmot::Quantized | rules::Tfmot::NoQuantizer
    )
}

/// The real interval a per-tensor quantized tensor covers.
fn int_range(sg: &Subgraph, t: TensorId) -> Option<(f32, f32)> {
    let tensor = sg.tensor(t);
    let (s, zp) = tensor.per_tensor()?;
    rules::real_range(tensor.dtype, s, zp)
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

    /// The findings, and how many unmatched (PTQ, QAT) compute ops a
    /// quantization difference explains.
    fn findings(&self) -> (Vec<Finding>, (usize, usize)) {
        let mut out = Vec::new();
        let covered = self.add_quantizer(&mut out);
        self.remove_quantizer(&covered, &mut out);
        let fused = self.fusion(&mut out);
        self.structure(&covered, &fused, &mut out);
        self.granularity(&mut out);
        self.ranges(&mut out);
        self.width(&mut out);
        let bn = self
            .a
            .unmatched_qat
            .iter()
            .filter(|o| !fused.0.contains(o) && self.bn_unfolded(&[**o]))
            .count();
        (out, (fused.1.len(), fused.0.len().saturating_add(bn)))
    }

    fn finding(
        &self,
        kind: Kind,
        qat_ops: Vec<OpId>,
        ptq_ops: Vec<OpId>,
        layer: Option<String>,
        detail: Detail,
    ) -> Finding {
        let culprits = self.culprits(&qat_ops, &detail, layer.as_deref());
        let scale_group = match &detail {
            Detail::Remove(Removal::Requantize {
                producer_layer,
                consumer_layer,
                ..
            }) => [
                consumer_layer.as_deref(),
                producer_layer.as_deref(),
                layer.as_deref(),
            ]
            .into_iter()
            .flatten()
            .find_map(|l| self.plan.scale_groups_of(l).first().copied()),
            _ => None,
        };
        let suggestion = suggest(&detail, layer.as_deref(), &culprits);
        let severity = severity(kind, &detail);
        let place = Place {
            qat_ops: qat_ops.clone(),
            ptq_ops: ptq_ops.clone(),
            layer: layer.clone(),
            ratio: match &detail {
                Detail::Range { ratio, .. } => Some(*ratio),
                _ => None,
            },
        };
        Finding {
            culprits,
            vocabulary: self.vocabulary,
            severity,
            places: vec![place],
            checked: None,
            causes: Vec::new(),
            wording: Wording::default(),
            scale_group,
            kind,
            subgraph: SubgraphId(self.s as u32),
            qat_kinds: qat_ops
                .iter()
                .map(|o| self.qat.op(*o).kind.clone())
                .collect(),
            ptq_kinds: ptq_ops
                .iter()
                .map(|o| self.ptq.op(*o).kind.clone())
                .collect(),
            qat_ops,
            ptq_ops,
            layer,
            detail,
            suggestion,
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
            // Nothing in the QAT model is integer: it was not converted as
            // QAT. Ops PTQ also runs in float are the converter's choice, not
            // a missing quantizer, and are left out.
            let float_ops: Vec<OpId> = self.iq.subgraphs[self.s]
                .ops
                .iter()
                .filter(|o| o.compute.is_float())
                .filter(|o| {
                    self.ptq_of(o.op)
                        .is_none_or(|p| self.compute(Side::Ptq, p).is_integer())
                })
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

    /// All layers of a QAT op (a fused op names several).
    fn op_layers(&self, op: OpId) -> &[String] {
        self.iq.subgraphs[self.s]
            .ops
            .get(op.index())
            .map_or(&[], |i| i.layers.as_slice())
    }

    /// The layers whose annotation a placement finding asks to change.
    fn culprits(&self, qat_ops: &[OpId], detail: &Detail, layer: Option<&str>) -> Vec<Culprit> {
        let annotated = |l: &str| self.annotated.contains(l);
        let Some(candidates) = self.candidates(qat_ops, detail, layer) else {
            return Vec::new();
        };
        let mut culprits = self.plan.culprits(&candidates, annotated);
        if culprits.is_empty()
            && let Detail::Add { entries, .. } = detail
        {
            culprits = self
                .plan
                .culprits(&self.entry_scale_layers(entries), annotated);
        }
        if let Detail::Add {
            reads_graph_input: true,
            ..
        } = detail
        {
            let mut first = self.model_input_readers(qat_ops);
            if !first.is_empty() {
                culprits.retain(|c| !first.iter().any(|f| f.layer == c.layer));
                first.append(&mut culprits);
                culprits = first;
            }
        }
        // The layers PTQ computes in one op with a culprit need their
        // configs too: a conv whose output quantizer must go (weights only)
        // keeps the BatchNorm fused after it from folding
        // (InceptionResNetV2's convs that feed a concatenation).
        let mut seen: HashSet<String> = culprits.iter().map(|c| c.layer.clone()).collect();
        let mut companions: Vec<String> = Vec::new();
        for c in &culprits {
            for o in self.plan.op_companions(&c.layer) {
                if seen.insert(o.clone()) {
                    companions.push(o);
                }
            }
        }
        let companions = self.plan.culprits(&companions, annotated);
        culprits.extend(companions);
        if matches!(detail, Detail::Add { .. } | Detail::Structure { .. }) {
            // A layer of a float region that the PTQ file does not name (PTQ
            // fused it into a neighbour's op, named after the neighbour) and
            // that QAT leaves unannotated: tfmot's default is what folds it.
            let mut named: HashSet<String> = culprits.iter().map(|c| c.layer.clone()).collect();
            for l in &candidates {
                if self.plan.get(l).is_none()
                    && !annotated(l)
                    && !is_tf_op_lambda(l)
                    && named.insert(l.clone())
                {
                    culprits.push(Culprit::not_named_by_ptq(l.clone()));
                }
            }
        }
        culprits
    }

    /// The layers whose plan a finding's culprits are drawn from; `None` for
    /// the kinds no annotation change answers.
    fn candidates(
        &self,
        qat_ops: &[OpId],
        detail: &Detail,
        layer: Option<&str>,
    ) -> Option<Vec<String>> {
        let mut candidates: Vec<String> = Vec::new();
        match detail {
            Detail::Add { .. } => {
                for &o in qat_ops {
                    candidates.extend(self.op_layers(o).iter().cloned());
                }
                // A float op PTQ folds into the op before it (x + 3 into a
                // conv): that op's layers decide whether the fold can happen.
                for &o in qat_ops {
                    if self.ptq_of(o).is_none()
                        && !rules::is_quantize_or_dequantize(&self.qat.op(o).kind)
                    {
                        candidates.extend(self.absorbing_ptq_layers(&[o]));
                    }
                }
            }
            Detail::Remove(Removal::Requantize {
                producer_layer,
                consumer_layer,
                ..
            }) => {
                // The layers around the requantize and every layer PTQ gives
                // their scale: the group needs one quantizer. A group is
                // named by its first requantize only; the others of that
                // group roll up into that finding (linear in the group).
                let around = layer
                    .map(str::to_owned)
                    .into_iter()
                    .chain(producer_layer.clone())
                    .chain(consumer_layer.clone());
                let mut named = self.groups_named.borrow_mut();
                for l in around {
                    let groups = self.plan.scale_groups_of(&l);
                    candidates.push(l.clone());
                    for &g in groups {
                        if named.insert(g) {
                            candidates.extend(self.plan.group_members(g).iter().cloned());
                        }
                    }
                }
            }
            Detail::Remove(_) => candidates.extend(layer.map(str::to_owned)),
            Detail::Structure {
                side: Side::Qat,
                fold_into,
                ..
            } if !fold_into.is_empty() => {
                for &o in qat_ops {
                    candidates.extend(self.op_layers(o).iter().cloned());
                }
                candidates.extend(fold_into.iter().cloned());
            }
            // A BatchNorm QAT runs as its own MUL/ADD: its layers (and the
            // activation after it), which the plan folds into their conv.
            Detail::Structure {
                side: Side::Qat,
                batchnorm_unfolded: true,
                ..
            } => {
                for &o in qat_ops {
                    candidates.extend(self.op_layers(o).iter().cloned());
                }
            }
            _ => return None,
        }
        Some(candidates)
    }

    /// When every layer of a float region is annotated as PTQ's placement
    /// asks, the scale it enters with is at fault: the layers PTQ gives the
    /// scale of each entry (a pooling that keeps its input's scale but
    /// carries a quantizer of its own in QAT).
    fn entry_scale_layers(&self, entries: &[OpId]) -> Vec<String> {
        let mut around: Vec<String> = Vec::new();
        for &dq in entries {
            let Some(source) = self
                .qat
                .op(dq)
                .inputs
                .first()
                .copied()
                .flatten()
                .and_then(|t| self.producer_through_quantizers(t))
            else {
                continue;
            };
            for l in self.op_layers(source) {
                around.push(l.clone());
                around.extend(self.plan.shares_scale_with(l));
            }
        }
        around
    }

    /// The layers of a float region that read the model input, as culprits:
    /// tfmot quantizes the model input only when a layer reading it is
    /// annotated (one annotated only because the layer after it asked for
    /// its output quantized, its name still carrying tfmot's prefix, does
    /// not count). They keep the plan's configs, so that a layer tfmot's
    /// default does not take (a Conv1D) keeps its fallback.
    fn model_input_readers(&self, qat_ops: &[OpId]) -> Vec<Culprit> {
        let mut first: Vec<Culprit> = Vec::new();
        for &o in qat_ops {
            let reads_input = self
                .qat
                .op(o)
                .present_inputs()
                .any(|t| self.gq.is_graph_input(t));
            let Some(l) = self.op_layers(o).last() else {
                continue;
            };
            if !reads_input || is_tf_op_lambda(l) || first.iter().any(|c| c.layer == *l) {
                continue;
            }
            let action = self.plan.get(l).map_or(advice::Action::Default, |d| d.0);
            if action != advice::Action::Default {
                continue;
            }
            // The plan's culprit for it, with what reading the input adds.
            let mut c = self
                .plan
                .culprits(std::iter::once(l), |_| false)
                .pop()
                .unwrap_or_else(|| Culprit::not_named_by_ptq(l.clone()));
            c.annotated = self.annotated.contains(l);
            c.folded_into = None;
            // Annotated, with its kernel fake-quantized in training, and its
            // op still reads the input in float with float weights: the
            // converter folded the layer that reads the input in Keras (a
            // Rescaling) into this op, so annotating this one is not enough.
            if c.annotated && self.kernel_folded_after_fake_quant(o) {
                c.reasons = vec![advice::Reason::InputThroughUnnamedLayer];
                c.calibrate = true;
            } else {
                c.reasons = vec![advice::Reason::QuantizesModelInput];
            }
            first.push(c);
        }
        first
    }

    /// Whether QAT op `o` has float weights whose name shows tfmot's weight
    /// fake-quant: the kernel was quantized in training, and the converter
    /// folded a float op into it afterwards, which keeps it float.
    fn kernel_folded_after_fake_quant(&self, o: OpId) -> bool {
        let op = self.qat.op(o);
        rules::rule(&op.kind)
            .weights
            .and_then(|w| op.inputs.get(w.weights).copied().flatten())
            .is_some_and(|w| {
                let t = self.qat.tensor(w);
                t.dtype == DType::FLOAT32 && self.iq.producer.has_fake_quant(t.name)
            })
    }

    /// The op computing `t` in the QAT model, looking through QUANTIZE and
    /// DEQUANTIZE ops (a bounded walk: quantizer chains are short).
    fn producer_through_quantizers(&self, t: TensorId) -> Option<OpId> {
        let mut p = self.gq.producer(t)?;
        for _ in 0..8 {
            if !rules::is_quantize_or_dequantize(&self.qat.op(p).kind) {
                return Some(p);
            }
            let input = self.qat.op(p).inputs.first().copied().flatten()?;
            p = self.gq.producer(input)?;
        }
        None
    }

    /// When every op of a run of QAT ops PTQ does not have computes in
    /// integer and the run reads the output of one matched op: the layers of
    /// that op's PTQ counterpart, which absorbed the run (a bias add or a
    /// BatchNorm folded into a conv). Empty when the run is anything else.
    fn folding_ptq_layers(&self, run: &[OpId]) -> Vec<String> {
        let integer = run
            .iter()
            .all(|&o| matches!(self.compute(Side::Qat, o), Compute::Int8 | Compute::Int16));
        if !integer {
            return Vec::new();
        }
        self.absorbing_ptq_layers(run)
    }

    /// The layers of the PTQ op that absorbs `run`, QAT ops PTQ does not
    /// have: the counterpart of the one matched op the run reads (through
    /// quantizers). Empty when the run reads several ops or none.
    fn absorbing_ptq_layers(&self, run: &[OpId]) -> Vec<String> {
        let in_run: HashSet<OpId> = run.iter().copied().collect();
        let mut sources: BTreeSet<OpId> = BTreeSet::new();
        for &o in run {
            for t in self.qat.op(o).present_inputs() {
                if self.qat.tensor(t).is_constant() {
                    continue;
                }
                match self.producer_through_quantizers(t) {
                    Some(p) if in_run.contains(&p) => {}
                    Some(p) => {
                        sources.insert(p);
                    }
                    None => return Vec::new(),
                }
            }
        }
        let mut only = sources.into_iter();
        let (Some(source), None) = (only.next(), only.next()) else {
            return Vec::new();
        };
        let Some(ptq) = self.ptq_of(source) else {
            return Vec::new();
        };
        self.ip.subgraphs[self.s]
            .ops
            .get(ptq.index())
            .map_or_else(Vec::new, |i| i.layers.clone())
    }

    /// MUL and/or ADD with constant operands right after a conv in the QAT
    /// model, unmatched in PTQ (where BN folded into the conv).
    fn bn_unfolded(&self, ops: &[OpId]) -> bool {
        let with_constant = |o: OpId| {
            self.qat
                .op(o)
                .present_inputs()
                .any(|t| self.qat.tensor(t).is_constant())
        };
        // The non-constant input's producer, through quantizers.
        let source = |o: OpId| {
            self.qat
                .op(o)
                .present_inputs()
                .filter(|t| !self.qat.tensor(*t).is_constant())
                .find_map(|t| self.producer_through_quantizers(t))
        };
        let conv_like = |o: OpId| rules::rule(&self.qat.op(o).kind).conv_like;
        // A BatchNorm's MUL (by a constant) right after a conv, and its ADD
        // (of a constant) after that MUL or the conv. A LayerNorm's MUL/ADD
        // follow its own normalisation ops, not a conv, and do not count.
        let bn_mul = |o: OpId| {
            self.qat.op(o).kind.is(BuiltinCode::MUL)
                && with_constant(o)
                && source(o).is_some_and(conv_like)
        };
        ops.iter().any(|&o| {
            let op = self.qat.op(o);
            self.ptq_of(o).is_none()
                && (bn_mul(o)
                    || (op.kind.is(BuiltinCode::ADD)
                        && with_constant(o)
                        && source(o).is_some_and(|p| conv_like(p) || bn_mul(p))))
        })
    }

    /// B-1.
    fn remove_quantizer(&self, covered: &BTreeSet<OpId>, out: &mut Vec<Finding>) {
        let matched: BTreeSet<OpId> = self.a.matches.iter().map(|m| m.qat).collect();
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
            done.extend(extra.iter().copied());
            let ends = WireEnds {
                source: match w.source {
                    WireSource::Op(o) => Some(o),
                    _ => None,
                },
                sink: match w.sink {
                    WireSink::Op(o) => Some(o),
                    WireSink::Output(_) => None,
                },
            };
            let roles: Vec<align::QuantizerRole> = extra
                .iter()
                .map(|q| align::quantizer_role(self.qat, *q))
                .collect();
            let requant: Vec<OpId> = extra
                .iter()
                .zip(&roles)
                .filter(|(_, r)| r.is_requantize())
                .map(|(q, _)| *q)
                .collect();
            if !requant.is_empty() {
                for q in requant {
                    if let Some(f) = self.requantize_finding(q, ends) {
                        out.push(f);
                    }
                }
                continue;
            }
            let at_io =
                matches!(w.source, WireSource::Input(_)) || matches!(w.sink, WireSink::Output(_));
            if at_io {
                // Reported once, as an I/O type difference, below.
                continue;
            }
            // A quantizer next to a float op that PTQ also runs in float is the
            // converter's normal float fallback, not a placement choice. A
            // lone QUANTIZE or DEQUANTIZE next to a float op is the converter's
            // way in and out of float; a QUANTIZE then DEQUANTIZE between two
            // float ops is a fake-quant on a float value.
            let float_neighbour =
                |op: Option<OpId>| op.is_some_and(|o| self.compute(Side::Qat, o).is_float());
            let round_trip_in_float =
                extra.len() >= 2 && float_neighbour(ends.source) && float_neighbour(ends.sink);
            if (float_neighbour(ends.source) || float_neighbour(ends.sink)) && !round_trip_in_float
            {
                continue;
            }
            let layer = ends
                .source
                .and_then(|o| self.layer(Side::Qat, o))
                .or_else(|| ends.sink.and_then(|o| self.layer(Side::Qat, o)));
            let removal = if extra.len() >= 2 {
                Removal::RoundTrip
            } else {
                Removal::Boundary {
                    quantize: roles[0].quantize,
                }
            };
            out.push(self.finding(
                Kind::RemoveQuantizer,
                extra,
                self.ptq_ends(ends),
                layer,
                Detail::Remove(removal),
            ));
        }
        self.io_types(out);
    }

    /// The PTQ counterparts of a wire's ends.
    fn ptq_ends(&self, ends: WireEnds) -> Vec<OpId> {
        ends.source
            .into_iter()
            .chain(ends.sink)
            .filter_map(|o| self.ptq_of(o))
            .collect()
    }

    /// A requantize PTQ does not have, with the same-scale op whose own
    /// range forced it; `None` for a QUANTIZE between integer types.
    fn requantize_finding(&self, q: OpId, ends: WireEnds) -> Option<Finding> {
        let g = self.gq;
        let o = self.qat.op(q);
        let ti = o.inputs.first().copied().flatten();
        let to = o.outputs.first().copied();
        if let (Some(ti), Some(to)) = (ti, to)
            && self.qat.tensor(ti).dtype != self.qat.tensor(to).dtype
        {
            return None;
        }
        let same_scale = to
            .into_iter()
            .flat_map(|t| g.distinct_consumers(t))
            .chain(ti.and_then(|t| g.producer(t)))
            .chain(ends.source)
            .chain(ends.sink)
            .find(|op| {
                rules::rule(&self.qat.op(*op).kind)
                    .same_scale
                    .is_same_scale()
            })
            .map(|op| (op, self.qat.op(op).kind.clone()));
        let layer = same_scale
            .as_ref()
            .and_then(|(op, _)| self.layer(Side::Qat, *op))
            .or_else(|| ends.source.and_then(|o| self.layer(Side::Qat, o)));
        Some(self.finding(
            Kind::RemoveQuantizer,
            vec![q],
            self.ptq_ends(ends),
            layer,
            Detail::Remove(Removal::Requantize {
                from: ti.and_then(|t| self.qat.tensor(t).per_tensor()),
                to: to.and_then(|t| self.qat.tensor(t).per_tensor()),
                same_scale_op: same_scale,
                producer_layer: ends.source.and_then(|o| self.layer(Side::Qat, o)),
                consumer_layer: ends.sink.and_then(|o| self.layer(Side::Qat, o)),
            }),
        ))
    }

    /// Model input and output types that differ, reported once.
    fn io_types(&self, out: &mut Vec<Finding>) {
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
            if !unmatched_q.contains(&act)
                || !rules::rule(&self.qat.op(act).kind).fusable_activation
            {
                continue;
            }
            let Some(p) = self.ptq_of(src) else { continue };
            if fused(self.ptq, p) && !fused(self.qat, src) {
                explained.0.insert(act);
                // An op QAT runs in float keeps its activation apart because
                // it is float: the float region's finding names the cause.
                if self.compute(Side::Qat, src).is_float() {
                    continue;
                }
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
            if !unmatched_p.contains(&act)
                || !rules::rule(&self.ptq.op(act).kind).fusable_activation
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
        // Op kinds PTQ has with no QAT counterpart: a QAT run of those kinds
        // is an alignment that failed (tfmot renamed the layers, as its
        // SeparableConv2D split does), not ops PTQ folded away.
        let ptq_unmatched_kinds: HashSet<&OpKind> = self
            .a
            .unmatched_ptq
            .iter()
            .map(|&o| &self.ptq.op(o).kind)
            .filter(|k| !rules::is_quantize_or_dequantize(k))
            .collect();
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
                if run.last().is_some_and(|l| l.0.checked_add(1) != Some(o.0)) {
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
                let unaligned = run
                    .iter()
                    .any(|&o| ptq_unmatched_kinds.contains(&sg.op(o).kind));
                let fold_into = match side {
                    Side::Qat if !unaligned => self.folding_ptq_layers(&run),
                    _ => Vec::new(),
                };
                // A constant ADD/MUL that PTQ folds into an op named after a
                // TF-op lambda is that lambda (x + 3 of a hard sigmoid), not
                // a BatchNorm.
                let bn = side == Side::Qat
                    && self.bn_unfolded(&run)
                    && !fold_into.iter().any(|l| is_tf_op_lambda(l));
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
                        fold_into,
                    },
                ));
            }
        }
    }

    fn granularity(&self, out: &mut Vec<Finding>) {
        for m in &self.a.matches {
            let (q, p) = (self.qat.op(m.qat), self.ptq.op(m.ptq));
            let Some(w) = rules::rule(&q.kind).weights else {
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
        let first = out.len();
        let mut checked = 0usize;
        for m in &self.a.matches {
            if m.evidence == Evidence::Wire {
                continue;
            }
            let (q, p) = (self.qat.op(m.qat), self.ptq.op(m.ptq));
            if rules::rule(&q.kind).fixed_output.is_some()
                || rules::rule(&q.kind).same_scale.is_same_scale()
            {
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
            // Only the part of a range the op's output can reach counts: a
            // ReLU6 output calibrated to [-2.3, 2.7] uses [0, 2.7].
            let usable = |r: (f32, f32), kind: &OpKind, act| {
                let (lo, hi) = rules::output_interval(kind, act);
                (r.0.max(lo), r.1.min(hi))
            };
            let (uq, up) = (
                usable(rq, &q.kind, q.activation),
                usable(rp, &p.kind, p.activation),
            );
            let (wq, wp) = (uq.1 - uq.0, up.1 - up.0);
            if wq <= 0.0 || wp <= 0.0 {
                continue;
            }
            let ratio = wq / wp;
            checked = checked.saturating_add(1);
            let near = |a: f32, b: f32| (a - b).abs() <= 0.05;
            // tfmot's quantizers start at [-6, 6]; elsewhere it is a range
            // like any other.
            let (lo, hi) = rules::tfmot::INITIAL_RANGE;
            let initial = self.vocabulary == Vocabulary::Tfmot && near(rq.0, lo) && near(rq.1, hi);
            let kind = if initial {
                Kind::RangeUntrained
            } else if ratio > self.options.range_ratio {
                Kind::RangeWide
            } else if ratio < 1.0 / self.options.range_ratio {
                Kind::RangeClipping
            } else {
                continue;
            };
            {
                out.push(self.finding(
                    kind,
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
        for f in &mut out[first..] {
            f.checked = Some(checked);
        }
    }
}

impl Ctx<'_> {
    /// Matched ops computing at different integer widths.
    fn width(&self, out: &mut Vec<Finding>) {
        for m in &self.a.matches {
            let (p, q) = (
                self.compute(Side::Ptq, m.ptq),
                self.compute(Side::Qat, m.qat),
            );
            if p.is_integer() && q.is_integer() && p != q {
                out.push(self.finding(
                    Kind::WidthMismatch,
                    vec![m.qat],
                    vec![m.ptq],
                    self.layer(Side::Qat, m.qat),
                    Detail::Width { ptq: p, qat: q },
                ));
            }
        }
    }
}

/// The severity of a finding.
/// The compute ops at the two ends of a wire of the QAT model (none at a
/// graph input or output).
#[derive(Debug, Clone, Copy)]
struct WireEnds {
    source: Option<OpId>,
    sink: Option<OpId>,
}

fn severity(kind: Kind, detail: &Detail) -> Severity {
    match detail {
        // QAT at 8 bits where PTQ has 16: precision lost; the other way
        // round costs QAT nothing.
        Detail::Width { ptq, qat } => {
            if *qat == Compute::Int8 && *ptq == Compute::Int16 {
                Severity::Precision
            } else {
                Severity::Info
            }
        }
        Detail::Add { .. } => Severity::FloatCompute,
        Detail::Remove(Removal::Requantize { from, to, .. }) => {
            if advice::near_free(*from, *to) {
                Severity::NearFree
            } else {
                Severity::ExtraQuantizer
            }
        }
        Detail::Remove(_) => Severity::ExtraQuantizer,
        Detail::Range { ratio, .. } => {
            if kind == Kind::RangeClipping || *ratio < 1.0 {
                Severity::Clipping
            } else {
                Severity::WideRange
            }
        }
        Detail::Fusion {
            separate_in: Side::Qat,
            ..
        } => Severity::ExtraQuantizer,
        Detail::Structure {
            batchnorm_unfolded: true,
            ..
        } => Severity::ExtraQuantizer,
        Detail::Structure { fold_into, .. } if !fold_into.is_empty() => Severity::ExtraQuantizer,
        Detail::Granularity { .. }
        | Detail::Fusion { .. }
        | Detail::Structure { .. }
        | Detail::Io { .. } => Severity::Info,
    }
}

/// What findings of one subgraph share a root cause by: its kind and, for
/// the kinds that roll up, the cause. `None`: the finding stands alone.
fn root_cause(f: &Finding) -> Option<(Kind, u8)> {
    match (&f.kind, &f.detail) {
        (k, _) if k.is_range() => Some((*k, 0)),
        // The requantizes that break one PTQ scale group.
        (Kind::RemoveQuantizer, Detail::Remove(Removal::Requantize { .. }))
            if f.scale_group.is_some() =>
        {
            Some((f.kind, 0))
        }
        (Kind::WidthMismatch, _) => Some((f.kind, 0)),
        (Kind::GranularityMismatch, Detail::Granularity { qat, .. }) => {
            Some((f.kind, u8::from(matches!(qat, Granularity::PerTensor))))
        }
        // Float regions, by the causes of their culprits: the same causes,
        // one finding.
        (Kind::AddQuantizer | Kind::StructureMismatch, _) if !f.causes.is_empty() => Some((
            f.kind,
            f.causes
                .iter()
                .fold(0u8, |mask, c| mask | (1u8 << (*c as u8))),
        )),
        _ => None,
    }
}

/// The causes of every float region's culprits, so that regions of the same
/// causes roll up into one finding that names every layer to change.
fn with_causes(mut findings: Vec<Finding>) -> Vec<Finding> {
    for f in &mut findings {
        let whole = matches!(
            f.detail,
            Detail::Add {
                whole_model: true,
                ..
            }
        );
        let fold = matches!(&f.detail, Detail::Structure { fold_into, batchnorm_unfolded, .. }
            if !fold_into.is_empty() || *batchnorm_unfolded);
        if (f.kind == Kind::AddQuantizer && !whole) || (fold && !f.culprits.is_empty()) {
            let causes: BTreeSet<Cause> = f.culprits.iter().map(Cause::of).collect();
            f.causes = causes.into_iter().collect();
        }
    }
    findings
}

/// Merge findings of one root cause into one finding that lists every place.
fn roll_up(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    type Key = (SubgraphId, Kind, u8, Option<advice::ScaleGroupId>);
    let mut by_cause: BTreeMap<Key, usize> = BTreeMap::new();
    for f in findings {
        let Some(cause) = root_cause(&f) else {
            out.push(f);
            continue;
        };
        let key = (f.subgraph, cause.0, cause.1, f.scale_group);
        match by_cause.get(&key) {
            Some(&i) => {
                // Duplicates go at the end, in one pass each.
                let head = &mut out[i];
                head.places.extend(f.places);
                head.culprits.extend(f.culprits);
                head.severity = head.severity.min(f.severity);
                head.qat_ops.extend(f.qat_ops);
                head.ptq_ops.extend(f.ptq_ops);
            }
            None => {
                by_cause.insert(key, out.len());
                out.push(f);
            }
        }
    }
    for f in &mut out {
        if f.places.len() > 1 {
            f.qat_ops.sort_unstable();
            f.qat_ops.dedup();
            f.ptq_ops.sort_unstable();
            f.ptq_ops.dedup();
            let mut seen = std::collections::HashSet::new();
            f.culprits.retain(|c| seen.insert(c.layer.clone()));
            // The suggestion now speaks for every place.
            f.suggestion = suggest(&f.detail, f.layer.as_deref(), &f.culprits);
        }
    }
    out
}

/// Choose the suggestion for a finding from its facts. `layer` is the
/// finding's layer, `culprits` the layers whose annotation must change.
pub(crate) fn suggest(
    detail: &Detail,
    layer: Option<&str>,
    culprits: &[Culprit],
) -> advice::Suggestion {
    let layer = layer.map(str::to_owned);
    let culprits = culprits.to_vec();
    match detail {
        Detail::Remove(Removal::Requantize {
            from,
            to,
            same_scale_op,
            ..
        }) => advice::Suggestion::Requantize {
            culprits,
            constraint: same_scale_op.as_ref().map(|(_, k)| k.clone()),
            ratio: crate::analysis::quant::scale_ratio(*from, *to),
            near_free: advice::near_free(*from, *to),
        },
        Detail::Remove(Removal::RoundTrip) => {
            advice::Suggestion::RemoveRoundTrip { layer, culprits }
        }
        Detail::Remove(Removal::Boundary { .. }) => {
            advice::Suggestion::RemoveBoundary { layer, culprits }
        }
        Detail::Add {
            whole_model: true, ..
        } => advice::Suggestion::QuantizeWholeModel,
        // Where the region is entered and left says which side lacks a
        // quantizer; the layers it names, whether any is named at all.
        Detail::Add {
            entries,
            exits,
            reads_graph_input,
            batchnorm_unfolded,
            layers,
            unsupported,
            ..
        } => {
            let named: std::collections::HashSet<&str> =
                culprits.iter().map(|c| c.layer.as_str()).collect();
            advice::Suggestion::Annotate {
                unsupported: unsupported
                    .iter()
                    .filter(|(l, _)| !named.contains(l.as_str()))
                    .cloned()
                    .collect(),
                culprits,
                fold_batchnorm: *batchnorm_unfolded,
                input: if *reads_graph_input {
                    advice::InputSide::GraphInput
                } else if !entries.is_empty() {
                    advice::InputSide::Dequantize
                } else {
                    advice::InputSide::FloatOps
                },
                output: if exits.is_empty() {
                    advice::OutputSide::Missing
                } else {
                    advice::OutputSide::Quantize
                },
                unnamed: layers.is_empty() && unsupported.is_empty(),
            }
        }
        Detail::Range { initial: true, .. } => advice::Suggestion::RetrainUntrainedRange { layer },
        Detail::Range { .. } => advice::Suggestion::CheckRange { layer },
        Detail::Granularity { qat, .. } => {
            if matches!(qat, Granularity::PerTensor) {
                advice::Suggestion::PerChannelWeights { layer }
            } else {
                advice::Suggestion::PtqPerTensor { layer }
            }
        }
        Detail::Fusion {
            separate_in: Side::Qat,
            activation,
        } => advice::Suggestion::UnblockFusion {
            activation: activation.clone(),
        },
        Detail::Fusion {
            separate_in: Side::Ptq,
            ..
        } => advice::Suggestion::FusedOnlyInQat,
        Detail::Structure {
            batchnorm_unfolded: true,
            ..
        } => advice::Suggestion::FoldBatchnorm,
        Detail::Structure {
            side: Side::Qat,
            fold_into,
            ..
        } if !fold_into.is_empty() && !culprits.is_empty() => {
            advice::Suggestion::UnblockFold { culprits }
        }
        Detail::Structure { .. } => advice::Suggestion::CheckSameModel,
        Detail::Io { .. } => advice::Suggestion::MatchIoTypes,
        Detail::Width { ptq, qat } => advice::Suggestion::MatchWidth {
            ptq: *ptq,
            qat: *qat,
        },
    }
}
