//! Advice as data: what to change in the QAT annotation, decided here and
//! only worded by [`crate::report`].
//!
//! Two things share this vocabulary. [`Action`] is what a layer's
//! annotation should be so that QAT reproduces PTQ (the per-layer decision
//! `tflq plan` makes). [`Suggestion`] is what `tflq compare` tells the user
//! to change for one finding; it is chosen from the finding's facts by
//! `compare`, never by a renderer.

#![deny(clippy::arithmetic_side_effects)]

use petgraph::unionfind::UnionFind;

use crate::analysis::{Compute, Inspection, OpInfo, SchemeKind, SubgraphQuant};
use crate::graph::Graph;
use crate::model::{DType, Granularity, Model, OpId, OpKind, SubgraphId, TensorId};
use crate::producer::{Producer, is_tf_op_lambda};
use crate::rules::{self, Tfmot};

/// What a layer's QAT annotation should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// tfmot's default 8-bit registry gives PTQ's placement:
    /// `quantize_annotate_layer(layer)`.
    Default,
    /// PTQ computes it in integer with its own output scale, and the registry
    /// lacks it or quantizes it otherwise: a QuantizeConfig with an output
    /// quantizer (and weight quantizers matching PTQ's).
    Output,
    /// PTQ keeps its input's scale on its output: a QuantizeConfig with no
    /// quantizers, so QAT adds no requantize.
    NoQuantizer,
    /// Weights quantized as PTQ has them, no output quantizer: its output
    /// joins a scale that another layer's quantizer decides.
    WeightsOnly,
    /// PTQ leaves it in float: leave it unannotated.
    Float,
    /// No tfmot annotation reproduces PTQ here.
    Unsupported,
}

impl Action {
    /// All actions, in report order.
    pub const ALL: [Action; 6] = [
        Action::Default,
        Action::Output,
        Action::NoQuantizer,
        Action::WeightsOnly,
        Action::Float,
        Action::Unsupported,
    ];

    /// The kebab-case name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Action::Default => "default",
            Action::Output => "output",
            Action::NoQuantizer => "no-quantizer",
            Action::WeightsOnly => "weights-only",
            Action::Float => "float",
            Action::Unsupported => "unsupported",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the input of a float region gets its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSide {
    /// The float model input, with no `quantize_layer` in front.
    GraphInput,
    /// A DEQUANTIZE in front: the input already has a range.
    Dequantize,
    /// Other float ops, which need quantizers too.
    FloatOps,
}

/// Where the output of a float region gets its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputSide {
    /// A QUANTIZE after it: the output already has a range.
    Quantize,
    /// Nothing: the annotated layer needs an output quantizer.
    Missing,
}

/// What `tflq compare` tells the user to change for one finding.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Suggestion {
    /// A requantize PTQ does not have: the layers sharing the scale need
    /// one quantizer between them.
    Requantize {
        /// The layers to change (empty: no annotation change removes it).
        culprits: Vec<Culprit>,
        /// The same-scale op whose scale constraint forces it, if any.
        constraint: Option<OpKind>,
        /// Output scale / input scale of the requantize.
        ratio: Option<f32>,
        /// The scales differ by under 1% with the same zero point: the
        /// op costs little.
        near_free: bool,
    },
    /// A QUANTIZE/DEQUANTIZE round trip around a value consumed in float.
    RemoveRoundTrip {
        /// The layer carrying the fake-quant.
        layer: Option<String>,
        /// The layers to change.
        culprits: Vec<Culprit>,
    },
    /// A single extra QUANTIZE or DEQUANTIZE.
    RemoveBoundary {
        /// The layer carrying the fake-quant.
        layer: Option<String>,
        /// The layers to change.
        culprits: Vec<Culprit>,
    },
    /// Nothing in the QAT model is integer: quantize the whole model.
    QuantizeWholeModel,
    /// Change the annotation of the float region's layers.
    Annotate {
        /// The layers to change, with the plan's action.
        culprits: Vec<Culprit>,
        /// Layers of the region tfmot's registry does not know (by op).
        unsupported: Vec<(String, OpKind)>,
        /// A BatchNorm there was left unfolded: annotate it with its conv.
        fold_batchnorm: bool,
        /// Where the region's input gets its range.
        input: InputSide,
        /// Where its output gets its range.
        output: OutputSide,
        /// The region's ops carry no layer names: the QAT file was probably
        /// not converted from a quantize_apply'd model.
        unnamed: bool,
    },
    /// The quantizer kept tfmot's initial [-6, 6].
    RetrainUntrainedRange {
        /// The layer.
        layer: Option<String>,
    },
    /// The learned range is far from the calibrated one.
    CheckRange {
        /// The layer.
        layer: Option<String>,
    },
    /// tfmot quantizes these weights per-tensor, PTQ per-channel.
    PerChannelWeights {
        /// The layer.
        layer: Option<String>,
    },
    /// PTQ used per-tensor weights.
    PtqPerTensor {
        /// The layer.
        layer: Option<String>,
    },
    /// A fake-quant blocks the fusion of an activation.
    UnblockFusion {
        /// The activation.
        activation: OpKind,
    },
    /// QAT fused an activation PTQ kept separate.
    FusedOnlyInQat,
    /// Ops of an unfolded BatchNorm.
    FoldBatchnorm,
    /// Integer ops PTQ folds into the op before them, kept apart in QAT by
    /// a quantizer between them.
    UnblockFold {
        /// The layers to change.
        culprits: Vec<Culprit>,
    },
    /// Ops in one model only.
    CheckSameModel,
    /// Model I/O types differ.
    MatchIoTypes,
    /// The two compute at different integer widths.
    MatchWidth {
        /// PTQ's width.
        ptq: Compute,
        /// QAT's width.
        qat: Compute,
    },
}

