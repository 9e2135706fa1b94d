//! The document of `tflq inspect`: the summary, the scheme, every
//! subgraph's tensors, operators and findings, and the signatures.

use serde::Serialize;

use super::{JsonGranularity, Params, Seq, call_role, compute, granularity, ids, scheme_kind};
use crate::analysis::summary::{IoTensor, Summary};
use crate::analysis::{Evidence, Finding, FindingKind, Inspection, OpInfo};
use crate::model::{
    ConversionInfo, DType, Model, Operator, QuantDetails, SubgraphId, Tensor, TensorId,
};

#[derive(Serialize)]
pub(crate) struct InspectDoc<'a> {
    schema_version: u32,
    tool: &'static str,
    file: &'a str,
    producer: &'static str,
    summary: InspectSummary<'a>,
    scheme: InspectScheme<'a>,
    subgraphs: Vec<InspectSubgraph<'a>>,
    signatures: Vec<InspectSignature<'a>>,
}

#[derive(Serialize)]
pub(crate) struct InspectSubgraph<'a> {
    index: usize,
    name: &'a str,
    inputs: &'a [TensorId],
    outputs: &'a [TensorId],
    tensors: InspectTensors<'a>,
    operators: InspectOperators<'a>,
    findings: Vec<InspectFinding<'a>>,
}

/// A subgraph's tensors, each turned into its JSON form as it is written: a
/// model with hundreds of thousands of tensors is never held twice.
pub(crate) struct InspectTensors<'a>(&'a [Tensor<'a>]);

impl Serialize for InspectTensors<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().enumerate().map(|(i, t)| json_tensor(i, t)))
    }
}

/// A subgraph's operators with their analysis, written as they are turned
/// into JSON.
pub(crate) struct InspectOperators<'a> {
    operators: &'a [Operator],
    info: &'a [OpInfo],
}

impl Serialize for InspectOperators<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.operators
                .iter()
                .zip(self.info)
                .enumerate()
                .map(|(i, (o, info))| json_operator(i, o, info)),
        )
    }
}

#[derive(Serialize)]
pub(crate) struct InspectQuant<'a> {
    scale: Seq<'a, f32>,
    zero_point: Seq<'a, i64>,
    quantized_dimension: i32,
    granularity: JsonGranularity,
    #[serde(skip_serializing_if = "Seq::is_empty")]
    min: Seq<'a, f32>,
    #[serde(skip_serializing_if = "Seq::is_empty")]
    max: Seq<'a, f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<InspectQuantDetails<'a>>,
}

#[derive(Serialize)]
pub(crate) struct InspectTensor<'a> {
    index: usize,
    name: &'a str,
    shape: &'a [i32],
    shape_signature: Option<&'a [i32]>,
    dtype: crate::model::DType,
    buffer: u32,
    buffer_bytes: u64,
    is_variable: bool,
    sparse: bool,
    quantization: Option<InspectQuant<'a>>,
}

#[derive(Serialize)]
pub(crate) struct InspectOperator<'a> {
    index: usize,
    opcode: &'a crate::model::OpKind,
    version: i32,
    inputs: Vec<i64>,
    outputs: &'a [TensorId],
    intermediates: &'a [TensorId],
    fused_activation: Option<crate::model::Activation>,
    calls: Vec<(&'static str, SubgraphId)>,
    compute: &'static str,
    layer: Option<&'a str>,
    layers: &'a [String],
}

#[derive(Serialize)]
pub(crate) struct InspectTensorMap<'a> {
    name: &'a str,
    tensor: TensorId,
}

#[derive(Serialize)]
pub(crate) struct InspectSignature<'a> {
    key: &'a str,
    subgraph: SubgraphId,
    inputs: Vec<InspectTensorMap<'a>>,
    outputs: Vec<InspectTensorMap<'a>>,
}

