//! The quantization picture of a model: how each op computes (int8, int16,
//! float, hybrid), every QUANTIZE and DEQUANTIZE and what it does, float
//! islands inside integer graphs, hybrid ops, breaks of the int8 spec's basic
//! rules, and the model's overall scheme with its evidence.

use petgraph::unionfind::UnionFind;

use crate::graph::Graph;
use crate::model::{BuiltinCode, DType, Model, OpId, Subgraph, SubgraphId, TensorId};
use crate::producer::Producer;
use crate::rules;

/// How an operator computes, read from its activation and weight types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compute {
    /// Integer activations of 8 bits (int8 or uint8).
    Int8,
    /// Integer activations of 16 bits.
    Int16,
    /// Float activations, float (or float16-dequantized) weights.
    Float,
    /// Float activations with integer weights, quantized on the fly.
    Hybrid,
    /// QUANTIZE or DEQUANTIZE.
    Convert,
    /// No numeric activations to speak of (shapes, indices, booleans, control flow).
    Other,
}

impl Compute {
    /// The name used in reports and JSON (`int8`).
    pub fn name(self) -> &'static str {
        match self {
            Compute::Int8 => "int8",
            Compute::Int16 => "int16",
            Compute::Float => "float",
            Compute::Hybrid => "hybrid",
            Compute::Convert => "convert",
            Compute::Other => "other",
        }
    }

    /// Float or hybrid: runs on float activations.
    pub fn is_float(self) -> bool {
        matches!(self, Compute::Float | Compute::Hybrid)
    }

    /// Integer activations.
    pub fn is_integer(self) -> bool {
        matches!(self, Compute::Int8 | Compute::Int16)
    }
}

/// Per-op facts.
#[derive(Debug, Clone, PartialEq)]
pub struct OpInfo {
    /// The operator.
    pub op: OpId,
    /// How it computes.
    pub compute: Compute,
    /// The layer (or module) recovered from its output name: the first of
    /// `layers`.
    pub layer: Option<String>,
    /// Every layer its output name mentions, in the converter's order (for a
    /// fused op the folded BatchNorm or activation comes before the conv).
    pub layers: Vec<String>,
    /// The layers of `layers` whose names carry tfmot's wrapper prefix: they
    /// were annotated for QAT.
    pub wrapped: Vec<String>,
}

/// The overall quantization scheme of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemeKind {
    /// Everything float32.
    Float,
    /// Float16 constants dequantized to float32 at run time.
    Float16Weights,
    /// Float compute on float16 activations (a float16 graph end to end).
    Float16,
    /// Float activations, int8 weights (hybrid / weight-only).
    DynamicRange,
    /// Integer int8 throughout.
    FullInteger,
    /// int16 activations with int8 weights throughout.
    Int16x8,
    /// int8 body with some ops left in float.
    MixedInt8,
    /// int16x8 body with some ops left in float.
    MixedInt16x8,
    /// No compute ops to judge by.
    Unknown,
}

impl std::fmt::Display for SchemeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SchemeKind::Float => "float",
            SchemeKind::Float16Weights => "float16 weights",
            SchemeKind::Float16 => "float16 compute",
            SchemeKind::DynamicRange => "dynamic-range (hybrid)",
            SchemeKind::FullInteger => "full-integer int8",
            SchemeKind::Int16x8 => "int16x8",
            SchemeKind::MixedInt8 => "mixed int8 with float islands",
            SchemeKind::MixedInt16x8 => "mixed int16x8 with float islands",
            SchemeKind::Unknown => "unknown (no compute ops)",
        })
    }
}

/// A fact supporting the scheme.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Evidence {
    /// Modes recorded in CONVERSION_METADATA.
    ConversionModes {
        /// Mode names.
        modes: Vec<String>,
    },
    /// Compute ops by how they compute (all subgraphs).
    Ops {
        /// int8 ops.
        int8: usize,
        /// int16 ops.
        int16: usize,
        /// Float ops.
        float: usize,
        /// Hybrid ops.
        hybrid: usize,
    },
    /// Quantizer ops (all subgraphs).
    Quantizers {
        /// float→int QUANTIZE.
        quantize: usize,
        /// int→int QUANTIZE.
        requantize: usize,
        /// int→float DEQUANTIZE of activations.
        dequantize: usize,
        /// DEQUANTIZE of constants.
        constant_dequantize: usize,
    },
    /// FLOAT16 constants.
    Float16Constants {
        /// How many.
        count: usize,
    },
    /// Integer constant weights of weight-carrying ops.
    IntegerWeights {
        /// How many.
        count: usize,
    },
    /// Tensor names with tfmot's marks: converted from a QAT graph.
    QatNames {
        /// How many tensors.
        count: usize,
    },
    /// Types of the main subgraph's inputs and outputs.
    Io {
        /// Input dtypes.
        inputs: Vec<DType>,
        /// Output dtypes.
        outputs: Vec<DType>,
    },
}