/// Whether a requantize from `from` to `to` is nearly free: the same zero
/// point (±1) and scales within 1%.
pub fn near_free(from: Option<(f32, i64)>, to: Option<(f32, i64)>) -> bool {
    match (from, to) {
        (Some(a), Some(b)) => {
            let zp_close = a.1.checked_sub(b.1).is_some_and(|d| d.abs() <= 1);
            let m = a.0.abs().max(b.0.abs());
            zp_close && m > 0.0 && (a.0 - b.0).abs() / m < 0.01
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// The per-layer plan: what PTQ does with each layer, and the annotation that
// reproduces it.
// ---------------------------------------------------------------------------

/// Why a layer got its action.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// PTQ computes it in float.
    FloatInPtq,
    /// The registry's quantizers give PTQ's placement.
    RegistryMatches,
    /// The registry does not know the layer.
    NotInRegistry,
    /// The registry quantizes the output of an op that PTQ runs with its input's scale.
    RegistryAddsRequantize,
    /// PTQ keeps the input's scale on the output (a same-scale op).
    KeepsInputScale,
    /// The output's parameters are fixed by the kernel (softmax, logistic, tanh).
    FixedOutput,
    /// The output joins a scale group whose quantizer sits on another layer.
    JoinsSharedScale {
        /// The layer carrying the group's quantizer.
        carrier: Option<String>,
    },
    /// It carries the one quantizer of a scale group shared with other layers.
    CarriesSharedScale,
    /// Several ops of the layer each have their own integer scale, which one
    /// QuantizeConfig cannot give them.
    InnerScales {
        /// How many ops with their own scale.
        ops: usize,
    },
    /// The layer returns several tensors with their own scales; a
    /// QuantizeConfig quantizes one output only.
    SeveralOutputs {
        /// How many.
        outputs: usize,
    },
    /// A TFOpLambda (`tf.math.multiply` in a functional model): tfmot
    /// cannot wrap it.
    TfOpLambda,
    /// It reads the model input: annotated, it makes tfmot quantize that
    /// input (a quantize layer after the InputLayer).
    QuantizesModelInput,
    /// It is annotated (its kernel fake-quantized in training) and still
    /// reads the model input in float, with float weights: a layer between
    /// that input and it, which the converter folds into its op (a
    /// Rescaling) and so the file does not name, is left unannotated, and
    /// tfmot inserts no quantize layer. Converting with a representative
    /// dataset lets the converter calibrate that input.
    InputThroughUnnamedLayer,
    /// PTQ folds this BatchNormalization into the layer's op, which tfmot
    /// cannot do for this layer (a Conv1D or a Dense): left unannotated with
    /// the layer, the converter folds and quantizes them when it calibrates.
    NoBatchNormFold {
        /// The BatchNormalization.
        batchnorm: String,
    },
    /// The PTQ file names no op after it (PTQ fused it into a neighbour's
    /// op), and QAT leaves it unannotated in a region PTQ runs in integer.
    NotNamedByPtq,
    /// It is fused into one op with this layer, whose output is the op's:
    /// that layer carries the quantizer.
    FusedInto {
        /// The layer carrying the op's output.
        layer: String,
    },
    /// PTQ folds part of another layer (a multiply by a constant) into its
    /// op; that layer, calibrated by the converter, gives the op its scale.
    PartlyFoldedInto {
        /// The layer partly folded in.
        layer: String,
    },
    /// `tflq measure` keeps it in float: its local error is among the
    /// largest of the model.
    KeptFloatByMeasure,
}

/// How PTQ quantized a layer's weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightFacts {
    /// The weights' type.
    pub dtype: DType,
    /// Per-tensor, or per-axis along `axis`.
    pub granularity: Granularity,
    /// Every zero point is 0.
    pub symmetric: bool,
}

/// How many layers sharing a scale a plan entry lists by name.
pub const SHARES_LISTED: usize = 16;

/// The facts behind a layer's action, read from the PTQ file.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerFacts {
    /// How its main op computes.
    pub compute: Compute,
    /// Its weights, when it has integer weights.
    pub weights: Option<WeightFacts>,
    /// Its output's type.
    pub output_dtype: Option<DType>,
    /// The output's fixed (scale, zero point), when the kernel fixes it.
    pub fixed_output: Option<(f32, i64)>,
    /// Other layers whose tensors share its output's scale and zero point
    /// (the first [`SHARES_LISTED`]).
    pub shares_scale_with: Vec<String>,
    /// How many other layers share it in all.
    pub shares_scale_count: usize,
    /// The scale groups its outputs belong to, each once: with them the
    /// plan knows every layer of a group, where `shares_scale_with` lists
    /// the first few.
    pub scale_groups: Vec<ScaleGroupId>,
    /// The layer's outputs (tensors read outside it or graph outputs), with
    /// whether each is integer.
    pub outputs: Vec<bool>,
}

/// One group of tensors PTQ gives a single scale and zero point: the
/// subgraph and the group's index in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScaleGroupId {
    /// The subgraph of the group.
    pub subgraph: SubgraphId,
    /// The group's index among that subgraph's groups.
    pub group: usize,
}

/// A QuantizeConfig of tflq's own: which quantizers a layer gets when
/// tfmot's registry default is not what PTQ does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QatConfig {
    /// The Keras weight attribute to quantize (`kernel`,
    /// `depthwise_kernel`), if any.
    pub weights: Option<&'static str>,
    /// The weights per output channel, as PTQ has them (applied where tfmot
    /// can: the rank-4 kernels of Conv2D and DepthwiseConv2D).
    pub per_axis: bool,
    /// Quantize the output (asymmetric 8-bit moving average).
    pub output: bool,
}

impl QatConfig {
    /// No quantizer at all: the output keeps the scale its input has, or
    /// one that another layer's quantizer decides.
    pub const NO_QUANTIZER: QatConfig = QatConfig {
        weights: None,
        per_axis: false,
        output: false,
    };
}

/// What to do where no annotation reproduces PTQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Workaround {
    /// Split a layer with several integer outputs into one layer per output.
    SplitOutputs,
    /// Convert the QAT model with a representative dataset too, so the
    /// converter calibrates a TF op's output; or use a Keras layer instead.
    CalibrateTfOp,
    /// Convert with a representative dataset too, so the converter
    /// calibrates the layer's inner tensors; or split the layer.
    CalibrateInner,
    /// Convert with a representative dataset, so the converter folds the
    /// BatchNormalization and quantizes the layer; or, for a Conv1D, write
    /// it as a Conv2D with a (1, k) kernel, which tfmot's Conv2D+BatchNorm
    /// transform folds.
    CalibrateFold,
}

/// One layer of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerPlan {
    /// The layer's name, or `None` for ops the file names after no layer.
    pub layer: Option<String>,
    /// Layers folded into it (a BatchNormalization, an activation): annotate
    /// them together so tfmot's folding transforms apply.
    pub folded: Vec<String>,
    /// The layers of `folded` its ops' names show to be BatchNormalizations.
    pub folded_batchnorms: Vec<String>,
    /// The subgraph.
    pub subgraph: SubgraphId,
    /// Its ops, in order.
    pub ops: Vec<OpId>,
    /// Their kinds.
    pub op_kinds: Vec<OpKind>,
    /// The annotation.
    pub action: Action,
    /// Why.
    pub reasons: Vec<Reason>,
    /// What the file says.
    pub facts: LayerFacts,
    /// The QuantizeConfig the action needs (`output`, `weights-only`,
    /// `no-quantizer`); `None` for the registry default, float and
    /// unsupported layers.
    pub config: Option<QatConfig>,
    /// For a `default` entry: the config PTQ's facts call for when the
    /// model's layer is not one tfmot's registry takes as it is (a
    /// TFOpLambda where the op usually comes from a registry layer, a
    /// Conv1D, an activation the default configs reject).
    pub fallback: Option<QatConfig>,
    /// Its integer tensors get no range from QAT: convert the QAT model with
    /// a representative dataset too, and the converter calibrates them.
    pub calibrate: bool,
    /// What to do instead, for an `unsupported` layer.
    pub workaround: Option<Workaround>,
}

/// The plan of a PTQ model.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Who wrote the file.
    pub producer: Producer,
    /// The model's scheme.
    pub scheme: SchemeKind,
    /// The model was converted from a QAT graph (a plan is meant for PTQ).
    pub qat: bool,
    /// One entry per layer (and per unnamed op), in the order of their first op.
    pub layers: Vec<LayerPlan>,
}

impl Plan {
    /// Entries with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.layers.iter().filter(|l| l.action == action).count()
    }
}