fn json_tensor<'a>(index: usize, t: &'a Tensor<'a>) -> InspectTensor<'a> {
    InspectTensor {
        index,
        name: t.name,
        shape: &t.shape,
        shape_signature: t.shape_signature.as_deref(),
        dtype: t.dtype,
        buffer: t.buffer.0,
        buffer_bytes: t.data_len,
        is_variable: t.is_variable,
        sparse: t.sparse,
        quantization: t.quantization.as_ref().map(|q| InspectQuant {
            scale: Seq(q.scale),
            zero_point: Seq(q.zero_point),
            quantized_dimension: q.quantized_dimension,
            granularity: granularity(q.granularity()),
            min: Seq(q.min()),
            max: Seq(q.max()),
            details: q.details.as_deref().map(details),
        }),
    }
}

fn json_operator<'a>(index: usize, o: &'a Operator, info: &'a OpInfo) -> InspectOperator<'a> {
    InspectOperator {
        index,
        opcode: &o.kind,
        version: o.version,
        inputs: o
            .inputs
            .iter()
            .map(|t| t.map_or(-1, |t| i64::from(t.0)))
            .collect(),
        outputs: &o.outputs,
        intermediates: &o.intermediates,
        fused_activation: o.activation,
        calls: o.calls.iter().map(|(r, s)| (call_role(*r), *s)).collect(),
        compute: compute(info.compute),
        layer: info.layer.as_deref(),
        layers: &info.layers,
    }
}

/// The document of `insp`, an inspection of `model` read from `file`: every
/// subgraph, or only `subgraph`.
pub(crate) fn document<'a>(
    model: &'a Model,
    insp: &'a Inspection,
    file: &'a str,
    subgraph: Option<SubgraphId>,
) -> InspectDoc<'a> {
    let subgraphs = model
        .subgraphs
        .iter()
        .enumerate()
        .filter(|(s, _)| subgraph.is_none_or(|x| x.index() == *s))
        .map(|(s, sg)| InspectSubgraph {
            index: s,
            name: &sg.name,
            inputs: &sg.inputs,
            outputs: &sg.outputs,
            tensors: InspectTensors(&sg.tensors),
            operators: InspectOperators {
                operators: &sg.operators,
                info: &insp.subgraphs[s].ops,
            },
            findings: insp.subgraphs[s].findings.iter().map(finding).collect(),
        })
        .collect();
    let signatures = model
        .signatures
        .iter()
        .map(|sig| {
            let maps = |v: &'a [(String, TensorId)]| {
                v.iter()
                    .map(|(n, t)| InspectTensorMap {
                        name: n,
                        tensor: *t,
                    })
                    .collect()
            };
            InspectSignature {
                key: &sig.key,
                subgraph: sig.subgraph,
                inputs: maps(&sig.inputs),
                outputs: maps(&sig.outputs),
            }
        })
        .collect();
    InspectDoc {
        schema_version: crate::report::JSON_SCHEMA_VERSION,
        tool: super::TOOL,
        file,
        producer: insp.producer.name(),
        summary: summary(&insp.summary),
        scheme: scheme(&insp.scheme),
        subgraphs,
        signatures,
    }
}

// ---- inspect: summary and scheme -------------------------------------------

#[derive(Serialize)]
pub(crate) struct InspectIo<'a> {
    name: &'a str,
    tensor: u32,
    dtype: DType,
    shape: &'a [i32],
    quantization: Option<Params>,
}

fn io(v: &[IoTensor]) -> Vec<InspectIo<'_>> {
    v.iter()
        .map(|t| InspectIo {
            name: &t.name,
            tensor: t.tensor.0,
            dtype: t.dtype,
            shape: &t.shape,
            quantization: t.quantization,
        })
        .collect()
}

#[derive(Serialize)]
pub(crate) struct InspectConversion<'a> {
    tensorflow_version: Option<&'a str>,
    model_type: Option<&'a str>,
    optimization_modes: &'a [String],
    enable_select_tf_ops: bool,
    allow_custom_ops: bool,
}

