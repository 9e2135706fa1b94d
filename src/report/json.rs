//! The versioned JSON vocabulary of `docs/json.md`, as types of its own.
//!
//! The library's types carry no serde derives: every JSON document is built
//! from the types here, whose field and tag names are the documented format.
//! Renaming an internal type, field or variant cannot change the format; a
//! change here is a change of the format and goes with `docs/json.md` (and a
//! schema version bump when it is not an addition).

use serde::Serialize;

use crate::advice::Reason;
use crate::analysis::summary::{IoTensor, Summary};
use crate::analysis::{Compute, Evidence, Finding, FindingKind, SchemeKind};
use crate::compare::{self, Detail, Removal, Side, SubgraphAlignment};
use crate::model::{
    CallRole, ConversionInfo, DType, Granularity, Numbers, OpId, OpKind, QuantDetails, Scalar,
};

/// A numeric vector of the file, written as an array by decoding it value by
/// value into the output (never copied out first).
#[derive(Clone, Copy)]
pub(crate) struct Seq<'a, T>(pub(crate) Numbers<'a, T>);

impl<'a, T> Seq<'a, T>
where
    T: Scalar<'a>,
{
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a, T> Serialize for Seq<'a, T>
where
    T: Scalar<'a> + Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

/// `(scale, zero point)`, written as a two-element array.
pub(crate) type Params = (f32, i64);

pub(crate) fn compute(c: Compute) -> &'static str {
    c.name()
}

pub(crate) fn scheme_kind(k: SchemeKind) -> &'static str {
    match k {
        SchemeKind::Float => "float",
        SchemeKind::Float16Weights => "float16-weights",
        SchemeKind::Float16 => "float16",
        SchemeKind::DynamicRange => "dynamic-range",
        SchemeKind::FullInteger => "full-integer",
        SchemeKind::Int16x8 => "int16x8",
        SchemeKind::MixedInt8 => "mixed-int8",
        SchemeKind::MixedInt16x8 => "mixed-int16x8",
        SchemeKind::Unknown => "unknown",
    }
}

/// A scheme as every document writes it: `{ "kind": "full-integer", "qat": false }`.
#[derive(Serialize)]
pub(crate) struct JsonSchemeKind {
    kind: &'static str,
    qat: bool,
}

pub(crate) fn scheme_kind_object(kind: SchemeKind, qat: bool) -> JsonSchemeKind {
    JsonSchemeKind {
        kind: scheme_kind(kind),
        qat,
    }
}

/// Why a plan entry is what it is: an id, its operand, and the words.
#[derive(Serialize)]
pub(crate) struct JsonReason {
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    text: String,
}

fn reason_id(r: &Reason) -> (&'static str, Option<String>, Option<usize>) {
    match r {
        Reason::FloatInPtq => ("float-in-ptq", None, None),
        Reason::RegistryMatches => ("registry-matches", None, None),
        Reason::NotInRegistry => ("not-in-registry", None, None),
        Reason::RegistryAddsRequantize => ("registry-adds-requantize", None, None),
        Reason::KeepsInputScale => ("keeps-input-scale", None, None),
        Reason::FixedOutput => ("fixed-output", None, None),
        Reason::JoinsSharedScale { carrier } => ("joins-shared-scale", carrier.clone(), None),
        Reason::CarriesSharedScale => ("carries-shared-scale", None, None),
        Reason::InnerScales { ops } => ("inner-scales", None, Some(*ops)),
        Reason::SeveralOutputs { outputs } => ("several-outputs", None, Some(*outputs)),
        Reason::TfOpLambda => ("tf-op-lambda", None, None),
        Reason::KeptFloatByMeasure => ("kept-float-by-measure", None, None),
        Reason::NotNamedByPtq => ("not-named-by-ptq", None, None),
        Reason::QuantizesModelInput => ("quantizes-model-input", None, None),
        Reason::FusedInto { layer } => ("fused-into", Some(layer.clone()), None),
    }
}

pub(crate) fn json_reason(r: &Reason) -> JsonReason {
    let (id, carrier, count) = reason_id(r);
    JsonReason {
        reason: id,
        carrier,
        count,
        text: super::reason(r),
    }
}