/// The scheme and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {
    /// What it is.
    pub kind: SchemeKind,
    /// Whether the model was converted from a tfmot QAT graph.
    pub qat: bool,
    /// The facts.
    pub evidence: Vec<Evidence>,
}

/// Per-tensor (scale, zero point).
pub type Params = (f32, i64);

/// What a finding is, with its numbers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FindingKind {
    /// QUANTIZE float → int of a graph input.
    QuantizeInput {
        /// Output type.
        to: DType,
    },
    /// QUANTIZE float → int inside the graph (leaving a float region).
    Quantize {
        /// Output type.
        to: DType,
    },
    /// QUANTIZE int → int of the same width with new parameters.
    Requantize {
        /// Input parameters.
        from: Option<Params>,
        /// Output parameters.
        to: Option<Params>,
        /// Output scale / input scale.
        scale_ratio: Option<f32>,
    },
    /// QUANTIZE between integer types (int8 ↔ uint8 at the I/O, int16 ↔ int8).
    TypeConversion {
        /// Input type.
        from: DType,
        /// Output type.
        to: DType,
    },
    /// DEQUANTIZE int → float of a graph output.
    DequantizeOutput {
        /// Input type.
        from: DType,
    },
    /// DEQUANTIZE int → float inside the graph (entering a float region).
    Dequantize {
        /// Input type.
        from: DType,
    },
    /// DEQUANTIZE of a constant (float16 or weight-only int8 weights).
    ConstantDequantize {
        /// Constant type.
        from: DType,
        /// The constant.
        tensor: TensorId,
    },
    /// A connected region of float compute inside an integer graph.
    FloatIsland {
        /// DEQUANTIZE ops feeding it.
        entries: Vec<OpId>,
        /// QUANTIZE ops after it.
        exits: Vec<OpId>,
        /// Whether it reads a graph input directly.
        from_graph_input: bool,
        /// Whether it writes a graph output directly.
        to_graph_output: bool,
    },
    /// Float activations with integer weights.
    HybridOp {
        /// The weight tensor.
        weights: TensorId,
        /// Its type.
        weight_dtype: DType,
    },
    /// Integer weights whose zero points are not all 0.
    WeightZeroPoint {
        /// The weights.
        tensor: TensorId,
        /// How many zero points are not 0.
        nonzero: usize,
    },
    /// Bias scale differs from input scale × weight scale.
    BiasScale {
        /// The bias.
        tensor: TensorId,
        /// Channel with the largest relative difference.
        channel: usize,
        /// input scale × weight scale there.
        expected: f32,
        /// The bias scale there.
        actual: f32,
    },
    /// A same-scale op whose input and output parameters differ.
    SameScaleMismatch {
        /// Input tensor.
        input: TensorId,
        /// Output tensor.
        output: TensorId,
        /// Input parameters.
        input_params: Params,
        /// Output parameters.
        output_params: Params,
    },
    /// A fixed-output op with other output parameters.
    FixedOutput {
        /// The output.
        tensor: TensorId,
        /// Required parameters.
        expected: Params,
        /// Stored parameters.
        actual: Params,
    },
}

impl FindingKind {
    /// The kebab-case name used in JSON and filters.
    pub fn name(&self) -> &'static str {
        match self {
            FindingKind::QuantizeInput { .. } => "quantize-input",
            FindingKind::Quantize { .. } => "quantize",
            FindingKind::Requantize { .. } => "requantize",
            FindingKind::TypeConversion { .. } => "type-conversion",
            FindingKind::DequantizeOutput { .. } => "dequantize-output",
            FindingKind::Dequantize { .. } => "dequantize",
            FindingKind::ConstantDequantize { .. } => "constant-dequantize",
            FindingKind::FloatIsland { .. } => "float-island",
            FindingKind::HybridOp { .. } => "hybrid-op",
            FindingKind::WeightZeroPoint { .. } => "weight-zero-point",
            FindingKind::BiasScale { .. } => "bias-scale",
            FindingKind::SameScaleMismatch { .. } => "same-scale-mismatch",
            FindingKind::FixedOutput { .. } => "fixed-output",
        }
    }

    /// Whether it breaks a rule of the quantization spec.
    pub fn is_spec_break(&self) -> bool {
        matches!(
            self,
            FindingKind::WeightZeroPoint { .. }
                | FindingKind::BiasScale { .. }
                | FindingKind::SameScaleMismatch { .. }
                | FindingKind::FixedOutput { .. }
        )
    }
}

