//! The versioned JSON documents of `docs/json.md`, as types of their own:
//! one file per document ([`inspect`], [`compare`], [`plan`], [`measure`]),
//! the vocabulary they share here, and one way to write any of them
//! ([`emit`]).
//!
//! The library's types carry no serde derives: every JSON document is built
//! from the types here, whose field and tag names are the documented format.
//! Renaming an internal type, field or variant cannot change the format; a
//! change here is a change of the format and goes with `docs/json.md` (and a
//! schema version bump when it is not an addition). A document's builder
//! takes the words it carries (messages, verdicts) from its renderer as
//! arguments, so that this module depends on no renderer.

pub(crate) mod compare;
pub(crate) mod inspect;
pub(crate) mod measure;
pub(crate) mod plan;
mod pretty;

use serde::Serialize;

use crate::advice::Reason;
use crate::analysis::{Compute, SchemeKind};
use crate::model::{CallRole, Granularity, Numbers, OpId, Scalar};
pub(crate) use pretty::emit;

/// The `tool` field of every document.
pub(crate) const TOOL: &str = concat!("tflq ", env!("CARGO_PKG_VERSION"));

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
        Reason::InputThroughUnnamedLayer => ("input-through-unnamed-layer", None, None),
        Reason::NoBatchNormFold { batchnorm } => {
            ("no-batchnorm-fold", Some(batchnorm.clone()), None)
        }
        Reason::FusedInto { layer } => ("fused-into", Some(layer.clone()), None),
        Reason::PartlyFoldedInto { layer } => ("partly-folded-into", Some(layer.clone()), None),
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

pub(crate) fn ids(v: &[OpId]) -> Vec<u32> {
    v.iter().map(|o| o.0).collect()
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