/// A layer whose annotation a compare finding asks to change.
#[derive(Serialize)]
pub(crate) struct JsonCulprit<'a> {
    layer: &'a str,
    action: &'static str,
    annotated: bool,
    folded_into: Option<&'a str>,
    config: Option<JsonQatConfig>,
    fallback: Option<JsonQatConfig>,
    calibrate: bool,
    reasons: Vec<JsonReason>,
}

/// A QuantizeConfig of tflq's: the weight attribute to quantize (per
/// channel or not) and whether to quantize the output.
#[derive(Serialize)]
pub(crate) struct JsonQatConfig {
    weights: Option<&'static str>,
    per_axis: bool,
    output: bool,
}

pub(crate) fn qat_config(c: crate::advice::QatConfig) -> JsonQatConfig {
    JsonQatConfig {
        weights: c.weights,
        per_axis: c.per_axis,
        output: c.output,
    }
}

pub(crate) fn culprit(c: &crate::advice::Culprit) -> JsonCulprit<'_> {
    JsonCulprit {
        layer: &c.layer,
        action: c.action.name(),
        annotated: c.annotated,
        folded_into: c.folded_into.as_deref(),
        config: c.config.map(qat_config),
        fallback: c.fallback.map(qat_config),
        calibrate: c.calibrate,
        reasons: c.reasons.iter().map(json_reason).collect(),
    }
}

pub(crate) fn call_role(r: CallRole) -> &'static str {
    r.name()
}

/// A tensor's granularity.
#[derive(Serialize)]
#[serde(tag = "kind")]
pub(crate) enum JsonGranularity {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "calibrated")]
    Calibrated,
    #[serde(rename = "per_tensor")]
    PerTensor,
    #[serde(rename = "per_axis")]
    PerAxis { axis: i32, count: usize },
    #[serde(rename = "blockwise")]
    Blockwise { block_size: i32 },
    #[serde(rename = "other")]
    Other,
}

pub(crate) fn granularity(g: Granularity) -> JsonGranularity {
    match g {
        Granularity::None => JsonGranularity::None,
        Granularity::Calibrated => JsonGranularity::Calibrated,
        Granularity::PerTensor => JsonGranularity::PerTensor,
        Granularity::PerAxis { axis, count } => JsonGranularity::PerAxis { axis, count },
        Granularity::Blockwise { block_size } => JsonGranularity::Blockwise { block_size },
        Granularity::Other => JsonGranularity::Other,
    }
}

/// The quantization-details union.
#[derive(Serialize)]
#[serde(tag = "kind")]
pub(crate) enum JsonDetails<'a> {
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

pub(crate) fn details(d: &QuantDetails) -> JsonDetails<'_> {
    match d {
        QuantDetails::Custom { bytes } => JsonDetails::Custom { bytes: *bytes },
        QuantDetails::Blockwise {
            scales,
            zero_points,
            block_size,
        } => JsonDetails::Blockwise {
            scales: scales.map(|t| t.0),
            zero_points: zero_points.map(|t| t.0),
            block_size: *block_size,
        },
        QuantDetails::MultiAxis {
            scales,
            zero_points,
            block_size,
            quantized_dimensions,
        } => JsonDetails::MultiAxis {
            scales: scales.map(|t| t.0),
            zero_points: zero_points.map(|t| t.0),
            block_size: *block_size,
            quantized_dimensions,
        },
        QuantDetails::Unknown { tag } => JsonDetails::Unknown { tag: *tag },
    }
}

// ---- inspect: summary and scheme -------------------------------------------

#[derive(Serialize)]
pub(crate) struct JsonIo<'a> {
    name: &'a str,
    tensor: u32,
    dtype: DType,
    shape: &'a [i32],
    quantization: Option<Params>,
}

fn io(v: &[IoTensor]) -> Vec<JsonIo<'_>> {
    v.iter()
        .map(|t| JsonIo {
            name: &t.name,
            tensor: t.tensor.0,
            dtype: t.dtype,
            shape: &t.shape,
            quantization: t.quantization,
        })
        .collect()
}

#[derive(Serialize)]
pub(crate) struct JsonConversion<'a> {
    tensorflow_version: Option<&'a str>,
    model_type: Option<&'a str>,
    optimization_modes: &'a [String],
    enable_select_tf_ops: bool,
    allow_custom_ops: bool,
}