/// One finding about one place of a subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Subgraph.
    pub subgraph: SubgraphId,
    /// The ops concerned, the main one first.
    pub ops: Vec<OpId>,
    /// Keras layer of the main op, when recoverable.
    pub layer: Option<String>,
    /// What it is.
    pub kind: FindingKind,
}

/// The quantization analysis of one subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct SubgraphQuant {
    /// Subgraph.
    pub subgraph: SubgraphId,
    /// One entry per operator, in order.
    pub ops: Vec<OpInfo>,
    /// Findings in op order.
    pub findings: Vec<Finding>,
}

/// What an op does to numbers, as pictures and overlays colour it: how a
/// compute op computes, and what a QUANTIZE or DEQUANTIZE converts. The one
/// classification `tflq graph` and `--format model-explorer` share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OpClass {
    /// Integer compute on 8-bit activations.
    Int8,
    /// Integer compute on 16-bit activations.
    Int16,
    /// Float compute.
    Float,
    /// Float activations with integer weights.
    Hybrid,
    /// QUANTIZE float → integer.
    Quantize,
    /// DEQUANTIZE integer → float of activations.
    Dequantize,
    /// QUANTIZE integer → integer of one type: a new scale.
    Requantize,
    /// QUANTIZE between integer types (int8 ↔ uint8, int16 ↔ int8).
    TypeConversion,
    /// DEQUANTIZE of a constant (float16 or int8 weights).
    ConstantDequantize,
    /// Shapes, indices, control flow: no numeric activations; also a
    /// QUANTIZE or DEQUANTIZE without an input or output tensor.
    Other,
}

impl OpClass {
    /// Every class, in legend order.
    pub const ALL: [OpClass; 10] = [
        OpClass::Int8,
        OpClass::Int16,
        OpClass::Float,
        OpClass::Hybrid,
        OpClass::Quantize,
        OpClass::Dequantize,
        OpClass::Requantize,
        OpClass::TypeConversion,
        OpClass::ConstantDequantize,
        OpClass::Other,
    ];

    /// The kebab-case name used in every format.
    pub const fn name(self) -> &'static str {
        match self {
            OpClass::Int8 => "int8",
            OpClass::Int16 => "int16",
            OpClass::Float => "float",
            OpClass::Hybrid => "hybrid",
            OpClass::Quantize => "quantize",
            OpClass::Dequantize => "dequantize",
            OpClass::Requantize => "requantize",
            OpClass::TypeConversion => "type-conversion",
            OpClass::ConstantDequantize => "constant-dequantize",
            OpClass::Other => "other",
        }
    }
}

impl SubgraphQuant {
    /// The class of every op, in op order. A QUANTIZE or DEQUANTIZE takes
    /// its class from the finding the analysis made about it.
    pub(crate) fn op_classes(&self) -> Vec<OpClass> {
        let mut out: Vec<OpClass> = self
            .ops
            .iter()
            .map(|o| match o.compute {
                Compute::Int8 => OpClass::Int8,
                Compute::Int16 => OpClass::Int16,
                Compute::Float => OpClass::Float,
                Compute::Hybrid => OpClass::Hybrid,
                // A converter until its finding says what it converts.
                Compute::Convert | Compute::Other => OpClass::Other,
            })
            .collect();
        for f in &self.findings {
            let class = match f.kind {
                FindingKind::QuantizeInput { .. } | FindingKind::Quantize { .. } => {
                    OpClass::Quantize
                }
                FindingKind::Requantize { .. } => OpClass::Requantize,
                FindingKind::TypeConversion { .. } => OpClass::TypeConversion,
                FindingKind::Dequantize { .. } | FindingKind::DequantizeOutput { .. } => {
                    OpClass::Dequantize
                }
                FindingKind::ConstantDequantize { .. } => OpClass::ConstantDequantize,
                _ => continue,
            };
            if let Some(slot) = f.ops.first().and_then(|o| out.get_mut(o.index())) {
                *slot = class;
            }
        }
        out
    }
}

/// Kept here too for the callers that name it by this path.
pub use crate::model::scale_ratio;

/// Tensors whose values are fixed before the model runs: constants, and the
/// outputs of ops that read only such tensors (a DENSIFY of a sparse
/// constant, a DEQUANTIZE of float16 weights). One pass in execution order.
pub(crate) fn constant_derived(graph: &Graph<'_>) -> Vec<bool> {
    let sg = graph.subgraph();
    let mut derived: Vec<bool> = sg.tensors.iter().map(|t| t.is_constant()).collect();
    for op in graph.execution_order() {
        let o = sg.op(op);
        // Variables and control flow change at run time.
        if !o.calls.is_empty() || o.inputs.iter().all(Option::is_none) {
            continue;
        }
        let all_fixed = o
            .present_inputs()
            .all(|t| derived.get(t.index()).copied().unwrap_or(false) && !sg.tensor(t).is_variable);
        if all_fixed {
            for t in &o.outputs {
                if let Some(d) = derived.get_mut(t.index()) {
                    *d = true;
                }
            }
        }
    }
    derived
}