fn conversion(c: &ConversionInfo) -> InspectConversion<'_> {
    InspectConversion {
        tensorflow_version: c.tensorflow_version.as_deref(),
        model_type: c.model_type.as_deref(),
        optimization_modes: &c.optimization_modes,
        enable_select_tf_ops: c.enable_select_tf_ops,
        allow_custom_ops: c.allow_custom_ops,
    }
}

#[derive(Serialize)]
pub(crate) struct InspectSubgraphSummary<'a> {
    index: u32,
    name: &'a str,
    operators: usize,
    tensors: usize,
    inputs: Vec<InspectIo<'a>>,
    outputs: Vec<InspectIo<'a>>,
}

#[derive(Serialize)]
pub(crate) struct InspectSignatureSummary<'a> {
    key: &'a str,
    subgraph: u32,
    inputs: Vec<InspectIo<'a>>,
    outputs: Vec<InspectIo<'a>>,
}

#[derive(Serialize)]
pub(crate) struct InspectConstants {
    dtype: DType,
    tensors: usize,
    bytes: u64,
}

#[derive(Serialize)]
pub(crate) struct InspectSummary<'a> {
    file_len: u64,
    version: u32,
    description: Option<&'a str>,
    min_runtime_version: Option<&'a str>,
    conversion: Option<InspectConversion<'a>>,
    metadata: &'a [String],
    subgraphs: Vec<InspectSubgraphSummary<'a>>,
    signatures: Vec<InspectSignatureSummary<'a>>,
    op_histogram: Vec<(String, usize)>,
    activation_dtypes: &'a [(DType, usize)],
    constants: Vec<InspectConstants>,
    appended_buffers: bool,
    external_buffers: usize,
    warnings: &'a [String],
}

pub(crate) fn summary(s: &Summary) -> InspectSummary<'_> {
    InspectSummary {
        file_len: s.file_len,
        version: s.version,
        description: s.description.as_deref(),
        min_runtime_version: s.min_runtime_version.as_deref(),
        conversion: s.conversion.as_ref().map(conversion),
        metadata: &s.metadata,
        subgraphs: s
            .subgraphs
            .iter()
            .map(|g| InspectSubgraphSummary {
                index: g.index.0,
                name: &g.name,
                operators: g.operators,
                tensors: g.tensors,
                inputs: io(&g.inputs),
                outputs: io(&g.outputs),
            })
            .collect(),
        signatures: s
            .signatures
            .iter()
            .map(|g| InspectSignatureSummary {
                key: &g.key,
                subgraph: g.subgraph.0,
                inputs: io(&g.inputs),
                outputs: io(&g.outputs),
            })
            .collect(),
        op_histogram: s
            .op_histogram
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect(),
        activation_dtypes: &s.activation_dtypes,
        constants: s
            .constants
            .iter()
            .map(|c| InspectConstants {
                dtype: c.dtype,
                tensors: c.tensors,
                bytes: c.bytes,
            })
            .collect(),
        appended_buffers: s.appended_buffers,
        external_buffers: s.external_buffers,
        warnings: &s.warnings,
    }
}

#[derive(Serialize)]
#[serde(tag = "evidence")]
pub(crate) enum InspectEvidence<'a> {
    #[serde(rename = "conversion-modes")]
    ConversionModes { modes: &'a [String] },
    #[serde(rename = "ops")]
    Ops {
        int8: usize,
        int16: usize,
        float: usize,
        hybrid: usize,
    },
    #[serde(rename = "quantizers")]
    Quantizers {
        quantize: usize,
        requantize: usize,
        dequantize: usize,
        constant_dequantize: usize,
    },
    #[serde(rename = "float16-constants")]
    Float16Constants { count: usize },
    #[serde(rename = "integer-weights")]
    IntegerWeights { count: usize },
    #[serde(rename = "qat-names")]
    QatNames { count: usize },
    #[serde(rename = "io")]
    Io {
        inputs: &'a [DType],
        outputs: &'a [DType],
    },
}