fn conversion(c: &ConversionInfo) -> JsonConversion<'_> {
    JsonConversion {
        tensorflow_version: c.tensorflow_version.as_deref(),
        model_type: c.model_type.as_deref(),
        optimization_modes: &c.optimization_modes,
        enable_select_tf_ops: c.enable_select_tf_ops,
        allow_custom_ops: c.allow_custom_ops,
    }
}

#[derive(Serialize)]
pub(crate) struct JsonSubgraphSummary<'a> {
    index: u32,
    name: &'a str,
    operators: usize,
    tensors: usize,
    inputs: Vec<JsonIo<'a>>,
    outputs: Vec<JsonIo<'a>>,
}

#[derive(Serialize)]
pub(crate) struct JsonSignatureSummary<'a> {
    key: &'a str,
    subgraph: u32,
    inputs: Vec<JsonIo<'a>>,
    outputs: Vec<JsonIo<'a>>,
}

#[derive(Serialize)]
pub(crate) struct JsonConstants {
    dtype: DType,
    tensors: usize,
    bytes: u64,
}

#[derive(Serialize)]
pub(crate) struct JsonSummary<'a> {
    file_len: u64,
    version: u32,
    description: Option<&'a str>,
    min_runtime_version: Option<&'a str>,
    conversion: Option<JsonConversion<'a>>,
    metadata: &'a [String],
    subgraphs: Vec<JsonSubgraphSummary<'a>>,
    signatures: Vec<JsonSignatureSummary<'a>>,
    op_histogram: Vec<(String, usize)>,
    activation_dtypes: &'a [(DType, usize)],
    constants: Vec<JsonConstants>,
    appended_buffers: bool,
    external_buffers: usize,
    warnings: &'a [String],
}