/// Classify how `op` computes. `fixed` tells which tensors are
/// constant-derived ([`constant_derived`]).
pub(crate) fn classify(sg: &Subgraph, op: OpId, fixed: &[bool]) -> Compute {
    let o = sg.op(op);
    if rules::is_quantize_or_dequantize(&o.kind) {
        return Compute::Convert;
    }
    let is_fixed = |t: TensorId| fixed.get(t.index()).copied().unwrap_or(false);
    // An op on constants only (DENSIFY of sparse weights) computes nothing
    // at inference time worth a quantizer.
    if o.present_inputs().next().is_some() && o.present_inputs().all(is_fixed) {
        return Compute::Other;
    }
    // Control flow runs other subgraphs, which are classified on their own.
    if !o.calls.is_empty() || o.kind.is(BuiltinCode::CALL) {
        return Compute::Other;
    }
    let mut float_act = false;
    let (mut int8, mut int16) = (false, false);
    for t in o.present_inputs().chain(o.outputs.iter().copied()) {
        let tensor = sg.tensor(t);
        if tensor.is_constant() {
            continue;
        }
        let d = tensor.dtype;
        if d.is_float() {
            float_act = true;
        } else if tensor.is_quantized() || d == DType::INT8 || d == DType::UINT8 {
            match d {
                DType::INT8 | DType::UINT8 => int8 = true,
                DType::INT16 => int16 = true,
                _ => {}
            }
        }
    }
    if float_act {
        let rule = rules::rule(&o.kind);
        let int_const = |t: TensorId| {
            let t = sg.tensor(t);
            t.is_constant() && t.dtype.is_quantizable_int()
        };
        let hybrid = match rule.hybrid {
            rules::Hybrid::No => false,
            rules::Hybrid::Weights => rule
                .weights
                .and_then(|w| o.inputs.get(w.weights).copied().flatten())
                .is_some_and(int_const),
            rules::Hybrid::AnyConstant => o.present_inputs().any(|t| {
                let t = sg.tensor(t);
                t.is_constant() && t.dtype == DType::INT8
            }),
        };
        if hybrid {
            return Compute::Hybrid;
        }
        return Compute::Float;
    }
    // An op that reads integer activations but writes no integer
    // activation (SHAPE, ARG_MAX: int32 or bool results) does no quantized
    // arithmetic.
    let writes_values = o.outputs.iter().any(|t| {
        let t = sg.tensor(*t);
        t.is_quantized() || matches!(t.dtype, DType::INT8 | DType::UINT8 | DType::INT16)
    });
    if !writes_values && !o.outputs.is_empty() {
        Compute::Other
    } else if int16 {
        Compute::Int16
    } else if int8 {
        Compute::Int8
    } else {
        Compute::Other
    }
}

/// Analyse one subgraph.
pub(crate) fn analyze_subgraph(
    model: &Model,
    producer: Producer,
    index: SubgraphId,
) -> SubgraphQuant {
    let sg = model.subgraph(index);
    let graph = Graph::new(sg);
    let fixed = constant_derived(&graph);
    let mut ops: Vec<OpInfo> = sg
        .op_ids()
        .map(|op| op_info(sg, producer, op, &fixed))
        .collect();
    name_outputs_after_signatures(model, producer, index, &graph, &mut ops);
    let integer_graph = ops.iter().any(|o| o.compute.is_integer());
    let mut findings = Vec::new();
    for op in sg.op_ids() {
        let layer = ops[op.index()].layer.clone();
        for kind in op_findings(&graph, op, ops[op.index()].compute, &fixed) {
            findings.push(Finding {
                subgraph: index,
                ops: vec![op],
                layer: layer.clone(),
                kind,
            });
        }
    }
    if integer_graph {
        for island in float_islands(index, sg, &graph, &ops, &fixed) {
            findings.push(island);
        }
    }
    findings.sort_by_key(|f| (f.ops.first().copied(), f.kind.name()));
    SubgraphQuant {
        subgraph: index,
        ops,
        findings,
    }
}