/// One integer scale group of a subgraph: tensors that PTQ gives one
/// (scale, zero point) because same-scale ops join them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleGroup {
    /// The tensors.
    pub tensors: Vec<TensorId>,
    /// Ops that write a group tensor with a scale of their own (not through a
    /// same-scale op from another group tensor).
    pub sources: Vec<OpId>,
    /// Same-scale ops inside the group.
    pub members: Vec<OpId>,
    /// The op whose quantizer decides the group's scale in QAT.
    pub carrier: Option<OpId>,
}

fn same_params(a: (f32, i64), b: (f32, i64)) -> bool {
    a.1 == b.1 && {
        let m = a.0.abs().max(b.0.abs());
        m == 0.0 || (a.0 - b.0).abs() / m <= 1e-6
    }
}

/// The scale groups of an integer subgraph, found by union-find over the
/// wires of same-scale ops whose input and output carry equal parameters.
/// Linear in operands.
pub fn scale_groups(graph: &Graph<'_>, order: &[OpId]) -> Vec<ScaleGroup> {
    let sg = graph.subgraph();
    let n = sg.tensors.len();
    let mut uf: UnionFind<usize> = UnionFind::new(n);
    let is_int_act = |t: TensorId| {
        let tensor = sg.tensor(t);
        !tensor.is_constant() && tensor.dtype.is_quantizable_int() && tensor.per_tensor().is_some()
    };
    // `tied[t]`: the tensor was written by a same-scale op from a group input.
    let mut tied = vec![false; n];
    for &op in order {
        let o = sg.op(op);
        let same = rules::rule(&o.kind).same_scale;
        if !same.is_same_scale() {
            continue;
        }
        for &out in &o.outputs {
            let Some(po) = sg.tensor(out).per_tensor().filter(|_| is_int_act(out)) else {
                continue;
            };
            for (i, t) in o.inputs.iter().enumerate() {
                let Some(t) = *t else { continue };
                if !same.covers(i) || !is_int_act(t) {
                    continue;
                }
                if sg
                    .tensor(t)
                    .per_tensor()
                    .is_some_and(|pi| same_params(pi, po))
                {
                    uf.union(t.index(), out.index());
                    tied[out.index()] = true;
                }
            }
        }
    }
    let mut by_root: std::collections::BTreeMap<usize, ScaleGroup> = Default::default();
    for (t, tied) in tied.iter().enumerate() {
        let id = TensorId(t as u32);
        if !is_int_act(id) {
            continue;
        }
        let g = by_root.entry(uf.find(t)).or_insert_with(|| ScaleGroup {
            tensors: Vec::new(),
            sources: Vec::new(),
            members: Vec::new(),
            carrier: None,
        });
        g.tensors.push(id);
        if let Some(p) = graph.producer(id) {
            if *tied {
                g.members.push(p);
            } else {
                g.sources.push(p);
            }
        }
    }
    let position: Vec<usize> = {
        let mut pos = vec![usize::MAX; sg.operators.len()];
        for (i, op) in order.iter().enumerate() {
            pos[op.index()] = i;
        }
        pos
    };
    let mut groups: Vec<ScaleGroup> = by_root.into_values().collect();
    for g in &mut groups {
        for v in [&mut g.sources, &mut g.members] {
            v.sort_by_key(|o| position.get(o.index()).copied().unwrap_or(usize::MAX));
            v.dedup();
        }
        g.carrier = if g.sources.len() <= 1 {
            g.sources.first().copied()
        } else {
            // Several scales meet: a same-scale op that joins two group
            // tensors carries the one quantizer; of nested joins (Inception's
            // concatenation of concatenations), the outermost, as tfmot's
            // concat transform leaves a concatenation feeding another
            // without its own output quantizer.
            let in_group: std::collections::BTreeSet<TensorId> =
                g.tensors.iter().copied().collect();
            let joins: std::collections::BTreeSet<OpId> = g
                .members
                .iter()
                .copied()
                .filter(|m| {
                    sg.op(*m)
                        .present_inputs()
                        .filter(|t| in_group.contains(t))
                        .count()
                        >= 2
                })
                .collect();
            let feeds_a_join = |m: OpId| {
                sg.op(m).outputs.iter().any(|&t| {
                    graph
                        .consumers(t)
                        .iter()
                        .any(|c| *c != m && joins.contains(c))
                })
            };
            // Members are in execution order; the set is only for lookups.
            let in_order = || g.members.iter().copied().filter(|m| joins.contains(m));
            in_order()
                .find(|m| !feeds_a_join(*m))
                .or_else(|| in_order().next())
                .or_else(|| g.sources.first().copied())
        };
    }
    groups.sort_by_key(|g| g.tensors.first().copied());
    groups
}

/// The plan for a PTQ model: for every layer the file names, what PTQ does
/// with it and the tfmot annotation that reproduces it.
pub fn plan(model: &Model, insp: &Inspection) -> Plan {
    let mut layers: Vec<LayerPlan> = Vec::new();
    for (s, sq) in insp.subgraphs.iter().enumerate() {
        let sg = &model.subgraphs[s];
        let graph = Graph::new(sg);
        let order = graph.execution_order();
        let groups = scale_groups(&graph, &order);
        plan_subgraph(insp.producer, &graph, sq, &order, &groups, &mut layers);
    }
    Plan {
        producer: insp.producer,
        scheme: insp.scheme.kind,
        qat: insp.scheme.qat,
        layers,
    }
}

/// The action one op asks for, with its reasons.
fn op_action(
    graph: &Graph<'_>,
    op: OpId,
    compute: Compute,
    group_of: &[Option<usize>],
    groups: &[ScaleGroup],
    ops: &[OpInfo],
) -> (Action, Vec<Reason>) {
    let sg = graph.subgraph();
    let o = sg.op(op);
    let rule = rules::rule(&o.kind);
    if compute.is_float() {
        return (Action::Float, vec![Reason::FloatInPtq]);
    }
    let group = o
        .outputs
        .first()
        .and_then(|t| group_of.get(t.index()).copied().flatten())
        .and_then(|g| groups.get(g));
    let registry = rule.tfmot;
    let carrier_layer = |g: &ScaleGroup| {
        g.carrier
            .and_then(|c| ops.get(c.index()))
            .and_then(|i| i.layers.last().cloned())
    };
    let own_scale = |reasons: Vec<Reason>| match registry {
        Tfmot::Quantized => (
            Action::Default,
            [reasons, vec![Reason::RegistryMatches]].concat(),
        ),
        Tfmot::NoQuantizer => (
            Action::Output,
            [reasons, vec![Reason::NotInRegistry]].concat(),
        ),
        Tfmot::Unsupported | Tfmot::NotALayer => (
            Action::Output,
            [reasons, vec![Reason::NotInRegistry]].concat(),
        ),
    };
    if let Some(out) = o.outputs.first()
        && rules::fixed_output(&o.kind, sg.tensor(*out).dtype).is_some()
    {
        return match registry {
            Tfmot::Quantized => (
                Action::Default,
                vec![Reason::FixedOutput, Reason::RegistryMatches],
            ),
            _ => (
                Action::NoQuantizer,
                vec![Reason::FixedOutput, Reason::NotInRegistry],
            ),
        };
    }
    let Some(g) = group else {
        return own_scale(Vec::new());
    };
    let shared = g.sources.len() > 1;
    if g.carrier == Some(op) {
        return own_scale(if shared {
            vec![Reason::CarriesSharedScale]
        } else {
            Vec::new()
        });
    }
    if g.members.contains(&op) {
        // Keeps its input's scale.
        return match registry {
            Tfmot::NoQuantizer => (
                Action::Default,
                vec![Reason::KeepsInputScale, Reason::RegistryMatches],
            ),
            Tfmot::Quantized => (
                Action::NoQuantizer,
                vec![Reason::KeepsInputScale, Reason::RegistryAddsRequantize],
            ),
            _ => (
                Action::NoQuantizer,
                vec![Reason::KeepsInputScale, Reason::NotInRegistry],
            ),
        };
    }
    // A source of a shared group that does not carry its quantizer.
    let joins = Reason::JoinsSharedScale {
        carrier: carrier_layer(g),
    };
    if rule.weights.is_some() {
        (Action::WeightsOnly, vec![joins])
    } else {
        (Action::NoQuantizer, vec![joins])
    }
}