pub(crate) fn summary(s: &Summary) -> JsonSummary<'_> {
    JsonSummary {
        file_len: s.file_len,
        version: s.version,
        description: s.description.as_deref(),
        min_runtime_version: s.min_runtime_version.as_deref(),
        conversion: s.conversion.as_ref().map(conversion),
        metadata: &s.metadata,
        subgraphs: s
            .subgraphs
            .iter()
            .map(|g| JsonSubgraphSummary {
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
            .map(|g| JsonSignatureSummary {
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
            .map(|c| JsonConstants {
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
pub(crate) enum JsonEvidence<'a> {
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

fn evidence(e: &Evidence) -> JsonEvidence<'_> {
    match e {
        Evidence::ConversionModes { modes } => JsonEvidence::ConversionModes { modes },
        Evidence::Ops {
            int8,
            int16,
            float,
            hybrid,
        } => JsonEvidence::Ops {
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
        } => JsonEvidence::Quantizers {
            quantize: *quantize,
            requantize: *requantize,
            dequantize: *dequantize,
            constant_dequantize: *constant_dequantize,
        },
        Evidence::Float16Constants { count } => JsonEvidence::Float16Constants { count: *count },
        Evidence::IntegerWeights { count } => JsonEvidence::IntegerWeights { count: *count },
        Evidence::QatNames { count } => JsonEvidence::QatNames { count: *count },
        Evidence::Io { inputs, outputs } => JsonEvidence::Io { inputs, outputs },
    }
}

#[derive(Serialize)]
pub(crate) struct JsonScheme<'a> {
    kind: &'static str,
    qat: bool,
    evidence: Vec<JsonEvidence<'a>>,
}

pub(crate) fn scheme(s: &crate::analysis::Scheme) -> JsonScheme<'_> {
    JsonScheme {
        kind: scheme_kind(s.kind),
        qat: s.qat,
        evidence: s.evidence.iter().map(evidence).collect(),
    }
}

// ---- inspect: findings -----------------------------------------------------

#[derive(Serialize)]
#[serde(tag = "kind")]
pub(crate) enum JsonFindingKind {
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

fn ids(v: &[OpId]) -> Vec<u32> {
    v.iter().map(|o| o.0).collect()
}

fn finding_kind(k: &FindingKind) -> JsonFindingKind {
    match k {
        FindingKind::QuantizeInput { to } => JsonFindingKind::QuantizeInput { to: *to },
        FindingKind::Quantize { to } => JsonFindingKind::Quantize { to: *to },
        FindingKind::Requantize {
            from,
            to,
            scale_ratio,
        } => JsonFindingKind::Requantize {
            from: *from,
            to: *to,
            scale_ratio: *scale_ratio,
        },
        FindingKind::TypeConversion { from, to } => JsonFindingKind::TypeConversion {
            from: *from,
            to: *to,
        },
        FindingKind::DequantizeOutput { from } => JsonFindingKind::DequantizeOutput { from: *from },
        FindingKind::Dequantize { from } => JsonFindingKind::Dequantize { from: *from },
        FindingKind::ConstantDequantize { from, tensor } => JsonFindingKind::ConstantDequantize {
            from: *from,
            tensor: tensor.0,
        },
        FindingKind::FloatIsland {
            entries,
            exits,
            from_graph_input,
            to_graph_output,
        } => JsonFindingKind::FloatIsland {
            entries: ids(entries),
            exits: ids(exits),
            from_graph_input: *from_graph_input,
            to_graph_output: *to_graph_output,
        },
        FindingKind::HybridOp {
            weights,
            weight_dtype,
        } => JsonFindingKind::HybridOp {
            weights: weights.0,
            weight_dtype: *weight_dtype,
        },
        FindingKind::WeightZeroPoint { tensor, nonzero } => JsonFindingKind::WeightZeroPoint {
            tensor: tensor.0,
            nonzero: *nonzero,
        },
        FindingKind::BiasScale {
            tensor,
            channel,
            expected,
            actual,
        } => JsonFindingKind::BiasScale {
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
        } => JsonFindingKind::SameScaleMismatch {
            input: input.0,
            output: output.0,
            input_params: *input_params,
            output_params: *output_params,
        },
        FindingKind::FixedOutput {
            tensor,
            expected,
            actual,
        } => JsonFindingKind::FixedOutput {
            tensor: tensor.0,
            expected: *expected,
            actual: *actual,
        },
    }
}

#[derive(Serialize)]
pub(crate) struct JsonFinding<'a> {
    subgraph: u32,
    ops: Vec<u32>,
    layer: Option<&'a str>,
    #[serde(flatten)]
    kind: JsonFindingKind,
}

pub(crate) fn finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        subgraph: f.subgraph.0,
        ops: ids(&f.ops),
        layer: f.layer.as_deref(),
        kind: finding_kind(&f.kind),
    }
}

// ---- compare ---------------------------------------------------------------

pub(crate) fn side(s: Side) -> &'static str {
    match s {
        Side::Ptq => "ptq",
        Side::Qat => "qat",
    }
}

fn op_kinds(v: &[OpKind]) -> Vec<String> {
    v.iter().map(OpKind::to_string).collect()
}

#[derive(Serialize)]
#[serde(tag = "what")]
pub(crate) enum JsonRemoval {
    #[serde(rename = "requantize")]
    Requantize {
        from: Option<Params>,
        to: Option<Params>,
        scale_ratio: Option<f32>,
        same_scale_op: Option<(u32, String)>,
        producer_layer: Option<String>,
        consumer_layer: Option<String>,
    },
    #[serde(rename = "round-trip")]
    RoundTrip,
    #[serde(rename = "boundary")]
    Boundary { quantize: bool },
}

#[derive(Serialize)]
#[serde(tag = "detail")]
pub(crate) enum JsonDetail {
    #[serde(rename = "remove")]
    Remove(JsonRemoval),
    #[serde(rename = "add")]
    Add {
        op_kinds: Vec<String>,
        layers: Vec<String>,
        unsupported: Vec<(String, String)>,
        batchnorm_unfolded: bool,
        entries: Vec<u32>,
        exits: Vec<u32>,
        reads_graph_input: bool,
        ptq_compute: &'static str,
        whole_model: bool,
    },
    #[serde(rename = "range")]
    Range {
        qat_tensor: u32,
        ptq_tensor: u32,
        qat_range: (f32, f32),
        ptq_range: (f32, f32),
        ratio: f32,
        initial: bool,
    },
    #[serde(rename = "granularity")]
    Granularity {
        qat_weights: u32,
        ptq_weights: u32,
        qat: JsonGranularity,
        ptq: JsonGranularity,
    },
    #[serde(rename = "fusion")]
    Fusion {
        separate_in: &'static str,
        activation: String,
    },
    #[serde(rename = "structure")]
    Structure {
        side: &'static str,
        op_kinds: Vec<String>,
        layers: Vec<String>,
        batchnorm_unfolded: bool,
        fold_into: Vec<String>,
    },
    #[serde(rename = "width")]
    Width {
        ptq: &'static str,
        qat: &'static str,
    },
    #[serde(rename = "io")]
    Io {
        ptq: (Vec<DType>, Vec<DType>),
        qat: (Vec<DType>, Vec<DType>),
    },
}

pub(crate) fn detail(d: &Detail) -> JsonDetail {
    match d {
        Detail::Remove(r) => JsonDetail::Remove(match r {
            Removal::Requantize {
                from,
                to,
                same_scale_op,
                producer_layer,
                consumer_layer,
            } => JsonRemoval::Requantize {
                from: *from,
                to: *to,
                scale_ratio: crate::model::scale_ratio(*from, *to),
                same_scale_op: same_scale_op.as_ref().map(|(o, k)| (o.0, k.to_string())),
                producer_layer: producer_layer.clone(),
                consumer_layer: consumer_layer.clone(),
            },
            Removal::RoundTrip => JsonRemoval::RoundTrip,
            Removal::Boundary { quantize } => JsonRemoval::Boundary {
                quantize: *quantize,
            },
        }),
        Detail::Add {
            op_kinds: kinds,
            layers,
            unsupported,
            batchnorm_unfolded,
            entries,
            exits,
            reads_graph_input,
            ptq_compute,
            whole_model,
        } => JsonDetail::Add {
            op_kinds: op_kinds(kinds),
            layers: layers.clone(),
            unsupported: unsupported
                .iter()
                .map(|(l, k)| (l.clone(), k.to_string()))
                .collect(),
            batchnorm_unfolded: *batchnorm_unfolded,
            entries: ids(entries),
            exits: ids(exits),
            reads_graph_input: *reads_graph_input,
            ptq_compute: compute(*ptq_compute),
            whole_model: *whole_model,
        },
        Detail::Range {
            qat_tensor,
            ptq_tensor,
            qat_range,
            ptq_range,
            ratio,
            initial,
        } => JsonDetail::Range {
            qat_tensor: qat_tensor.0,
            ptq_tensor: ptq_tensor.0,
            qat_range: *qat_range,
            ptq_range: *ptq_range,
            ratio: *ratio,
            initial: *initial,
        },
        Detail::Granularity {
            qat_weights,
            ptq_weights,
            qat,
            ptq,
        } => JsonDetail::Granularity {
            qat_weights: qat_weights.0,
            ptq_weights: ptq_weights.0,
            qat: granularity(*qat),
            ptq: granularity(*ptq),
        },
        Detail::Fusion {
            separate_in,
            activation,
        } => JsonDetail::Fusion {
            separate_in: side(*separate_in),
            activation: activation.to_string(),
        },
        Detail::Structure {
            side: s,
            op_kinds: kinds,
            layers,
            batchnorm_unfolded,
            fold_into,
        } => JsonDetail::Structure {
            side: side(*s),
            op_kinds: op_kinds(kinds),
            layers: layers.clone(),
            batchnorm_unfolded: *batchnorm_unfolded,
            fold_into: fold_into.clone(),
        },
        Detail::Width { ptq, qat } => JsonDetail::Width {
            ptq: compute(*ptq),
            qat: compute(*qat),
        },
        Detail::Io { ptq, qat } => JsonDetail::Io {
            ptq: ptq.clone(),
            qat: qat.clone(),
        },
    }
}

#[derive(Serialize)]
pub(crate) struct JsonMatch {
    ptq: u32,
    qat: u32,
    evidence: &'static str,
}

#[derive(Serialize)]
pub(crate) struct JsonCoverage {
    matched: usize,
    ptq: usize,
    qat: usize,
}

#[derive(Serialize)]
pub(crate) struct JsonAlignedSubgraph {
    ptq: u32,
    qat: u32,
    matches: Vec<JsonMatch>,
    unmatched_ptq: Vec<u32>,
    unmatched_qat: Vec<u32>,
    compute: JsonCoverage,
}

pub(crate) fn alignment(a: &SubgraphAlignment) -> JsonAlignedSubgraph {
    JsonAlignedSubgraph {
        ptq: a.ptq.0,
        qat: a.qat.0,
        matches: a
            .matches
            .iter()
            .map(|m| JsonMatch {
                ptq: m.ptq.0,
                qat: m.qat.0,
                evidence: match m.evidence {
                    compare::Evidence::LayerName => "layer-name",
                    compare::Evidence::UniqueWeights => "unique-weights",
                    compare::Evidence::Order => "order",
                    compare::Evidence::Wire => "wire",
                },
            })
            .collect(),
        unmatched_ptq: ids(&a.unmatched_ptq),
        unmatched_qat: ids(&a.unmatched_qat),
        compute: JsonCoverage {
            matched: a.compute.matched,
            ptq: a.compute.ptq,
            qat: a.compute.qat,
        },
    }
}

/// Write `value` as indented JSON (two spaces, the layout of
/// `serde_json::to_writer_pretty`) and a final newline.
///
/// Reports with per-channel arrays run to hundreds of megabytes, nearly all
/// of it indentation and numbers. serde_json's pretty printer writes each
/// level of indentation as a separate write into a `dyn Write`; here each
/// newline and its indentation is one write, into a buffer local to the call
/// (so the writes inline), which reaches `w` in large blocks.
pub(crate) fn write_pretty<T: Serialize + ?Sized>(
    w: &mut dyn std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    let mut buf = std::io::BufWriter::with_capacity(1 << 16, w);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, Indented::default());
    // io::Error::from gives back the writer's own error (a broken pipe stays
    // a broken pipe), not serde_json's wrapper of it.
    value.serialize(&mut ser).map_err(std::io::Error::from)?;
    std::io::Write::write_all(&mut buf, b"\n")?;
    std::io::Write::flush(&mut buf)
}