/// One op's layers (by its output's name, else its weights' or bias's, and
/// for onnx2tf its weights' node) and how it computes.
fn op_info(sg: &Subgraph, producer: Producer, op: OpId, fixed: &[bool]) -> OpInfo {
    let o = sg.op(op);
    let mut found = o
        .outputs
        .first()
        .map(|t| producer.layers(sg.tensor(*t).name))
        .unwrap_or_default();
    // An op whose output is named after the graph's output (a final
    // Linear, `serving_default_output_0`) is still named by its
    // weights or bias.
    if found.is_empty()
        && let Some(w) = rules::rule(&o.kind).weights
    {
        found = [Some(w.weights), w.bias]
            .into_iter()
            .flatten()
            .filter_map(|i| o.inputs.get(i).copied().flatten())
            .find_map(|t| producer.layer(sg.tensor(t).name))
            .into_iter()
            .collect();
    }
    // onnx2tf often names an activation after the node that reads it
    // (`blocks.0.conv/Conv_input_nhwc` is the stem's output); the
    // weights are named after their own node.
    if producer == Producer::Onnx2Tf
        && let Some(w) = rules::rule(&o.kind).weights
        && let Some(Some(wt)) = o.inputs.get(w.weights)
        && let Some(owner) = producer.layer(sg.tensor(*wt).name)
    {
        found = vec![owner];
    }
    let wrapped = found
        .iter()
        .filter(|l| l.qat_wrapped)
        .map(|l| l.name.clone())
        .collect();
    let layers: Vec<String> = found.into_iter().map(|l| l.name).collect();
    OpInfo {
        op,
        compute: classify(sg, op, fixed),
        layer: layers.first().cloned(),
        layers,
        wrapped,
    }
}

/// The quantizer, hybrid and spec findings of one op.
fn op_findings(graph: &Graph<'_>, op: OpId, compute: Compute, fixed: &[bool]) -> Vec<FindingKind> {
    let sg = graph.subgraph();
    let o = sg.op(op);
    let mut out = Vec::new();
    let first_in = o.inputs.first().copied().flatten();
    let first_out = o.outputs.first().copied();
    if o.kind.is(BuiltinCode::QUANTIZE)
        && let (Some(i), Some(to)) = (first_in, first_out)
    {
        out.push(quantize_kind(graph, i, to));
    } else if o.kind.is(BuiltinCode::DEQUANTIZE)
        && let (Some(i), Some(to)) = (first_in, first_out)
    {
        let ti = sg.tensor(i);
        out.push(if fixed.get(i.index()).copied().unwrap_or(false) {
            FindingKind::ConstantDequantize {
                from: ti.dtype,
                tensor: i,
            }
        } else if graph.is_graph_output(to) || graph.consumers(to).is_empty() {
            FindingKind::DequantizeOutput { from: ti.dtype }
        } else {
            FindingKind::Dequantize { from: ti.dtype }
        });
    }
    if compute == Compute::Hybrid
        && let Some(w) = rules::rule(&o.kind).weights
        && let Some(Some(wt)) = o.inputs.get(w.weights)
    {
        out.push(FindingKind::HybridOp {
            weights: *wt,
            weight_dtype: sg.tensor(*wt).dtype,
        });
    }
    out.extend(spec_checks(sg, op));
    out
}

/// What a QUANTIZE from `i` to `out` is: the way in from float (at the
/// graph input or elsewhere), a requantize, or a type conversion.
fn quantize_kind(graph: &Graph<'_>, i: TensorId, out: TensorId) -> FindingKind {
    let sg = graph.subgraph();
    let (ti, to) = (sg.tensor(i), sg.tensor(out));
    if ti.dtype.is_float() {
        if graph.is_graph_input(i) || graph.producer(i).is_none() {
            FindingKind::QuantizeInput { to: to.dtype }
        } else {
            FindingKind::Quantize { to: to.dtype }
        }
    } else if ti.dtype == to.dtype {
        let (a, b) = (ti.per_tensor(), to.per_tensor());
        FindingKind::Requantize {
            from: a,
            to: b,
            scale_ratio: scale_ratio(a, b),
        }
    } else {
        FindingKind::TypeConversion {
            from: ti.dtype,
            to: to.dtype,
        }
    }
}