/// What one layer of a (possibly fused) op is given.
struct Role {
    layer: Option<String>,
    action: Action,
    reasons: Vec<Reason>,
    folded: Vec<String>,
    /// It carries the op's output (its quantizer decides the op's scale).
    output: bool,
    /// It holds the op's weights.
    weights: bool,
}

/// Share one op's decision among the layers its name lists, outermost
/// first (`relu1`, `bn1`, `conv1` for a conv with BatchNorm and ReLU folded
/// in). When tfmot's registry gives the placement (the conv, BN and
/// activation patterns its transforms fold), the innermost layer owns the
/// entry and the others are folded into it. Otherwise the roles split: the
/// outermost layer, whose output is the op's, carries the output decision;
/// the innermost, if the op has weights, quantizes its weights only; layers
/// between get no quantizer; TFOpLambda layers, which tfmot cannot wrap,
/// are folded into the op's output layer.
fn layer_roles(
    layers: &[String],
    action: Action,
    reasons: Vec<Reason>,
    has_weights: bool,
) -> Vec<Role> {
    let tf_op = layers.iter().any(|l| is_tf_op_lambda(l));
    if layers.len() <= 1 || (action == Action::Default && !tf_op) {
        let owner = layers.last().cloned();
        let folded = layers
            .iter()
            .take(layers.len().saturating_sub(1))
            .rev()
            .cloned()
            .collect();
        // A lone TFOpLambda with a scale of its own cannot carry a quantizer.
        let (action, reasons) = match &owner {
            Some(l)
                if is_tf_op_lambda(l) && matches!(action, Action::Output | Action::WeightsOnly) =>
            {
                (
                    Action::Unsupported,
                    [reasons, vec![Reason::TfOpLambda]].concat(),
                )
            }
            _ => (action, reasons),
        };
        return vec![Role {
            layer: owner,
            action,
            reasons,
            folded,
            output: true,
            weights: true,
        }];
    }
    let wrappable: Vec<&String> = layers.iter().filter(|l| !is_tf_op_lambda(l)).collect();
    let lambdas: Vec<String> = layers
        .iter()
        .filter(|l| is_tf_op_lambda(l))
        .cloned()
        .collect();
    let Some(&first) = wrappable.first() else {
        // Only TFOpLambdas: nothing tfmot can annotate.
        return vec![Role {
            layer: layers.first().cloned(),
            action: if action == Action::Float {
                Action::Float
            } else {
                Action::Unsupported
            },
            reasons: [reasons, vec![Reason::TfOpLambda]].concat(),
            folded: layers.iter().skip(1).cloned().collect(),
            output: true,
            weights: true,
        }];
    };
    let last = if has_weights {
        wrappable.last().copied()
    } else {
        None
    };
    let mut roles = Vec::new();
    for &l in &wrappable {
        let (is_out, is_w) = (l == first, Some(l) == last);
        let fused_into = Reason::FusedInto {
            layer: first.clone(),
        };
        let role_action = match (is_out, is_w, action) {
            (_, _, Action::Float) => Action::Float,
            (_, _, Action::Unsupported) => Action::Unsupported,
            (true, false, Action::WeightsOnly) => Action::NoQuantizer,
            (true, _, a) => a,
            // Split because tfmot cannot fold the chain: the output layer's
            // quantizer alone gives the op's scale.
            (false, true, _) => Action::WeightsOnly,
            (false, false, _) => Action::NoQuantizer,
        };
        roles.push(Role {
            layer: Some(l.clone()),
            action: role_action,
            reasons: if is_out {
                reasons.clone()
            } else {
                vec![fused_into]
            },
            folded: if is_out { lambdas.clone() } else { Vec::new() },
            output: is_out,
            weights: is_w || (is_out && last.is_none()),
        });
    }
    roles
}

fn plan_subgraph(
    producer: Producer,
    graph: &Graph<'_>,
    sq: &SubgraphQuant,
    order: &[OpId],
    groups: &[ScaleGroup],
    out: &mut Vec<LayerPlan>,
) {
    let sg = graph.subgraph();
    let mut group_of: Vec<Option<usize>> = vec![None; sg.tensors.len()];
    for (i, g) in groups.iter().enumerate() {
        for t in &g.tensors {
            group_of[t.index()] = Some(i);
        }
    }
    // Entries of this subgraph, by owning layer (None: one per unnamed op).
    let first_new = out.len();
    let mut entries = EntryIndex {
        of_layer: Default::default(),
        of_op: vec![None; sg.operators.len()],
        decisions: Default::default(),
    };
    for &op in order {
        let Some(info) = sq.ops.get(op.index()) else {
            continue;
        };
        let o = sg.op(op);
        if matches!(info.compute, Compute::Convert | Compute::Other)
            || rules::rule(&o.kind).tfmot == Tfmot::NotALayer
        {
            continue;
        }
        let (action, reasons) = op_action(graph, op, info.compute, &group_of, groups, &sq.ops);
        let has_weights = rules::rule(&o.kind).weights.is_some();
        let layers = weights_owner_last(producer, graph, op, &info.layers);
        for role in layer_roles(&layers, action, reasons, has_weights) {
            entries.add_role(graph, op, info.compute, sq.subgraph, role, out);
        }
    }
    let mut is_source = vec![false; sg.operators.len()];
    let group_layers = layers_of_groups(groups, sq, &mut is_source);
    let consumer_entry = entries.consumer_entries(graph);
    let layer_view = LayerView {
        graph,
        group_of: &group_of,
        group_layers: &group_layers,
        is_source: &is_source,
        consumer_entry: &consumer_entry,
        entries: &entries,
    };
    for (i, entry) in out.iter_mut().enumerate().skip(first_new) {
        layer_view.settle(i, entry);
    }
    split_folds_into_owners(&mut out[first_new..]);
    name_folded_batchnorms(producer, graph, &mut out[first_new..]);
    unfoldable_batchnorms(&mut out[first_new..]);
    for entry in out.iter_mut().skip(first_new) {
        settle_configs(entry);
    }
}