fn evidence(e: &Evidence) -> InspectEvidence<'_> {
    match e {
        Evidence::ConversionModes { modes } => InspectEvidence::ConversionModes { modes },
        Evidence::Ops {
            int8,
            int16,
            float,
            hybrid,
        } => InspectEvidence::Ops {
            int8: *int8,
            int16: *int16,
            float: *float,
            hybrid: *hybrid,
        },
        Evidence::Quantizers {
            quantize,
            requantize,
            dequantize,
            constant_dequantize,
        } => InspectEvidence::Quantizers {
            quantize: *quantize,
            requantize: *requantize,
            dequantize: *dequantize,
            constant_dequantize: *constant_dequantize,
        },
        Evidence::Float16Constants { count } => InspectEvidence::Float16Constants { count: *count },
        Evidence::IntegerWeights { count } => InspectEvidence::IntegerWeights { count: *count },
        Evidence::QatNames { count } => InspectEvidence::QatNames { count: *count },
        Evidence::Io { inputs, outputs } => InspectEvidence::Io { inputs, outputs },
    }
}

#[derive(Serialize)]
pub(crate) struct InspectScheme<'a> {
    kind: &'static str,
    qat: bool,
    evidence: Vec<InspectEvidence<'a>>,
}

pub(crate) fn scheme(s: &crate::analysis::Scheme) -> InspectScheme<'_> {
    InspectScheme {
        kind: scheme_kind(s.kind),
        qat: s.qat,
        evidence: s.evidence.iter().map(evidence).collect(),
    }
}

// ---- inspect: findings -----------------------------------------------------

#[derive(Serialize)]
#[serde(tag = "kind")]
pub(crate) enum InspectFindingKind {
    #[serde(rename = "quantize-input")]
    QuantizeInput { to: DType },
    #[serde(rename = "quantize")]
    Quantize { to: DType },
    #[serde(rename = "requantize")]
    Requantize {
        from: Option<Params>,
        to: Option<Params>,
        scale_ratio: Option<f32>,
    },
    #[serde(rename = "type-conversion")]
    TypeConversion { from: DType, to: DType },
    #[serde(rename = "dequantize-output")]
    DequantizeOutput { from: DType },
    #[serde(rename = "dequantize")]
    Dequantize { from: DType },
    #[serde(rename = "constant-dequantize")]
    ConstantDequantize { from: DType, tensor: u32 },
    #[serde(rename = "float-island")]
    FloatIsland {
        entries: Vec<u32>,
        exits: Vec<u32>,
        from_graph_input: bool,
        to_graph_output: bool,
    },
    #[serde(rename = "hybrid-op")]
    HybridOp { weights: u32, weight_dtype: DType },
    #[serde(rename = "weight-zero-point")]
    WeightZeroPoint { tensor: u32, nonzero: usize },
    #[serde(rename = "bias-scale")]
    BiasScale {
        tensor: u32,
        channel: usize,
        expected: f32,
        actual: f32,
    },
    #[serde(rename = "same-scale-mismatch")]
    SameScaleMismatch {
        input: u32,
        output: u32,
        input_params: Params,
        output_params: Params,
    },
    #[serde(rename = "fixed-output")]
    FixedOutput {
        tensor: u32,
        expected: Params,
        actual: Params,
    },
}