/// The converter names the last op of a Keras model after the graph output
/// (`StatefulPartitionedCall:01`), not after its layer; the signature keeps
/// the layer's name (`softmax`). An op the names leave without a layer whose
/// output is a signature output, directly or through its QUANTIZE or
/// DEQUANTIZE, takes that name.
fn name_outputs_after_signatures(
    model: &Model,
    producer: Producer,
    index: SubgraphId,
    graph: &Graph<'_>,
    ops: &mut [OpInfo],
) {
    if producer != Producer::Keras {
        return;
    }
    let sg = graph.subgraph();
    let mut names: Vec<Option<&str>> = vec![None; sg.tensors.len()];
    for sig in model.signatures.iter().filter(|s| s.subgraph == index) {
        for (name, t) in &sig.outputs {
            if let Some(slot) = names.get_mut(t.index()) {
                *slot = Some(name.as_str());
            }
        }
    }
    if names.iter().all(Option::is_none) {
        return;
    }
    for info in ops.iter_mut() {
        let o = sg.op(info.op);
        if !info.layers.is_empty() || rules::is_quantize_or_dequantize(&o.kind) {
            continue;
        }
        let Some(&t) = o.outputs.first() else {
            continue;
        };
        let via_converter = graph
            .distinct_consumers(t)
            .filter(|c| rules::is_quantize_or_dequantize(&sg.op(*c).kind))
            .find_map(|c| sg.op(c).outputs.first().copied());
        let name = names
            .get(t.index())
            .copied()
            .flatten()
            .or_else(|| via_converter.and_then(|u| names.get(u.index()).copied().flatten()));
        if let Some(name) = name {
            info.layer = Some(name.to_owned());
            info.layers = vec![name.to_owned()];
        }
    }
}

fn float_islands(
    index: SubgraphId,
    sg: &Subgraph,
    graph: &Graph<'_>,
    ops: &[OpInfo],
    fixed: &[bool],
) -> Vec<Finding> {
    // Union-find over float compute ops joined by activation tensors: each
    // tensor is visited once, uniting its producer with its distinct
    // consumers, so the cost is linear in operands whatever the fan-in (an
    // op per output, not per consumer of each output, which was quadratic
    // when many ops read and write one tensor).
    let n = ops.len();
    let mut uf: UnionFind<usize> = UnionFind::new(n);
    let is_float = |o: OpId| ops.get(o.index()).is_some_and(|i| i.compute.is_float());
    for t in 0..sg.tensors.len() {
        let t = TensorId(t as u32);
        let Some(p) = graph.producer(t).filter(|p| is_float(*p)) else {
            continue;
        };
        for c in graph.distinct_consumers(t) {
            if is_float(c) {
                uf.union(p.index(), c.index());
            }
        }
    }
    let mut members: std::collections::BTreeMap<usize, Vec<OpId>> =
        std::collections::BTreeMap::new();
    for (o, info) in ops.iter().enumerate() {
        if info.compute.is_float() {
            members.entry(uf.find(o)).or_default().push(OpId(o as u32));
        }
    }
    let mut out = Vec::new();
    // Each tensor's consumers are walked once, by its producer's island.
    let mut walked = vec![false; sg.tensors.len()];
    for (_, island) in members {
        let mut entries = Vec::new();
        let mut exits = Vec::new();
        let (mut from_in, mut to_out) = (false, false);
        for &op in &island {
            let o = sg.op(op);
            for t in o.present_inputs() {
                if graph.is_graph_input(t) {
                    from_in = true;
                }
                if let Some(p) = graph.producer(t)
                    && sg.op(p).kind.is(BuiltinCode::DEQUANTIZE)
                    && !fixed.get(t.index()).copied().unwrap_or(false)
                {
                    entries.push(p);
                }
            }
            for t in &o.outputs {
                if graph.is_graph_output(*t) {
                    to_out = true;
                }
                // Only a tensor's producer leads to its consumers, and only
                // once: a second writer, or the same tensor listed twice
                // among one op's outputs, is not walked again.
                if graph.producer(*t) != Some(op) || std::mem::replace(&mut walked[t.index()], true)
                {
                    continue;
                }
                for c in graph.distinct_consumers(*t) {
                    if sg.op(c).kind.is(BuiltinCode::QUANTIZE) {
                        exits.push(c);
                    }
                }
            }
        }
        entries.sort_unstable();
        entries.dedup();
        exits.sort_unstable();
        exits.dedup();
        let layer = island.iter().find_map(|op| ops[op.index()].layer.clone());
        out.push(Finding {
            subgraph: index,
            ops: island,
            layer,
            kind: FindingKind::FloatIsland {
                entries,
                exits,
                from_graph_input: from_in,
                to_graph_output: to_out,
            },
        });
    }
    out
}

fn rel_diff(a: f32, b: f32) -> f32 {
    let scale = a.abs().max(b.abs());
    if scale == 0.0 {
        0.0
    } else {
        (a - b).abs() / scale
    }
}