/// A layer PTQ folds part of into another layer's op while it owns an op of
/// its own (InceptionResNetV2's CustomScaleLayer: its multiply by a constant
/// folded into the conv before it, its add its own) is not folded the way a
/// BatchNorm or an activation is: no QuantizeConfig of it gives that op its
/// scale. The weighted layer whose op it joins keeps only its weights (its
/// own output quantizer would keep the multiply out of the conv), and the
/// layer has two scales of its own, so the converter calibrates it.
fn split_folds_into_owners(entries: &mut [LayerPlan]) {
    let owners: std::collections::HashSet<String> = entries
        .iter()
        .filter_map(|e| e.layer.clone())
        .filter(|l| !is_tf_op_lambda(l))
        .collect();
    let mut split: std::collections::HashSet<String> = Default::default();
    for entry in entries.iter_mut() {
        let (owning, rest): (Vec<String>, Vec<String>) =
            entry.folded.drain(..).partition(|f| owners.contains(f));
        entry.folded = rest;
        let Some(first) = owning.first() else {
            continue;
        };
        if entry.facts.weights.is_some() && entry.action == Action::Default {
            entry.action = Action::WeightsOnly;
            entry.reasons = vec![Reason::PartlyFoldedInto {
                layer: first.clone(),
            }];
        }
        split.extend(owning);
    }
    for entry in entries.iter_mut() {
        if entry
            .layer
            .as_ref()
            .is_some_and(|l| split.contains(l.as_str()))
            && matches!(entry.action, Action::Default | Action::Output)
        {
            entry.action = Action::Unsupported;
            entry.reasons = vec![Reason::InnerScales { ops: 2 }];
        }
    }
}

/// Fill each entry's `folded_batchnorms`: the names of its ops' outputs and
/// constants (a folded BatchNorm may show in the bias's name only) tell
/// which folded layers are BatchNormalizations.
fn name_folded_batchnorms(producer: Producer, graph: &Graph<'_>, entries: &mut [LayerPlan]) {
    let sg = graph.subgraph();
    for entry in entries.iter_mut().filter(|e| !e.folded.is_empty()) {
        let mut batchnorms: Vec<String> = Vec::new();
        for &op in &entry.ops {
            let o = sg.op(op);
            let constants = o.inputs.iter().flatten().filter(|&&t| graph.is_constant(t));
            for &t in o.outputs.iter().chain(constants) {
                batchnorms.extend(
                    producer
                        .batchnorm_layers(sg.tensor(t).name)
                        .into_iter()
                        .map(|l| l.name),
                );
            }
        }
        entry.folded_batchnorms = entry
            .folded
            .iter()
            .filter(|f| batchnorms.contains(f))
            .cloned()
            .collect();
    }
}

/// A layer PTQ folds a BatchNormalization into, where tfmot cannot fold it
/// (a Conv1D or a Dense: see [`rules::tfmot::folds_batchnorm`]), is
/// unsupported: annotated, it keeps the BatchNorm as float ops (a Conv1D)
/// or runs in float (a Dense); left unannotated with what folds into it,
/// the converter folds and quantizes them from the representative dataset.
fn unfoldable_batchnorms(entries: &mut [LayerPlan]) {
    for entry in entries.iter_mut() {
        if rules::tfmot::folds_batchnorm(&entry.op_kinds) {
            continue;
        }
        if let Some(bn) = entry.folded_batchnorms.first().cloned() {
            entry.action = Action::Unsupported;
            entry.reasons = vec![Reason::NoBatchNormFold { batchnorm: bn }];
        }
    }
}