fn finding_kind(k: &FindingKind) -> InspectFindingKind {
    match k {
        FindingKind::QuantizeInput { to } => InspectFindingKind::QuantizeInput { to: *to },
        FindingKind::Quantize { to } => InspectFindingKind::Quantize { to: *to },
        FindingKind::Requantize {
            from,
            to,
            scale_ratio,
        } => InspectFindingKind::Requantize {
            from: *from,
            to: *to,
            scale_ratio: *scale_ratio,
        },
        FindingKind::TypeConversion { from, to } => InspectFindingKind::TypeConversion {
            from: *from,
            to: *to,
        },
        FindingKind::DequantizeOutput { from } => {
            InspectFindingKind::DequantizeOutput { from: *from }
        }
        FindingKind::Dequantize { from } => InspectFindingKind::Dequantize { from: *from },
        FindingKind::ConstantDequantize { from, tensor } => {
            InspectFindingKind::ConstantDequantize {
                from: *from,
                tensor: tensor.0,
            }
        }
        FindingKind::FloatIsland {
            entries,
            exits,
            from_graph_input,
            to_graph_output,
        } => InspectFindingKind::FloatIsland {
            entries: ids(entries),
            exits: ids(exits),
            from_graph_input: *from_graph_input,
            to_graph_output: *to_graph_output,
        },
        FindingKind::HybridOp {
            weights,
            weight_dtype,
        } => InspectFindingKind::HybridOp {
            weights: weights.0,
            weight_dtype: *weight_dtype,
        },
        FindingKind::WeightZeroPoint { tensor, nonzero } => InspectFindingKind::WeightZeroPoint {
            tensor: tensor.0,
            nonzero: *nonzero,
        },
        FindingKind::BiasScale {
            tensor,
            channel,
            expected,
            actual,
        } => InspectFindingKind::BiasScale {
            tensor: tensor.0,
            channel: *channel,
            expected: *expected,
            actual: *actual,
        },
        FindingKind::SameScaleMismatch {
            input,
            output,
            input_params,
            output_params,
        } => InspectFindingKind::SameScaleMismatch {
            input: input.0,
            output: output.0,
            input_params: *input_params,
            output_params: *output_params,
        },
        FindingKind::FixedOutput {
            tensor,
            expected,
            actual,
        } => InspectFindingKind::FixedOutput {
            tensor: tensor.0,
            expected: *expected,
            actual: *actual,
        },
    }
}

#[derive(Serialize)]
pub(crate) struct InspectFinding<'a> {
    subgraph: u32,
    ops: Vec<u32>,
    layer: Option<&'a str>,
    #[serde(flatten)]
    kind: InspectFindingKind,
}

pub(crate) fn finding(f: &Finding) -> InspectFinding<'_> {
    InspectFinding {
        subgraph: f.subgraph.0,
        ops: ids(&f.ops),
        layer: f.layer.as_deref(),
        kind: finding_kind(&f.kind),
    }
}

/// The quantization-details union.
#[derive(Serialize)]
#[serde(tag = "kind")]
pub(crate) enum InspectQuantDetails<'a> {
    #[serde(rename = "custom")]
    Custom { bytes: usize },
    #[serde(rename = "blockwise")]
    Blockwise {
        scales: Option<u32>,
        zero_points: Option<u32>,
        block_size: i32,
    },
    #[serde(rename = "multi_axis")]
    MultiAxis {
        scales: Option<u32>,
        zero_points: Option<u32>,
        block_size: i32,
        quantized_dimensions: &'a [i32],
    },
    #[serde(rename = "unknown")]
    Unknown { tag: u8 },
}

pub(crate) fn details(d: &QuantDetails) -> InspectQuantDetails<'_> {
    match d {
        QuantDetails::Custom { bytes } => InspectQuantDetails::Custom { bytes: *bytes },
        QuantDetails::Blockwise {
            scales,
            zero_points,
            block_size,
        } => InspectQuantDetails::Blockwise {
            scales: scales.map(|t| t.0),
            zero_points: zero_points.map(|t| t.0),
            block_size: *block_size,
        },
        QuantDetails::MultiAxis {
            scales,
            zero_points,
            block_size,
            quantized_dimensions,
        } => InspectQuantDetails::MultiAxis {
            scales: scales.map(|t| t.0),
            zero_points: zero_points.map(|t| t.0),
            block_size: *block_size,
            quantized_dimensions,
        },
        QuantDetails::Unknown { tag } => InspectQuantDetails::Unknown { tag: *tag },
    }
}