fn spec_checks(sg: &Subgraph, op: OpId) -> Vec<FindingKind> {
    let o = sg.op(op);
    let mut out = Vec::new();
    let tensor = |i: usize| o.inputs.get(i).copied().flatten();

    if let Some(w) = rules::rule(&o.kind).weights
        && let Some(wt) = tensor(w.weights)
    {
        let weights = sg.tensor(wt);
        if let Some(q) = weights.quantization.as_ref().filter(|q| q.is_affine())
            && matches!(weights.dtype, DType::INT8 | DType::INT4 | DType::INT16)
        {
            let nonzero = q.zero_point.iter().filter(|z| *z != 0).count();
            if nonzero > 0 {
                out.push(FindingKind::WeightZeroPoint {
                    tensor: wt,
                    nonzero,
                });
            }
            // Bias scale = input scale × weight scale, per channel.
            if let (Some(bi), Some(xi)) = (w.bias.and_then(tensor), tensor(w.input))
                && let (Some(bq), Some((in_scale, _))) = (
                    sg.tensor(bi)
                        .quantization
                        .as_ref()
                        .filter(|q| q.is_affine()),
                    sg.tensor(xi).per_tensor(),
                )
            {
                let n = bq.scale.len().max(q.scale.len());
                let mut worst: Option<(usize, f32, f32, f32)> = None;
                // Channel c of the shorter vector (a per-tensor one) is its
                // first value; of an empty one, 0.
                let (w0, b0) = (
                    q.scale.first().unwrap_or(0.0),
                    bq.scale.first().unwrap_or(0.0),
                );
                let (mut w_scales, mut b_scales) = (q.scale.iter(), bq.scale.iter());
                for c in 0..n {
                    let ws = w_scales.next().unwrap_or(w0);
                    let bs = b_scales.next().unwrap_or(b0);
                    let expected = in_scale * ws;
                    // Channels that agree (nearly all) skip rel_diff's
                    // division; the margin keeps every channel rel_diff
                    // would flag, whatever the rounding.
                    if (expected - bs).abs() <= 0.99e-4 * expected.abs().max(bs.abs()) {
                        continue;
                    }
                    let d = rel_diff(expected, bs);
                    if d > 1e-4 && worst.is_none_or(|w| d > w.3) {
                        worst = Some((c, expected, bs, d));
                    }
                }
                if let Some((channel, expected, actual, _)) = worst {
                    out.push(FindingKind::BiasScale {
                        tensor: bi,
                        channel,
                        expected,
                        actual,
                    });
                }
            }
        }
    }

    let same_scale = rules::rule(&o.kind).same_scale;
    if same_scale.is_same_scale() {
        'outer: for (i, ti) in o.inputs.iter().enumerate() {
            let Some(ti) = *ti else { continue };
            if !same_scale.covers(i) {
                continue;
            }
            let a = sg.tensor(ti);
            if !a.dtype.is_quantizable_int() {
                continue;
            }
            let Some(pa) = a.per_tensor() else { continue };
            for &to in &o.outputs {
                let b = sg.tensor(to);
                let Some(pb) = b.per_tensor() else { continue };
                if b.dtype == a.dtype && (pa.1 != pb.1 || rel_diff(pa.0, pb.0) > 1e-6) {
                    out.push(FindingKind::SameScaleMismatch {
                        input: ti,
                        output: to,
                        input_params: pa,
                        output_params: pb,
                    });
                    break 'outer;
                }
            }
        }
    }

    if let Some(&to) = o.outputs.first() {
        let t = sg.tensor(to);
        if let (Some(expected), Some(actual)) =
            (rules::fixed_output(&o.kind, t.dtype), t.per_tensor())
            && (expected.1 != actual.1 || rel_diff(expected.0, actual.0) > 1e-3)
        {
            out.push(FindingKind::FixedOutput {
                tensor: to,
                expected,
                actual,
            });
        }
    }
    out
}

/// Decide the scheme from per-subgraph analyses.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "counts of in-memory elements, bounded by their number"
)]
pub fn scheme(model: &Model, producer: Producer, subgraphs: &[SubgraphQuant]) -> Scheme {
    let mut c = SchemeCounts::default();
    c.count_ops(model, subgraphs);
    c.count_tensors(model, producer);
    let modes = model
        .conversion
        .as_ref()
        .map(|c| c.optimization_modes.clone())
        .unwrap_or_default();
    let qat = modes.iter().any(|m| m == "QUANTIZATION_AWARE_TRAINING") || c.qat_names > 0;
    Scheme {
        kind: c.kind(),
        qat,
        evidence: c.evidence(model, modes),
    }
}

/// One more, saturating.
fn bump(n: &mut usize) {
    *n = n.saturating_add(1);
}

/// What the scheme of a model is decided from.
#[derive(Debug, Default)]
struct SchemeCounts {
    int8: usize,
    int16: usize,
    float: usize,
    hybrid: usize,
    /// Float ops writing float16 activations: a float16 graph, not float16
    /// weights dequantized to float32.
    fp16_ops: usize,
    quantize: usize,
    requantize: usize,
    dequantize: usize,
    constant_dequantize: usize,
    /// DEQUANTIZE ops of float16 constants.
    fp16_dq: usize,
    fp16_consts: usize,
    int_weights: usize,
    qat_names: usize,
}