/// The pretty layout: a newline and two spaces per level before every array
/// element and object key, the closing bracket on its own line unless the
/// container is empty, `": "` between key and value.
#[derive(Default)]
struct Indented {
    level: usize,
    has_value: bool,
    // ",\n" followed by spaces, grown as deeper levels are reached: the
    // separator, newline and indentation before a value go out in one write.
    newline: Vec<u8>,
}

impl Indented {
    /// A newline and the indentation of the current level, after a comma
    /// unless `first`.
    fn line<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        let len = self.level.saturating_mul(2).saturating_add(2);
        if self.newline.len() < len {
            self.newline.clear();
            self.newline.extend_from_slice(b",\n");
            self.newline.resize(len.max(64), b' ');
        }
        let from = usize::from(first);
        w.write_all(self.newline.get(from..len).unwrap_or_default())
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, b: &[u8]) -> std::io::Result<()> {
        self.level = self.level.saturating_add(1);
        self.has_value = false;
        w.write_all(b)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, b: &[u8]) -> std::io::Result<()> {
        self.level = self.level.saturating_sub(1);
        if self.has_value {
            self.line(w, true)?;
        }
        w.write_all(b)
    }

    fn item<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.line(w, first)
    }
}

impl serde_json::ser::Formatter for Indented {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod pretty_tests {
    use super::*;

    /// The layout is serde_json's own pretty layout, byte for byte.
    #[test]
    fn same_bytes_as_serde_json_pretty() {
        let values = [
            serde_json::json!(null),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!([[], {}, [[]], {"a": {}}]),
            serde_json::json!({"a": [1, 2.5, -3e-7, "x\n\"y"], "b": {"c": [{"d": null}], "e": []}}),
        ];
        // Deeper than the first indentation buffer.
        let mut deep = serde_json::json!([1, {"k": []}]);
        for _ in 0..40 {
            deep = serde_json::json!([deep, 2]);
        }
        for v in values.into_iter().chain([deep]) {
            let mut ours = Vec::new();
            write_pretty(&mut ours, &v).unwrap();
            let mut theirs = serde_json::to_vec_pretty(&v).unwrap();
            theirs.push(b'\n');
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }
}