/// The layers an op's name lists, with the one holding its weights last: the
/// innermost one the weight tensor is named after (a padding layer fused in
/// front of a depthwise conv is named last, but holds nothing).
fn weights_owner_last(
    producer: Producer,
    graph: &Graph<'_>,
    op: OpId,
    layers: &[String],
) -> Vec<String> {
    let sg = graph.subgraph();
    let o = sg.op(op);
    let mut layers = layers.to_vec();
    // A weight tensor named only after a BatchNorm folded into it (a
    // Dense's kernel) says nothing: the op's output name has the layer.
    if let Some(w) = rules::rule(&o.kind).weights
        && let Some(Some(wt)) = o.inputs.get(w.weights)
        && let Some(owner) = producer.weight_layer(sg.tensor(*wt).name).or_else(|| {
            o.outputs
                .first()
                .and_then(|&t| producer.weight_layer(sg.tensor(t).name))
        })
        && let Some(i) = layers.iter().position(|l| {
            owner.name == *l
                || owner
                    .name
                    .strip_prefix(l.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    {
        let owner = layers.remove(i);
        layers.push(owner);
    }
    layers
}

/// The entries of one subgraph's plan: of each layer name and each op, for
/// linear-time lookups, and what each op asked of the entry that carries
/// its output.
struct EntryIndex {
    of_layer: std::collections::HashMap<String, usize>,
    of_op: Vec<Option<usize>>,
    decisions: std::collections::HashMap<(usize, OpId), (Action, Vec<Reason>)>,
}

impl EntryIndex {
    /// Give `op` to the entry of `role`'s layer, creating the entry.
    fn add_role(
        &mut self,
        graph: &Graph<'_>,
        op: OpId,
        compute: Compute,
        subgraph: SubgraphId,
        role: Role,
        out: &mut Vec<LayerPlan>,
    ) {
        let sg = graph.subgraph();
        let o = sg.op(op);
        let idx = role
            .layer
            .as_ref()
            .and_then(|name| self.of_layer.get(name).copied());
        let entry_index = idx.unwrap_or(out.len());
        // The op's facts go to the entry that carries its output.
        if role.output
            && let Some(slot) = self.of_op.get_mut(op.index())
        {
            *slot = Some(entry_index);
        }
        if idx.is_none()
            && let Some(name) = &role.layer
        {
            self.of_layer.insert(name.clone(), entry_index);
        }
        let entry = match idx {
            Some(i) => &mut out[i],
            None => {
                out.push(LayerPlan::new(
                    role.layer.clone(),
                    subgraph,
                    role.action,
                    compute,
                ));
                match out.last_mut() {
                    Some(e) => e,
                    None => return,
                }
            }
        };
        for f in role.folded {
            if !entry.folded.contains(&f) {
                entry.folded.push(f);
            }
        }
        // An op's roles are added one after another, so an op already in
        // this entry is its last (a scan would be quadratic in a layer's ops).
        if entry.ops.last() != Some(&op) {
            entry.ops.push(op);
            entry.op_kinds.push(o.kind.clone());
        }
        entry.action = entry.action.max(role.action);
        if role.output {
            self.decisions
                .insert((entry_index, op), (role.action, role.reasons.clone()));
        }
        for r in role.reasons {
            if !entry.reasons.contains(&r) {
                entry.reasons.push(r);
            }
        }
        if role.weights && entry.facts.weights.is_none() {
            entry.facts.weights = weight_facts(graph, op);
        }
        if role.output
            && let Some(&t) = o.outputs.first()
        {
            let tensor = sg.tensor(t);
            entry.facts.output_dtype = Some(tensor.dtype);
            entry.facts.fixed_output = rules::fixed_output(&o.kind, tensor.dtype);
        }
    }

    /// Per tensor, the one entry all its consumers belong to, if they belong
    /// to one: walked once per tensor, so asking for each op's outputs stays
    /// linear however many ops read (and write) one tensor.
    fn consumer_entries(&self, graph: &Graph<'_>) -> Vec<ConsumerEntry> {
        (0..graph.subgraph().tensors.len())
            .map(|t| {
                let mut entries = graph
                    .consumers(TensorId(t as u32))
                    .iter()
                    .map(|c| self.of_op.get(c.index()).copied().flatten());
                match entries.next() {
                    None => ConsumerEntry::Unread,
                    Some(first) if entries.all(|e| e == first) => match first {
                        Some(e) => ConsumerEntry::One(e),
                        None => ConsumerEntry::NoEntry,
                    },
                    Some(_) => ConsumerEntry::Several,
                }
            })
            .collect()
    }
}

/// Who reads a tensor, by plan entry.
#[derive(Debug, Clone, Copy)]
enum ConsumerEntry {
    /// No op reads it.
    Unread,
    /// Every reader belongs to this entry.
    One(usize),
    /// Its readers belong to no entry.
    NoEntry,
    /// Readers in several entries.
    Several,
}

/// The integer weights of a weighted op, as the plan states them.
fn weight_facts(graph: &Graph<'_>, op: OpId) -> Option<WeightFacts> {
    let sg = graph.subgraph();
    let o = sg.op(op);
    let w = rules::rule(&o.kind).weights?;
    let t = sg.tensor((*o.inputs.get(w.weights)?)?);
    let q = t.quantization.as_ref().filter(|q| q.is_affine())?;
    t.dtype.is_quantizable_int().then(|| WeightFacts {
        dtype: t.dtype,
        granularity: t.granularity(),
        symmetric: q.zero_point.iter().all(|z| z == 0),
    })
}

/// Each group's layers (the first SHARES_LISTED + 1 by first op, and how
/// many in all), collected once, so a group of thousands of tensors costs
/// linear time; marks the ops that are a group's sources.
fn layers_of_groups(
    groups: &[ScaleGroup],
    sq: &SubgraphQuant,
    is_source: &mut [bool],
) -> Vec<(Vec<String>, usize)> {
    groups
        .iter()
        .map(|g| {
            for op in &g.sources {
                if let Some(f) = is_source.get_mut(op.index()) {
                    *f = true;
                }
            }
            let mut all: std::collections::BTreeSet<&str> = Default::default();
            let mut listed: Vec<String> = Vec::new();
            for op in g.sources.iter().chain(&g.members) {
                if let Some(l) = sq.ops.get(op.index()).and_then(|i| i.layers.last())
                    && all.insert(l.as_str())
                    && listed.len() <= SHARES_LISTED
                {
                    listed.push(l.clone());
                }
            }
            (listed, all.len())
        })
        .collect()
}

/// What the layer-level pass reads of one subgraph.
struct LayerView<'a, 'g> {
    graph: &'a Graph<'g>,
    group_of: &'a [Option<usize>],
    group_layers: &'a [(Vec<String>, usize)],
    is_source: &'a [bool],
    consumer_entry: &'a [ConsumerEntry],
    entries: &'a EntryIndex,
}

impl LayerView<'_, '_> {
    /// Whether `t` is read outside entry `entry` (or is a model output, or
    /// read by nothing).
    fn leaves(&self, t: TensorId, entry: usize) -> bool {
        let read_elsewhere = match self.consumer_entry.get(t.index()) {
            Some(ConsumerEntry::One(e)) => *e != entry,
            _ => true,
        };
        self.graph.is_graph_output(t) || read_elsewhere || self.graph.consumers(t).is_empty()
    }

    /// Layer-level facts of entry `i`, and the limits of one QuantizeConfig
    /// per layer.
    fn settle(&self, i: usize, entry: &mut LayerPlan) {
        let sg = self.graph.subgraph();
        let mut outputs = Vec::new();
        let mut own_scales = 0usize;
        let mut shares: Vec<String> = Vec::new();
        let mut shares_total = 0usize;
        for &op in &entry.ops {
            for &t in &sg.op(op).outputs {
                let tensor = sg.tensor(t);
                let int = tensor.dtype.is_quantizable_int() && tensor.per_tensor().is_some();
                if self.leaves(t, i) {
                    outputs.push(int);
                }
                let fixed = rules::fixed_output(&sg.op(op).kind, tensor.dtype).is_some();
                let group = self.group_of.get(t.index()).copied().flatten();
                let own =
                    group.is_some() && self.is_source.get(op.index()).copied().unwrap_or(false);
                if int && own && !fixed {
                    own_scales = own_scales.saturating_add(1);
                }
                if let Some(g) = group {
                    let id = ScaleGroupId {
                        subgraph: entry.subgraph,
                        group: g,
                    };
                    if !entry.facts.scale_groups.contains(&id) {
                        entry.facts.scale_groups.push(id);
                    }
                }
                if let Some((listed, total)) = group.and_then(|g| self.group_layers.get(g)) {
                    let others = total.saturating_sub(usize::from(entry.layer.is_some()));
                    shares_total = shares_total.max(others);
                    for l in listed {
                        if entry.layer.as_ref() != Some(l)
                            && !shares.contains(l)
                            && shares.len() < SHARES_LISTED
                        {
                            shares.push(l.clone());
                        }
                    }
                }
            }
        }
        if entry.ops.len() > 1
            && let Some((action, reasons)) = layer_decision(
                self.graph,
                &entry.ops,
                i,
                &self.entries.of_op,
                &self.entries.decisions,
                |t| self.leaves(t, i),
            )
        {
            entry.action = action;
            entry.reasons = reasons;
        }
        entry.facts.shares_scale_count = shares_total.max(shares.len());
        entry.facts.outputs = outputs;
        entry.facts.shares_scale_with = shares;
        if entry.layer.is_none() || entry.action == Action::Float {
            return;
        }
        let int_outputs = entry.facts.outputs.iter().filter(|b| **b).count();
        let all_registry = entry
            .op_kinds
            .iter()
            .all(|k| rules::rule(k).tfmot == Tfmot::Quantized);
        // One layer, one reason: when one QuantizeConfig cannot express the
        // layer, that is the reason, whatever its output op alone would ask.
        if int_outputs > 1 && own_scales > 1 {
            entry.action = Action::Unsupported;
            entry.reasons = vec![Reason::SeveralOutputs {
                outputs: int_outputs,
            }];
        } else if own_scales > 1 && !all_registry {
            entry.action = Action::Unsupported;
            entry.reasons = vec![Reason::InnerScales { ops: own_scales }];
        }
    }
}

impl LayerPlan {
    /// The annotation of `folded`, a layer PTQ folds into this entry's op
    /// (and the QuantizeConfig it needs): with tfmot's default on this
    /// layer, the default, whose transforms fold it; with a config of its
    /// own, no quantizer (this layer's decides). An activation fused into an
    /// op the converter calibrates (an unsupported layer) takes the default:
    /// its output quantizer gives that op's output its range (NASNet's ReLU
    /// after a BatchNorm of a concatenation; left unannotated, the converter
    /// keeps that op in float). Otherwise, as this layer: float, or left to
    /// the converter.
    pub fn folded_decision(&self, folded: &str) -> (Action, Option<QatConfig>) {
        let batchnorm = self.folded_batchnorms.iter().any(|b| b == folded);
        match self.action {
            Action::Default => (Action::Default, None),
            Action::Unsupported if !batchnorm => (Action::Default, None),
            Action::Float | Action::Unsupported => (self.action, None),
            _ => (Action::NoQuantizer, Some(QatConfig::NO_QUANTIZER)),
        }
    }

    /// A new entry with no ops yet.
    fn new(layer: Option<String>, subgraph: SubgraphId, action: Action, compute: Compute) -> Self {
        LayerPlan {
            layer,
            folded: Vec::new(),
            folded_batchnorms: Vec::new(),
            subgraph,
            ops: Vec::new(),
            op_kinds: Vec::new(),
            action,
            reasons: Vec::new(),
            facts: LayerFacts {
                compute,
                weights: None,
                output_dtype: None,
                fixed_output: None,
                shares_scale_with: Vec::new(),
                shares_scale_count: 0,
                scale_groups: Vec::new(),
                outputs: Vec::new(),
            },
            config: None,
            fallback: None,
            calibrate: false,
            workaround: None,
        }
    }
}

/// The QuantizeConfig an entry's action needs, its fallback, whether the
/// converter must calibrate it, and the workaround: decided once, here, for
/// every report and the generated module.
fn settle_configs(entry: &mut LayerPlan) {
    let weights = entry
        .op_kinds
        .iter()
        .find_map(rules::tfmot::weight_attribute)
        .filter(|_| entry.facts.weights.is_some());
    let per_axis = entry
        .facts
        .weights
        .is_some_and(|w| matches!(w.granularity, Granularity::PerAxis { .. }))
        && rules::tfmot::per_axis_kernel(&entry.op_kinds);
    let with_weights = |output| QatConfig {
        weights,
        per_axis,
        output,
    };
    let has = |f: fn(&Reason) -> bool| entry.reasons.iter().any(f);
    entry.config = match entry.action {
        Action::Default | Action::Float | Action::Unsupported => None,
        Action::Output => Some(with_weights(true)),
        Action::WeightsOnly => Some(with_weights(false)),
        Action::NoQuantizer => Some(QatConfig::NO_QUANTIZER),
    };
    entry.fallback = (entry.action == Action::Default && entry.layer.is_some()).then(|| {
        if has(|r| matches!(r, Reason::KeepsInputScale | Reason::FixedOutput)) {
            QatConfig::NO_QUANTIZER
        } else {
            with_weights(true)
        }
    });
    let unsupported = entry.action == Action::Unsupported;
    entry.calibrate = unsupported
        && has(|r| {
            matches!(
                r,
                Reason::InnerScales { .. } | Reason::TfOpLambda | Reason::NoBatchNormFold { .. }
            )
        });
    entry.workaround = unsupported.then(|| {
        if has(|r| matches!(r, Reason::SeveralOutputs { .. })) {
            Workaround::SplitOutputs
        } else if has(|r| matches!(r, Reason::NoBatchNormFold { .. })) {
            Workaround::CalibrateFold
        } else if has(|r| matches!(r, Reason::TfOpLambda)) {
            Workaround::CalibrateTfOp
        } else {
            Workaround::CalibrateInner
        }
    });
}

/// The annotation of a layer lowered to several ops: tfmot quantizes a layer
/// at its boundary (weights and output), so the ops whose outputs leave the
/// layer decide, each traced back through the same-scale ops of the layer
/// (a Conv1D's Squeeze keeps the scale its CONV_2D gives) to the op that
/// gives the scale. `None` when an op that decides recorded no decision for
/// this entry (its output belongs to a fused layer's entry).
fn layer_decision(
    graph: &Graph<'_>,
    ops: &[OpId],
    entry: usize,
    entry_of_op: &[Option<usize>],
    decisions: &std::collections::HashMap<(usize, OpId), (Action, Vec<Reason>)>,
    leaves: impl Fn(TensorId) -> bool,
) -> Option<(Action, Vec<Reason>)> {
    let sg = graph.subgraph();
    let in_entry = |op: OpId| entry_of_op.get(op.index()).copied().flatten() == Some(entry);
    let mut deciding: Vec<OpId> = Vec::new();
    // The op giving each walked op's scale, so that every op is walked once.
    let mut source: std::collections::HashMap<OpId, OpId> = Default::default();
    let mut seen: std::collections::HashSet<OpId> = Default::default();
    for &op in ops {
        if !sg.op(op).outputs.iter().any(|&t| leaves(t)) {
            continue;
        }
        let mut cur = op;
        let mut path: Vec<OpId> = Vec::new();
        // At most one step per op of the layer: a cycle cannot loop.
        for _ in 0..ops.len() {
            if let Some(&known) = source.get(&cur) {
                cur = known;
                break;
            }
            path.push(cur);
            let o = sg.op(cur);
            let same = rules::rule(&o.kind).same_scale;
            let prev = o
                .inputs
                .iter()
                .enumerate()
                .filter(|(k, _)| same.covers(*k))
                .filter_map(|(_, t)| t.and_then(|t| graph.producer(t)))
                .find(|p| *p != cur && in_entry(*p));
            match prev {
                Some(p) => cur = p,
                None => break,
            }
        }
        for walked in path {
            source.insert(walked, cur);
        }
        if seen.insert(cur) {
            deciding.push(cur);
        }
    }
    let mut action: Option<Action> = None;
    let mut reasons: Vec<Reason> = Vec::new();
    for op in deciding {
        let (a, rs) = decisions.get(&(entry, op))?;
        action = Some(action.map_or(*a, |b| b.max(*a)));
        for r in rs {
            if !reasons.contains(r) {
                reasons.push(r.clone());
            }
        }
    }
    action.map(|a| (a, reasons))
}

// ---------------------------------------------------------------------------
// Culprits: the layers whose annotation a compare finding asks to change,
// with the plan's action for each.
// ---------------------------------------------------------------------------

/// A layer whose QAT annotation must change, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Culprit {
    /// The layer.
    pub layer: String,
    /// The annotation PTQ's placement asks for (the plan's action).
    pub action: Action,
    /// The QAT model wraps it already (its names carry tfmot's prefix), so
    /// its QuantizeConfig, not the lack of one, is what differs.
    pub annotated: bool,
    /// The plan's reasons.
    pub reasons: Vec<Reason>,
    /// Layer it folds into in PTQ, when it is folded.
    pub folded_into: Option<String>,
    /// The QuantizeConfig the action needs (`None`: tfmot's default, or
    /// leave it unannotated).
    pub config: Option<QatConfig>,
    /// For the default: the config to use where the model's layer is not
    /// one tfmot's registry takes as it is.
    pub fallback: Option<QatConfig>,
    /// For `unsupported`: leave it unannotated and convert the QAT model
    /// with a representative dataset, so the converter calibrates it.
    pub calibrate: bool,
    /// The layer has no weights in the file, so the model may hold
    /// twins of it: layers of the same class and config called on the same
    /// input, which the converter merges into this layer's op and names
    /// after one of them (NASNet's cells each apply a ReLU to the tensor the
    /// cell before applied one to). The file cannot name those; they take
    /// this culprit's annotation too, or the two stop being identical and
    /// the unannotated one runs in float on its own.
    pub twins: bool,
}

impl Culprit {
    /// A layer the PTQ file names no op after (fused into a neighbour's op,
    /// or merged with a twin), left unannotated: tfmot's default is what
    /// folds it as PTQ does.
    pub fn not_named_by_ptq(layer: String) -> Culprit {
        Culprit {
            layer,
            action: Action::Default,
            annotated: false,
            reasons: vec![Reason::NotNamedByPtq],
            folded_into: None,
            config: None,
            fallback: None,
            calibrate: false,
            twins: true,
        }
    }
}

/// What the plan decided for one layer name.
#[derive(Debug, Clone, PartialEq)]
struct Decided {
    action: Action,
    reasons: Vec<Reason>,
    folded_into: Option<String>,
    config: Option<QatConfig>,
    fallback: Option<QatConfig>,
    calibrate: bool,
    /// The layer has weights: it owns its op's, or it is a BatchNormalization
    /// folded into another layer's (layers with weights are never merged).
    has_weights: bool,
}

/// The plan of a PTQ model indexed by layer name (folded layers included),
/// for compare to look decisions up.
#[derive(Debug, Clone, Default)]
pub struct PlanIndex {
    by_name: std::collections::BTreeMap<String, Decided>,
    /// The layers fused into each layer's op (their reason: fused into it).
    fused: std::collections::BTreeMap<String, Vec<String>>,
    /// Each layer's scale groups, and each group's layers in plan order.
    groups_of: std::collections::BTreeMap<String, Vec<ScaleGroupId>>,
    members: std::collections::BTreeMap<ScaleGroupId, Vec<String>>,
}

impl PlanIndex {
    /// Index a plan.
    pub fn new(plan: &Plan) -> PlanIndex {
        let mut by_name = std::collections::BTreeMap::new();
        let mut fused: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut groups_of = std::collections::BTreeMap::new();
        let mut members: std::collections::BTreeMap<ScaleGroupId, Vec<String>> = Default::default();
        // Only groups of several layers are indexed: most layers have a
        // scale of their own, and a group of one shares it with nobody.
        let mut sizes: std::collections::HashMap<ScaleGroupId, usize> = Default::default();
        for l in plan.layers.iter().filter(|l| l.layer.is_some()) {
            for g in &l.facts.scale_groups {
                let n = sizes.entry(*g).or_default();
                *n = n.saturating_add(1);
            }
        }
        for l in &plan.layers {
            let Some(name) = &l.layer else { continue };
            for r in &l.reasons {
                if let Reason::FusedInto { layer } = r {
                    fused.entry(layer.clone()).or_default().push(name.clone());
                }
            }
            let shared: Vec<ScaleGroupId> = l
                .facts
                .scale_groups
                .iter()
                .copied()
                .filter(|g| sizes.get(g).is_some_and(|&n| n > 1))
                .collect();
            if !shared.is_empty() && !groups_of.contains_key(name) {
                for g in &shared {
                    members.entry(*g).or_default().push(name.clone());
                }
                groups_of.insert(name.clone(), shared);
            }
            by_name.entry(name.clone()).or_insert_with(|| Decided {
                action: l.action,
                reasons: l.reasons.clone(),
                folded_into: None,
                config: l.config,
                fallback: l.fallback,
                calibrate: l.calibrate,
                has_weights: l.facts.weights.is_some(),
            });
            for f in &l.folded {
                let (action, config) = l.folded_decision(f);
                // Where tfmot's default does not take a layer folded into a
                // default owner (a custom layer its registry lacks), it is
                // wrapped with no quantizer, as the generated module does;
                // one fused into an unsupported op is left to the converter.
                let fallback = (l.action == Action::Default).then_some(QatConfig::NO_QUANTIZER);
                by_name.entry(f.clone()).or_insert_with(|| Decided {
                    action,
                    reasons: Vec::new(),
                    folded_into: Some(name.clone()),
                    config,
                    fallback,
                    calibrate: l.calibrate,
                    has_weights: l.folded_batchnorms.contains(f),
                });
            }
        }
        PlanIndex {
            by_name,
            fused,
            groups_of,
            members,
        }
    }

    /// The layers PTQ computes in one op with `layer`: the layer it is fused
    /// into or folded into, and the layers fused into either, each once.
    pub fn op_companions(&self, layer: &str) -> Vec<String> {
        let Some(d) = self.by_name.get(layer) else {
            return Vec::new();
        };
        let carrier = d.reasons.iter().find_map(|r| match r {
            Reason::FusedInto { layer } => Some(layer.as_str()),
            _ => None,
        });
        let mut out: Vec<String> = Vec::new();
        for c in [Some(layer), carrier, d.folded_into.as_deref()]
            .into_iter()
            .flatten()
        {
            if c != layer && !out.iter().any(|o| o == c) {
                out.push(c.to_owned());
            }
            for f in self.fused.get(c).into_iter().flatten() {
                if f != layer && !out.contains(f) {
                    out.push(f.clone());
                }
            }
        }
        out
    }

    /// The scale groups of `layer`'s outputs that other layers share.
    pub fn scale_groups_of(&self, layer: &str) -> &[ScaleGroupId] {
        self.groups_of.get(layer).map_or(&[], Vec::as_slice)
    }

    /// Every layer of scale group `g`, in plan order.
    pub fn group_members(&self, g: ScaleGroupId) -> &[String] {
        self.members.get(&g).map_or(&[], Vec::as_slice)
    }

    /// Every other layer PTQ gives the same output scale as `layer`, in plan
    /// order (all of them: a culprit list must name each layer to change).
    pub fn shares_scale_with(&self, layer: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut seen: std::collections::HashSet<&str> = Default::default();
        seen.insert(layer);
        for g in self.groups_of.get(layer).into_iter().flatten() {
            for m in self.members.get(g).into_iter().flatten() {
                if seen.insert(m.as_str()) {
                    out.push(m.clone());
                }
            }
        }
        out
    }

    /// The plan's decision for `layer`.
    pub fn get(&self, layer: &str) -> Option<(Action, &[Reason], Option<&str>)> {
        self.by_name
            .get(layer)
            .map(|d| (d.action, d.reasons.as_slice(), d.folded_into.as_deref()))
    }

    /// The culprits among `layers`: those whose plan action is not the
    /// registry default, and those the QAT model leaves unannotated although
    /// PTQ runs them in integer. A layer the QAT model annotates and the plan
    /// gives the default is never a culprit (it is annotated as it should be).
    pub fn culprits<'a>(
        &self,
        layers: impl IntoIterator<Item = &'a String>,
        annotated: impl Fn(&str) -> bool,
    ) -> Vec<Culprit> {
        let mut out: Vec<Culprit> = Vec::new();
        let mut seen: std::collections::HashSet<&str> = Default::default();
        for layer in layers {
            if !seen.insert(layer.as_str()) {
                continue;
            }
            let Some(d) = self.by_name.get(layer) else {
                continue;
            };
            // A TFOpLambda cannot be annotated: nothing to change on it,
            // unless it is what no annotation can reproduce.
            if is_tf_op_lambda(layer) && d.action != Action::Unsupported {
                continue;
            }
            let action = d.action;
            let wrapped = annotated(layer);
            let culprit = match action {
                Action::Default => !wrapped,
                Action::Float => wrapped,
                _ => true,
            };
            if culprit {
                out.push(Culprit {
                    layer: layer.clone(),
                    action,
                    annotated: wrapped,
                    reasons: d.reasons.clone(),
                    folded_into: d.folded_into.clone(),
                    config: d.config,
                    fallback: d.fallback,
                    calibrate: d.calibrate,
                    twins: !d.has_weights,
                });
            }
        }
        out
    }
}