impl SchemeCounts {
    /// Ops by how they compute, and quantizers by kind.
    fn count_ops(&mut self, model: &Model, subgraphs: &[SubgraphQuant]) {
        for s in subgraphs {
            let sg = model.subgraphs.get(s.subgraph.index());
            for o in &s.ops {
                match o.compute {
                    Compute::Int8 => bump(&mut self.int8),
                    Compute::Int16 => bump(&mut self.int16),
                    Compute::Float => {
                        bump(&mut self.float);
                        let writes_f16 = sg.is_some_and(|sg| {
                            sg.op(o.op)
                                .outputs
                                .iter()
                                .any(|t| sg.tensor(*t).dtype == DType::FLOAT16)
                        });
                        if writes_f16 {
                            bump(&mut self.fp16_ops);
                        }
                    }
                    Compute::Hybrid => bump(&mut self.hybrid),
                    _ => {}
                }
            }
            for f in &s.findings {
                match &f.kind {
                    FindingKind::QuantizeInput { .. } | FindingKind::Quantize { .. } => {
                        bump(&mut self.quantize)
                    }
                    FindingKind::Requantize { .. } | FindingKind::TypeConversion { .. } => {
                        bump(&mut self.requantize)
                    }
                    FindingKind::Dequantize { .. } | FindingKind::DequantizeOutput { .. } => {
                        bump(&mut self.dequantize)
                    }
                    FindingKind::ConstantDequantize { from, .. } => {
                        bump(&mut self.constant_dequantize);
                        if *from == DType::FLOAT16 {
                            bump(&mut self.fp16_dq);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Float16 constants, integer weights and tensors named by tfmot.
    fn count_tensors(&mut self, model: &Model, producer: Producer) {
        for sg in &model.subgraphs {
            for t in &sg.tensors {
                if t.is_constant() && t.dtype == DType::FLOAT16 {
                    bump(&mut self.fp16_consts);
                }
                if producer.has_qat_marks(t.name) {
                    bump(&mut self.qat_names);
                }
            }
            for op in &sg.operators {
                if let Some(w) = rules::rule(&op.kind).weights
                    && let Some(Some(wt)) = op.inputs.get(w.weights)
                {
                    let t = sg.tensor(*wt);
                    if t.is_constant() && t.dtype.is_quantizable_int() {
                        bump(&mut self.int_weights);
                    }
                }
            }
        }
    }

    fn kind(&self) -> SchemeKind {
        let float_or_hybrid = self.float > 0 || self.hybrid > 0;
        if self.int16 > 0 {
            if float_or_hybrid {
                SchemeKind::MixedInt16x8
            } else {
                SchemeKind::Int16x8
            }
        } else if self.int8 > 0 {
            if float_or_hybrid {
                SchemeKind::MixedInt8
            } else {
                SchemeKind::FullInteger
            }
        } else if self.fp16_ops > 0 && self.fp16_ops.saturating_mul(2) >= self.float {
            SchemeKind::Float16
        } else if self.fp16_dq > 0 || self.fp16_consts > 0 {
            SchemeKind::Float16Weights
        } else if self.hybrid > 0 || self.constant_dequantize > 0 {
            SchemeKind::DynamicRange
        } else if self.float > 0 {
            SchemeKind::Float
        } else {
            SchemeKind::Unknown
        }
    }

    fn evidence(&self, model: &Model, modes: Vec<String>) -> Vec<Evidence> {
        let mut evidence = Vec::new();
        if !modes.is_empty() {
            evidence.push(Evidence::ConversionModes { modes });
        }
        evidence.push(Evidence::Ops {
            int8: self.int8,
            int16: self.int16,
            float: self.float,
            hybrid: self.hybrid,
        });
        evidence.push(Evidence::Quantizers {
            quantize: self.quantize,
            requantize: self.requantize,
            dequantize: self.dequantize,
            constant_dequantize: self.constant_dequantize,
        });
        if self.fp16_consts > 0 {
            evidence.push(Evidence::Float16Constants {
                count: self.fp16_consts,
            });
        }
        if self.int_weights > 0 {
            evidence.push(Evidence::IntegerWeights {
                count: self.int_weights,
            });
        }
        if self.qat_names > 0 {
            evidence.push(Evidence::QatNames {
                count: self.qat_names,
            });
        }
        if let Some(sg) = model.subgraphs.first() {
            evidence.push(Evidence::Io {
                inputs: sg.inputs.iter().map(|t| sg.tensor(*t).dtype).collect(),
                outputs: sg.outputs.iter().map(|t| sg.tensor(*t).dtype).collect(),
            });
        }
        evidence
    }
}
