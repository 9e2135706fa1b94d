//! Rendering of `tflq compare`: each finding with a message and a suggestion
//! in tfmot terms, and the alignment, as a table, text, JSON or markdown.

use std::io::{self, Write};

use super::{Format, Style, Tone, scale, scale_short};
use crate::advice::{Action, Culprit, InputSide, OutputSide, Suggestion};
use crate::analysis::SchemeKind;
use crate::compare::{
    Cause, Comparison, ComputeCoverage, Detail, Evidence, FileRole, Finding, Kind, PairProblem,
    RangeVerdict, Removal, RollUp, Side, SubgraphAlignment,
};
use crate::model::{Granularity, OpId, OpKind};
use crate::producer::Vocabulary;

/// The labels (file paths) to show for the two models.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    /// The PTQ model's label.
    pub ptq_label: &'a str,
    /// The QAT model's label.
    pub qat_label: &'a str,
}

fn ops(v: &[OpId]) -> String {
    if v.is_empty() {
        return "-".to_owned();
    }
    v.iter()
        .map(|o| format!("#{o}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn op_names(v: &[OpId], kinds: &[OpKind]) -> String {
    v.iter()
        .zip(kinds)
        .map(|(o, k)| format!("{k} #{o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn kinds(v: &[OpKind]) -> String {
    v.iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(v: &[String]) -> String {
    v.iter()
        .map(|l| format!("'{l}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A number for a sentence: 4 significant digits, plain notation in the
/// usual range of activations.
fn short(v: f32) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if (1e-3..1e4).contains(&v.abs()) {
        let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
        format!("{v:.digits$}")
    } else {
        scale_short(v)
    }
}

fn gran(g: Granularity) -> String {
    match g {
        Granularity::PerTensor => "per-tensor".into(),
        Granularity::PerAxis { axis, count } => {
            format!("per-channel (axis {axis}, {count} scales)")
        }
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The message: what differs, where.
pub fn message(f: &Finding) -> String {
    match &f.wording.roll_up {
        Some(r) => rolled_message(f, r),
        None => one_message(f),
    }
}

/// Every place of a roll-up: `'conv1' #3 (14.22x)`.
pub fn places(f: &Finding, limit: usize) -> String {
    let mut v: Vec<String> = f
        .places
        .iter()
        .take(limit)
        .map(|p| {
            let mut s = match &p.layer {
                Some(l) => format!("'{l}' {}", ops(&p.qat_ops)),
                None => ops(&p.qat_ops),
            };
            if let Some(r) = p.ratio {
                s += &format!(" ({r:.2}x)");
            }
            s
        })
        .collect();
    if f.places.len() > limit {
        v.push(format!("and {} more", f.places.len() - limit));
    }
    v.join("; ")
}

fn rolled_message(f: &Finding, r: &RollUp) -> String {
    let n = f.places.len();
    let of = f.checked.map(|c| format!(" of {c}")).unwrap_or_default();
    match r {
        RollUp::UntrainedRanges => format!(
            "quantizers never trained: {n}{of} QAT output ranges are still tfmot's initial [-6, 6]"
        ),
        RollUp::WideRanges { lo, hi } => format!(
            "{n}{of} QAT output ranges are {lo:.2}x to {hi:.2}x the width of PTQ's calibrated ones: resolution is lost"
        ),
        RollUp::ClippingRanges { lo, hi } => format!(
            "{n}{of} QAT output ranges are only {lo:.2}x to {hi:.2}x the width of PTQ's calibrated ones: values outside them clip"
        ),
        RollUp::QatPerTensorWeights => {
            format!("weights of {n} layers: QAT per-tensor, PTQ per-channel")
        }
        RollUp::PtqPerTensorWeights => {
            format!("weights of {n} layers: QAT per-channel, PTQ per-tensor")
        }
        RollUp::FloatRegions { causes } => causes_message(n, causes),
        RollUp::Widths { ptq, qat } => format!(
            "QAT computes {n} ops in {} where PTQ computes them in {}",
            qat.name(),
            ptq.name()
        ),
        _ => format!("{} ({n} places)", one_message(f)),
    }
}

/// The message of `n` float regions rolled up by their causes: how many
/// layers answer each cause.
fn causes_message(n: usize, causes: &[(Cause, usize)]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|&(cause, k)| match cause {
            Cause::FoldLeftOut => format!(
                "{k} BatchNormalization or activation layers are left out of the annotation of the layer PTQ folds them into, so tfmot does not fold them"
            ),
            Cause::Unannotated => format!(
                "{k} layers that tfmot's default quantizes as PTQ does are left unannotated"
            ),
            Cause::NeedsConfig => format!(
                "{k} layers need a QuantizeConfig of their own to be quantized as PTQ quantizes them"
            ),
            Cause::FloatInPtq => format!("{k} layers PTQ keeps in float are annotated"),
            _ => format!("{k} layers no tfmot annotation quantizes as PTQ does"),
        })
        .collect();
    format!(
        "{}: QAT runs {n} regions in float where PTQ runs them in integer",
        parts.join("; ")
    )
}

fn one_message(f: &Finding) -> String {
    let qat_names = || op_names(&f.qat_ops, &f.qat_kinds);
    let layer = f
        .layer
        .as_deref()
        .map(|l| format!(" (layer '{l}')"))
        .unwrap_or_default();
    match &f.detail {
        Detail::Remove(Removal::Requantize {
            from,
            to,
            same_scale_op,
            ..
        }) => requantize_message(f, *from, *to, same_scale_op.as_ref(), &layer),
        Detail::Remove(Removal::RoundTrip) => format!(
            "QAT has a QUANTIZE/DEQUANTIZE round trip ({}){layer} that PTQ does not have",
            qat_names()
        ),
        Detail::Remove(Removal::Boundary { quantize }) => format!(
            "QAT has a {} ({}){layer} between ops that PTQ joins directly",
            if *quantize { "QUANTIZE" } else { "DEQUANTIZE" },
            qat_names()
        ),
        Detail::Add {
            op_kinds,
            layers,
            entries,
            exits,
            ptq_compute,
            ..
        } => float_region_message(f, op_kinds, layers, (entries, exits), *ptq_compute),
        Detail::Range {
            qat_range,
            ptq_range,
            ratio,
            ..
        } => range_message(f.wording.range, (*qat_range, *ptq_range), *ratio, &layer),
        Detail::Granularity { qat, ptq, .. } => {
            format!("weights{layer}: QAT {} , PTQ {}", gran(*qat), gran(*ptq)).replace(" ,", ",")
        }
        Detail::Fusion {
            separate_in,
            activation,
        } => fusion_message(f, *separate_in, activation, &layer),
        Detail::Structure {
            side,
            op_kinds,
            layers,
            batchnorm_unfolded,
            fold_into,
        } => structure_message(f, *side, op_kinds, layers, *batchnorm_unfolded, fold_into),
        Detail::Width { ptq, qat } => format!(
            "QAT computes in {} where PTQ computes in {}{layer}",
            qat.name(),
            ptq.name()
        ),
        Detail::Io { ptq, qat } => io_message(ptq, qat),
    }
}

/// A requantize QAT has and PTQ does not: its parameters, and the same-scale
/// op it sits next to.
fn requantize_message(
    f: &Finding,
    from: Option<(f32, i64)>,
    to: Option<(f32, i64)>,
    same_scale_op: Option<&(OpId, OpKind)>,
    layer: &str,
) -> String {
    let params = match (from, to) {
        (Some(a), Some(b)) => format!(
            " from (s={}, zp={}) to (s={}, zp={})",
            scale(a.0),
            a.1,
            scale(b.0),
            b.1
        ),
        _ => String::new(),
    };
    let around = same_scale_op
        .map(|(o, k)| format!(" next to {k} #{o}{layer}"))
        .unwrap_or_else(|| layer.to_owned());
    format!(
        "QAT requantizes (QUANTIZE #{} int->int{params}){around}; PTQ keeps one scale here{}",
        f.qat_ops.first().map_or(0, |o| o.0),
        if f.ptq_ops.is_empty() {
            String::new()
        } else {
            format!(" between {}", op_names(&f.ptq_ops, &f.ptq_kinds))
        }
    )
}

/// A float region of QAT that PTQ runs in integer: its ops and layers, and
/// the quantizers it is entered and left through.
fn float_region_message(
    f: &Finding,
    op_kinds: &[OpKind],
    layers: &[String],
    (entries, exits): (&[OpId], &[OpId]),
    ptq_compute: crate::analysis::Compute,
) -> String {
    let mut m = format!(
        "QAT runs {} op(s) in float ({}{}) where PTQ runs them in {} ({})",
        f.qat_ops.len(),
        kinds(op_kinds),
        layer_list(layers),
        match ptq_compute {
            crate::analysis::Compute::Int16 => "int16",
            _ => "int8",
        },
        op_names(&f.ptq_ops, &f.ptq_kinds),
    );
    if !entries.is_empty() {
        m += &format!("; entered through DEQUANTIZE {}", ops(entries));
    }
    if !exits.is_empty() {
        m += &format!(", left through QUANTIZE {}", ops(exits));
    }
    m
}

/// `; layers 'a', 'b'`, or nothing.
fn layer_list(layers: &[String]) -> String {
    if layers.is_empty() {
        String::new()
    } else {
        format!("; layers {}", quoted(layers))
    }
}

/// One learned range against the calibrated one, in the words of its
/// verdict.
fn range_message(
    verdict: Option<RangeVerdict>,
    (qat_range, ptq_range): ((f32, f32), (f32, f32)),
    ratio: f32,
    layer: &str,
) -> String {
    let r = |x: (f32, f32)| format!("[{}, {}]", short(x.0), short(x.1));
    match verdict {
        Some(RangeVerdict::Untrained) => format!(
            "QAT output range{layer} is {}, tfmot's initial [-6, 6]: the quantizer never trained (PTQ calibrated {})",
            r(qat_range),
            r(ptq_range)
        ),
        Some(RangeVerdict::Clipping) => format!(
            "QAT output range{layer} {} is only {:.2}x the width of PTQ's calibrated {}: values outside it clip",
            r(qat_range),
            ratio,
            r(ptq_range)
        ),
        _ => format!(
            "QAT output range{layer} {} is {:.2}x the width of PTQ's calibrated {}",
            r(qat_range),
            ratio,
            r(ptq_range)
        ),
    }
}

/// An activation fused in one model and its own op in the other.
fn fusion_message(
    f: &Finding,
    separate_in: Side,
    activation: &impl std::fmt::Display,
    layer: &str,
) -> String {
    let qat_names = op_names(&f.qat_ops, &f.qat_kinds);
    let ptq_names = op_names(&f.ptq_ops, &f.ptq_kinds);
    match separate_in {
        Side::Qat => format!(
            "QAT keeps {activation} as its own op ({qat_names}){layer}; PTQ fuses it into {ptq_names}"
        ),
        Side::Ptq => format!(
            "PTQ keeps {activation} as its own op ({ptq_names}); QAT fuses it into {qat_names}{layer}"
        ),
    }
}

/// Ops in one model with no counterpart in the other.
fn structure_message(
    f: &Finding,
    side: Side,
    op_kinds: &[OpKind],
    layers: &[String],
    batchnorm_unfolded: bool,
    fold_into: &[String],
) -> String {
    let (who, other, names) = match side {
        Side::Qat => ("QAT", "PTQ", op_names(&f.qat_ops, &f.qat_kinds)),
        Side::Ptq => ("PTQ", "QAT", op_names(&f.ptq_ops, &f.ptq_kinds)),
    };
    let mut m = format!(
        "{who} has {} with no counterpart in {other} ({}{})",
        names,
        kinds(op_kinds),
        layer_list(layers)
    );
    if batchnorm_unfolded {
        m += "; a BatchNorm left unfolded";
    } else if !fold_into.is_empty() {
        m += &format!("; PTQ folds them into the op of {}", quoted(fold_into));
    }
    m
}

/// Model input and output types that differ.
fn io_message(
    ptq: &(Vec<crate::model::DType>, Vec<crate::model::DType>),
    qat: &(Vec<crate::model::DType>, Vec<crate::model::DType>),
) -> String {
    let t = |v: &[crate::model::DType]| {
        v.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "model I/O types differ: PTQ {} in / {} out, QAT {} in / {} out",
        t(&ptq.0),
        t(&ptq.1),
        t(&qat.0),
        t(&qat.1)
    )
}

/// One culprit in words: `'maximum' -> output: why...`.
fn culprit(c: &Culprit) -> String {
    let what = match c.action {
        Action::Default => {
            "annotate it with quantize_annotate_layer (tfmot's default config)".to_owned()
        }
        Action::Output => "a QuantizeConfig with an output quantizer".to_owned(),
        Action::NoQuantizer => "a QuantizeConfig with no quantizers".to_owned(),
        Action::WeightsOnly => "a QuantizeConfig that quantizes its weights only".to_owned(),
        Action::Float => "leave it unannotated (PTQ keeps it in float)".to_owned(),
        Action::Unsupported => "no annotation reproduces PTQ here".to_owned(),
    };
    let what = if c.calibrate && !matches!(c.action, Action::Unsupported | Action::Float) {
        format!("{what}, and convert the QAT model with a representative dataset")
    } else {
        what
    };
    let mut why: Vec<String> = c.reasons.iter().map(super::reason).collect();
    if let Some(owner) = &c.folded_into {
        why.push(format!("PTQ folds it into '{owner}'"));
    }
    if c.annotated && c.action != Action::Default {
        why.push("it is annotated already, with a config that differs".to_owned());
    }
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join("; "))
    };
    format!("'{}' -> {}: {what}{why}", c.layer, c.action)
}

fn culprit_list(culprits: &[Culprit]) -> String {
    let list = culprits.iter().map(culprit).collect::<Vec<_>>().join("; ");
    if culprits.iter().any(|c| c.twins) {
        format!(
            "{list}; and the same for any layer identical to one of these (same class and config, \
             called on the same input: the converter merges it into that layer's op)"
        )
    } else {
        list
    }
}

const PLAN_HINT: &str = "`tflq plan` on the PTQ model writes these configs as tfmot code.";

/// The words for [`Finding::suggestion`], in the terms of the QAT model's
/// producer: tfmot for Keras, PT2E for litert-torch, plain TFLite otherwise.
pub fn suggestion(f: &Finding) -> String {
    match f.vocabulary {
        Vocabulary::Tfmot => tfmot_words(f),
        Vocabulary::Pt2e => other_words(f, true),
        Vocabulary::Tflite => other_words(f, false),
    }
}

/// A culprit outside tfmot: the layer (module) and what its quantization
/// should be, without tfmot's configs.
fn other_culprit(c: &Culprit, pt2e: bool) -> String {
    let what = match (c.action, pt2e) {
        (Action::Default | Action::Output, true) => {
            "annotate it for quantization (quantizer.set_module_name with your quantization config, or the global config)"
        }
        (Action::Default | Action::Output, false) => {
            "quantize its output (a fake-quant on it in training)"
        }
        (Action::NoQuantizer, _) => {
            "no quantization of its own output: it shares its input's scale"
        }
        (Action::WeightsOnly, _) => {
            "quantize its weights only: its output shares a scale another layer decides"
        }
        (Action::Float, _) => "leave it in float, as PTQ does",
        (Action::Unsupported, _) => {
            "its ops need scales of their own that one annotation cannot give"
        }
    };
    let folded = c
        .folded_into
        .as_ref()
        .map(|o| format!(" (PTQ folds it into '{o}')"))
        .unwrap_or_default();
    format!("'{}': {what}{folded}", c.layer)
}

/// PT2E (litert-torch) or plain TFLite words.
fn other_words(f: &Finding, pt2e: bool) -> String {
    let list = |c: &[Culprit]| {
        c.iter()
            .map(|c| other_culprit(c, pt2e))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let at = |l: &Option<String>| l.as_ref().map(|l| format!(" at '{l}'")).unwrap_or_default();
    let config = if pt2e {
        "get_symmetric_quantization_config(is_per_channel=True, is_qat=True)"
    } else {
        "your framework's QAT configuration"
    };
    match &f.suggestion {
        Suggestion::QuantizeWholeModel => {
            if pt2e {
                "The QAT model has no integer ops at all: quantize the PyTorch program with PT2E (quantizer.set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=True)), prepare_qat_pt2e, train, convert_pt2e) before converting with litert-torch.".to_owned()
            } else {
                "The QAT model has no integer ops at all: it was converted without its quantization; convert the quantization-aware model with integer quantization enabled.".to_owned()
            }
        }
        Suggestion::Annotate {
            culprits, unnamed, ..
        } => {
            let mut s = Vec::new();
            if *unnamed || culprits.is_empty() {
                s.push(format!(
                    "QAT leaves these ops in float where PTQ runs them in integer: quantize them with {config}."
                ));
            } else {
                s.push(format!("Change: {}.", list(culprits)));
            }
            s.join(" ")
        }
        Suggestion::Requantize {
            culprits,
            constraint,
            ratio,
            near_free,
        } => requantize_words(
            constraint.as_ref(),
            (!culprits.is_empty()).then(|| (list(culprits), None)),
            "No change of annotation removes it here.",
            *ratio,
            *near_free,
        ),
        Suggestion::RemoveRoundTrip { layer, culprits }
        | Suggestion::RemoveBoundary { layer, culprits } => {
            let mut s = format!(
                "PTQ needs no quantizer here: remove the extra quantization{}, or quantize its consumer so the value stays integer.",
                at(layer)
            );
            if !culprits.is_empty() {
                s += &format!(" Change: {}.", list(culprits));
            }
            s
        }
        Suggestion::RetrainUntrainedRange { layer } | Suggestion::CheckRange { layer } => format!(
            "The learned range{} differs a lot from calibration: fine-tune longer, on data closer to what the model sees in use.",
            at(layer)
        ),
        Suggestion::PerChannelWeights { layer } => format!(
            "Informational: QAT quantized the weights{} per-tensor, PTQ per-channel{}.",
            at(layer),
            if pt2e {
                " (is_per_channel=True in the quantization config)"
            } else {
                ""
            }
        ),
        Suggestion::PtqPerTensor { layer } => format!(
            "Informational: PTQ used per-tensor weights{}.",
            at(layer)
        ),
        Suggestion::UnblockFusion { activation } => format!(
            "A quantization between the op and its {activation} blocks fusion: quantize the op and its activation as one pattern (only the activation's output)."
        ),
        Suggestion::FusedOnlyInQat => {
            "Informational: QAT fused an activation PTQ kept separate; placement on the QAT side is fine.".to_owned()
        }
        Suggestion::FoldBatchnorm => {
            let mut s = "A BatchNorm left as MUL/ADD: quantize it together with its conv so it folds, as PTQ does.".to_owned();
            if !f.culprits.is_empty() {
                s += &format!(" Change: {}.", list(&f.culprits));
            }
            s
        }
        Suggestion::UnblockFold { culprits } => format!(
            "PTQ folds these ops into the op before them; a quantizer QAT keeps on that op's output stops the fold. Change: {}.",
            list(culprits)
        ),
        Suggestion::CheckSameModel => {
            "Check that both models come from the same program; ops in one model only cannot be compared.".to_owned()
        }
        Suggestion::MatchIoTypes => {
            "Informational: convert both with the same input and output types to compare I/O quantizers.".to_owned()
        }
        Suggestion::MatchWidth { ptq, qat } => format!(
            "The two use different activation widths ({} in PTQ, {} in QAT): compare conversions of the same width.",
            ptq.name(),
            qat.name()
        ),
    }
}

/// A requantize in words: the constraint that forces it, what to change
/// (or `none` when nothing does), and its cost when near-free.
fn requantize_words(
    constraint: Option<&OpKind>,
    change: Option<(String, Option<&str>)>,
    none: &str,
    ratio: Option<f32>,
    near_free: bool,
) -> String {
    let mut s = Vec::new();
    if let Some(k) = constraint {
        s.push(format!(
            "{k} is a same-scale op: its inputs and output share one scale in PTQ, so QAT must give that scale one quantizer."
        ));
    }
    match change {
        Some((c, hint)) => {
            s.push(format!("Change: {c}."));
            s.extend(hint.map(str::to_owned));
        }
        None => s.push(none.to_owned()),
    }
    if near_free {
        s.push(format!(
            "Its scales differ by {:.2}%, with the same zero point: it costs one op and almost no accuracy.",
            ratio.map_or(0.0, |r| (r - 1.0).abs() * 100.0)
        ));
    }
    s.join(" ")
}

/// The words for [`Finding::suggestion`] in tfmot terms.
fn tfmot_words(f: &Finding) -> String {
    if let Some(words) = f.wording.roll_up.as_ref().and_then(tfmot_roll_up_words) {
        return words.to_owned();
    }
    // " at 'conv1'", or nothing when the file names no layer there (never a
    // placeholder in quotes).
    let at = |l: &Option<String>| l.as_ref().map(|l| format!(" at '{l}'")).unwrap_or_default();
    match &f.suggestion {
        Suggestion::Requantize {
            culprits,
            constraint,
            ratio,
            near_free,
        } => requantize_words(
            constraint.as_ref(),
            (!culprits.is_empty()).then(|| (culprit_list(culprits), Some(PLAN_HINT))),
            "No annotation change removes it: PTQ gives these layers tfmot's defaults; check for custom QuantizeConfigs on them.",
            *ratio,
            *near_free,
        ),
        Suggestion::RemoveRoundTrip { layer, culprits } => {
            let mut s = format!(
                "The fake-quant{} quantizes a value that is consumed in float: remove it (a no-op QuantizeConfig \
                 on the layer that carries it), or annotate its consumer so the value stays integer.",
                at(layer)
            );
            if !culprits.is_empty() {
                s += &format!(" Change: {}.", culprit_list(culprits));
            }
            s
        }
        Suggestion::RemoveBoundary { layer, culprits } => {
            let mut s = format!(
                "PTQ needs no quantizer between these ops: remove the extra fake-quant{} with a QuantizeConfig \
                 that returns no output quantizer.",
                at(layer)
            );
            if !culprits.is_empty() {
                s += &format!(" Change: {}.", culprit_list(culprits));
            }
            s
        }
        Suggestion::QuantizeWholeModel => "The QAT model has no integer ops at all: quantize the Keras model with \
                tfmot.quantization.keras.quantize_model (or quantize_annotate_model + quantize_apply), fine-tune, \
                and convert with optimizations=[tf.lite.Optimize.DEFAULT] so the fake-quants become int8 ops."
            .to_owned(),
        Suggestion::Annotate {
            culprits,
            unsupported,
            fold_batchnorm,
            input,
            output,
            unnamed,
        } => words_annotate(culprits, unsupported, *fold_batchnorm, *input, *output, *unnamed),
        Suggestion::RetrainUntrainedRange { layer } => format!(
            "The quantizer{} kept its initial [-6, 6]: train longer with quantization enabled, check it is not frozen, or use a representative range.",
            at(layer)
        ),
        Suggestion::CheckRange { layer } if f.wording.range == Some(RangeVerdict::Clipping) => format!(
            "Values beyond the range{} saturate: fine-tune on data that covers what the model sees in use.",
            at(layer)
        ),
        Suggestion::CheckRange { layer } => format!(
            "The learned range{} differs a lot from calibration: fine-tune longer or on data closer to the calibration set.",
            at(layer)
        ),
        Suggestion::PerChannelWeights { layer } => format!(
            "Informational: QAT quantized the weights per-tensor (tfmot's default for Dense and Conv2DTranspose, or a per-tensor scheme), PTQ per-channel. For per-channel \
             weights{}, use a QuantizeConfig with LastValueQuantizer(per_axis=True) on the kernel.",
            at(layer)
        ),
        Suggestion::PtqPerTensor { layer } => format!(
            "Informational: PTQ used per-tensor weights{} (per-channel disabled in the converter).",
            at(layer)
        ),
        Suggestion::UnblockFusion { activation } => format!(
            "A fake-quant between the op and its {activation} blocks fusion. Follow the op with a keras ReLU layer or \
             Activation('relu') so tfmot's LayerReLUQuantize transform skips the op's own output quantizer, or remove \
             that quantizer with a QuantizeConfig."
        ),
        Suggestion::FusedOnlyInQat => {
            "Informational: QAT fused an activation PTQ kept separate; placement on the QAT side is fine.".to_owned()
        }
        Suggestion::FoldBatchnorm => {
            let mut s = "Annotate the conv and its BatchNormalization together so tfmot folds BN into the conv.".to_owned();
            if !f.culprits.is_empty() {
                s += &format!(" Change: {}.", culprit_list(&f.culprits));
            }
            s
        }
        Suggestion::UnblockFold { culprits } => format!(
            "PTQ folds these ops into the op before them; the output quantizer QAT keeps on that op stops the converter's fold. Change: {}.",
            culprit_list(culprits)
        ),
        Suggestion::CheckSameModel => {
            "Check that both models come from the same Keras model; ops in one model only cannot be compared.".to_owned()
        }
        Suggestion::MatchWidth { ptq, qat } => format!(
            "The two use different activation widths ({} in PTQ, {} in QAT), so their scales cannot be compared one to one. tfmot's default scheme trains 8-bit activations: compare against a full-integer int8 PTQ conversion, or convert both with the same 16x8 mode.",
            ptq.name(),
            qat.name()
        ),
        Suggestion::MatchIoTypes => {
            "Informational: convert both with the same inference_input_type / inference_output_type to compare I/O quantizers.".to_owned()
        }
    }
}

/// The tfmot advice of a roll-up that has words of its own (`None`: the
/// suggestion's words speak for every place).
fn tfmot_roll_up_words(r: &RollUp) -> Option<&'static str> {
    match r {
        RollUp::UntrainedRanges => Some(
            "These quantizers kept their initial [-6, 6]: train longer with quantization enabled (quantize_apply before fit, not after), check they are not frozen, or start from ranges of representative data.",
        ),
        RollUp::WideRanges { .. } => Some(
            "Fine-tune longer, or on data closer to the calibration set: the moving averages have not narrowed to the values these layers see.",
        ),
        RollUp::QatPerTensorWeights => Some(
            "Informational: QAT quantized these weights per-tensor (tfmot's default for Dense and Conv2DTranspose, or a per-tensor scheme), PTQ per-channel. For per-channel weights, give these layers a QuantizeConfig with LastValueQuantizer(per_axis=True) on the kernel (the weights-only and output configs of `tflq plan` do).",
        ),
        RollUp::PtqPerTensorWeights => Some(
            "Informational: PTQ used per-tensor weights at these layers (per-channel disabled in the converter).",
        ),
        RollUp::ClippingRanges { .. } => Some(
            "Values beyond these ranges saturate: fine-tune on data that covers what the model sees in use, or lower the moving-average decay so the ranges follow it.",
        ),
        _ => None,
    }
}

fn words_annotate(
    culprits: &[Culprit],
    unsupported: &[(String, OpKind)],
    fold_batchnorm: bool,
    input: InputSide,
    output: OutputSide,
    unnamed: bool,
) -> String {
    let mut s = Vec::new();
    if unnamed {
        s.push("Convert the QAT model with optimizations=[tf.lite.Optimize.DEFAULT] after tfmot.quantization.keras.quantize_model (or quantize_apply) so its fake-quants become int8 ops.".to_owned());
    }
    if !culprits.is_empty() {
        s.push(format!("Change: {}.", culprit_list(culprits)));
    } else if !unnamed && unsupported.is_empty() {
        // Every layer here is annotated as the plan asks: the cause is not
        // one layer's annotation.
        s.push("Every layer of this region that tfmot can wrap is annotated as PTQ's placement asks; look at what applies to all of them: the quantization scheme (a per-tensor scheme, disable_per_axis=True, keeps a conv whose BatchNorm tfmot folds in float) and custom QuantizeConfigs.".to_owned());
    }
    if fold_batchnorm {
        s.push("Annotate the Conv2D/Dense and its BatchNormalization together so tfmot's Conv+BN transform folds BN into the conv, as PTQ does.".to_owned());
    }
    for (l, k) in unsupported {
        s.push(format!(
            "tfmot's default registry does not quantize '{l}' ({k}): annotate it with quantize_annotate_layer(layer, quantize_config=...) and a QuantizeConfig whose get_output_quantizers returns a MovingAverageQuantizer (inside tfmot.quantization.keras.quantize_scope)."
        ));
    }
    if !culprits.is_empty() {
        s.push(PLAN_HINT.to_owned());
    }
    let input_side = match input {
        InputSide::GraphInput => {
            "its input comes from the float model input with no quantize_layer in front (annotate the first layer so tfmot inserts one)"
        }
        InputSide::Dequantize => "its input already has a range (the DEQUANTIZE in front of it)",
        InputSide::FloatOps => "its input comes from other float ops, which need quantizers too",
    };
    let output_side = match output {
        OutputSide::Missing => {
            "its output has no range: the annotated layer needs an output quantizer"
        }
        OutputSide::Quantize => "its output already has a range (the QUANTIZE after it)",
    };
    s.push(format!("Quantizer sides: {input_side}; {output_side}."));
    s.join(" ")
}

/// The formats a comparison renders to.
pub const FORMATS: [Format; 4] = [Format::Table, Format::Text, Format::Json, Format::Markdown];

/// Where a finding of a comparison is, for the markdown's "Where" section:
/// one per finding, in the comparison's order. The caller draws the
/// diagrams (`report::graph::finding_mermaid`), from inspections it made
/// once; this renderer only places them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    /// Not in the section: not a placement finding, or its subgraph has no
    /// counterpart to draw beside it.
    Skip,
    /// Too many ops around it for a diagram.
    TooLarge,
    /// A Mermaid flowchart of its neighbourhood in both models.
    Mermaid(String),
}

/// Render a comparison. A format outside [`FORMATS`] is an error of kind
/// [`std::io::ErrorKind::Unsupported`]. Model Explorer node data names the
/// ops by their tensors, which a comparison does not hold: it is written by
/// [`super::model_explorer::compare`] from the two models.
pub fn render(
    pair: &Pair<'_>,
    c: &Comparison,
    format: Format,
    style: Style,
    w: &mut dyn Write,
) -> io::Result<()> {
    render_with_diagrams(pair, c, None, format, style, w)
}

/// [`render`], with where each finding is: markdown then adds, for each
/// placement finding, its diagram (see [`Where`]).
pub fn render_with_diagrams(
    pair: &Pair<'_>,
    c: &Comparison,
    diagrams: Option<&[Where]>,
    format: Format,
    style: Style,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => super::json::emit(w, &json(pair, c)),
        Format::Text => text(pair, c, style, w),
        Format::Table => table(pair, c, style, w),
        Format::Markdown => markdown(pair, c, diagrams, w),
        Format::Python => Err(super::unsupported("compare", format)),
        Format::ModelExplorer => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "compare writes model-explorer output with report::model_explorer::compare, from the two models",
        )),
    }
}

/// What a file is, in words: `a QAT conversion (full-integer int8)`.
pub fn role(r: FileRole) -> String {
    match r {
        FileRole::Ptq(k) => format!("a PTQ conversion ({k})"),
        FileRole::Qat(k) => format!("a QAT conversion ({k})"),
        FileRole::NotInteger(SchemeKind::Float) => "a float model".to_owned(),
        FileRole::NotInteger(SchemeKind::Float16Weights) => "a float16-weights model".to_owned(),
        FileRole::NotInteger(SchemeKind::Float16) => "a float16 model".to_owned(),
        FileRole::NotInteger(SchemeKind::DynamicRange) => {
            "a dynamic-range model (float activations)".to_owned()
        }
        FileRole::NotInteger(k) => format!("a model with no integer compute ({k})"),
    }
}

/// The one line saying why the pair cannot be compared.
pub fn problem(pair: &Pair<'_>, p: &PairProblem) -> String {
    match p {
        PairProblem::QatAsBaseline { ptq, qat } => {
            if matches!(qat, FileRole::Ptq(_)) {
                format!(
                    "{} is {} and {} is {}: compare takes the PTQ conversion first, then the QAT one; swap them",
                    pair.ptq_label,
                    role(*ptq),
                    pair.qat_label,
                    role(*qat)
                )
            } else {
                format!(
                    "{} (the first file) is {}, and {} is {}: compare needs a full-integer PTQ conversion of the same network first, then the QAT one",
                    pair.ptq_label,
                    role(*ptq),
                    pair.qat_label,
                    role(*qat)
                )
            }
        }
        PairProblem::BaselineNotInteger { ptq } => format!(
            "{} (the first file) is {}: compare needs a full-integer PTQ conversion of the same network as the baseline (representative dataset, optimizations=[tf.lite.Optimize.DEFAULT])",
            pair.ptq_label,
            role(*ptq)
        ),
        PairProblem::NotOneNetwork { subgraph, coverage } => format!(
            "{} and {} are not conversions of one network: in subgraph {subgraph} {}",
            pair.ptq_label,
            pair.qat_label,
            aligned(coverage)
        ),
    }
}

/// How many compute ops of each side align, worded so that a side whose
/// ops all align does not read as a shortfall (`matched` counts pairs, so
/// it is the same number on both sides).
fn aligned(c: &ComputeCoverage) -> String {
    let m = c.matched;
    if m == c.ptq {
        format!(
            "all {} PTQ compute ops align, but only {m} of {} QAT ones",
            c.ptq, c.qat
        )
    } else if m == c.qat {
        format!(
            "all {} QAT compute ops align, but only {m} of {} PTQ ones",
            c.qat, c.ptq
        )
    } else {
        format!(
            "only {m} of {} PTQ and {m} of {} QAT compute ops align",
            c.ptq, c.qat
        )
    }
}

fn verdict(pair: &Pair<'_>, c: &Comparison) -> String {
    let add = c.count(Kind::AddQuantizer);
    let remove = c.count(Kind::RemoveQuantizer);
    if let Some(p) = &c.problem {
        return format!("Not comparable: {}.", problem(pair, p));
    }
    if c.count(Kind::WidthMismatch) > 0 {
        return format!(
            "QAT and PTQ compute at different integer widths ({} against {}): quantizer placement cannot match.",
            c.roles.1.scheme(),
            c.roles.0.scheme()
        );
    }
    if c.placement_matches() {
        "QAT quantizer placement matches PTQ: nothing to add or remove.".to_owned()
    } else {
        let folds = match c.folds_to_unblock() {
            0 => String::new(),
            n => format!(", {n} fold(s) a quantizer blocks"),
        };
        format!(
            "QAT quantizer placement differs from PTQ: {remove} quantizer(s) to remove, {add} place(s) to add quantizers{folds}."
        )
    }
}

fn alignment_line(a: &SubgraphAlignment) -> String {
    let count = |e: Evidence| a.matches.iter().filter(|m| m.evidence == e).count();
    format!(
        "subgraph {}: {} matched ({} by layer name, {} by unique weights, {} by order, {} quantizers on matched wires); unmatched: PTQ {}, QAT {}",
        a.qat,
        a.matches.len(),
        count(Evidence::LayerName),
        count(Evidence::UniqueWeights),
        count(Evidence::Order),
        count(Evidence::Wire),
        ops(&a.unmatched_ptq),
        ops(&a.unmatched_qat)
    )
}

fn tone(k: Kind) -> Tone {
    if k.is_placement() {
        Tone::Bad
    } else {
        Tone::Warn
    }
}

fn text(pair: &Pair<'_>, c: &Comparison, style: Style, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "tflq compare, text format 2")?;
    writeln!(w, "verdict: {}", verdict(pair, c))?;
    writeln!(w, "ptq: {}: {}", pair.ptq_label, role(c.roles.0))?;
    writeln!(w, "qat: {}: {}", pair.qat_label, role(c.roles.1))?;
    for a in &c.alignment {
        writeln!(w, "alignment {}", alignment_line(a))?;
    }
    for (side, v) in [
        ("PTQ", &c.unpaired_subgraphs.0),
        ("QAT", &c.unpaired_subgraphs.1),
    ] {
        if !v.is_empty() {
            writeln!(
                w,
                "unpaired {side} subgraphs: {}",
                v.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
        }
    }
    for f in &c.findings {
        writeln!(
            w,
            "\n{} severity={} subgraph={} qat_ops={} ptq_ops={} layer={}",
            style.paint(f.kind.name(), tone(f.kind)),
            f.severity.name(),
            f.subgraph,
            ops(&f.qat_ops),
            ops(&f.ptq_ops),
            f.layer.as_deref().unwrap_or("-")
        )?;
        writeln!(w, "  message: {}", message(f))?;
        if f.places.len() > 1 {
            writeln!(w, "  places: {}", places(f, usize::MAX))?;
        }
        writeln!(w, "  suggestion: {}", suggestion(f))?;
    }
    if !c.findings.is_empty() {
        writeln!(w, "\nverdict: {}", verdict(pair, c))?;
    }
    Ok(())
}

/// Op lists in table cells: at most this many ops, then a count (the text
/// and JSON formats list them all).
const CELL_OPS: usize = 12;

fn cell_ops(v: &[OpId]) -> String {
    if v.len() <= CELL_OPS {
        return ops(v);
    }
    format!("{} and {} more", ops(&v[..CELL_OPS]), v.len() - CELL_OPS)
}

fn table(pair: &Pair<'_>, c: &Comparison, style: Style, w: &mut dyn Write) -> io::Result<()> {
    let tone_v = if c.problem.is_none() && c.placement_matches() {
        Tone::Good
    } else {
        Tone::Bad
    };
    writeln!(w, "{}", style.paint(&verdict(pair, c), tone_v))?;
    let mut t = style.table();
    t.set_header(vec!["", "model"]);
    t.add_row(vec![
        "PTQ".to_owned(),
        format!("{}: {}", pair.ptq_label, role(c.roles.0)),
    ]);
    t.add_row(vec![
        "QAT".to_owned(),
        format!("{}: {}", pair.qat_label, role(c.roles.1)),
    ]);
    for a in &c.alignment {
        t.add_row(vec!["alignment".to_owned(), alignment_line(a)]);
    }
    writeln!(w, "{t}")?;
    if c.findings.is_empty() {
        return Ok(());
    }
    let mut t = style.table();
    t.set_header(vec![
        "finding",
        "QAT ops",
        "PTQ ops",
        "layer",
        "message / suggestion",
    ]);
    for f in &c.findings {
        let mut text = message(f);
        if f.places.len() > 1 {
            text += &format!("\nplaces: {}", places(f, CELL_OPS));
        }
        text += &format!("\n→ {}", suggestion(f));
        t.add_row(vec![
            style.cell(
                format!("{}\n{}", f.kind.name(), f.severity.name()),
                Some(tone(f.kind)),
            ),
            style.cell(cell_ops(&f.qat_ops), None),
            style.cell(cell_ops(&f.ptq_ops), None),
            style.cell(f.layer.clone().unwrap_or_else(|| "-".into()), None),
            style.cell(text, None),
        ]);
    }
    writeln!(w, "{t}")?;
    writeln!(w, "{}", style.paint(&verdict(pair, c), tone_v))
}

fn markdown(
    pair: &Pair<'_>,
    c: &Comparison,
    diagrams: Option<&[Where]>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let esc = |s: &str| s.replace('|', "\\|");
    writeln!(w, "### tflq compare")?;
    writeln!(w)?;
    writeln!(w, "**{}**", verdict(pair, c))?;
    writeln!(w)?;
    writeln!(w, "- PTQ: `{}`: {}", pair.ptq_label, role(c.roles.0))?;
    writeln!(w, "- QAT: `{}`: {}", pair.qat_label, role(c.roles.1))?;
    if !c.findings.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "| finding | severity | QAT ops | PTQ ops | layer | message | suggestion |"
        )?;
        writeln!(w, "|---|---|---|---|---|---|---|")?;
        for f in &c.findings {
            let mut m = message(f);
            if f.places.len() > 1 {
                m += &format!(" (places: {})", places(f, usize::MAX));
            }
            writeln!(
                w,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                f.kind.name(),
                f.severity.name(),
                ops(&f.qat_ops),
                ops(&f.ptq_ops),
                f.layer
                    .as_deref()
                    .map_or("-".to_owned(), |l| format!("`{}`", esc(l))),
                esc(&m),
                esc(&suggestion(f))
            )?;
        }
    }
    if let Some(d) = diagrams {
        neighbourhoods(c, d, w)?;
    }
    writeln!(w)?;
    writeln!(w, "<details><summary>alignment</summary>")?;
    writeln!(w)?;
    for a in &c.alignment {
        writeln!(w, "- {}", alignment_line(a))?;
    }
    writeln!(w)?;
    writeln!(w, "</details>")
}

/// For each placement finding, a Mermaid diagram of where it is (GitHub
/// draws ```mermaid blocks in comments and pull requests).
fn neighbourhoods(c: &Comparison, diagrams: &[Where], w: &mut dyn Write) -> io::Result<()> {
    if !c.findings.iter().any(|f| f.kind.is_placement()) {
        return Ok(());
    }
    writeln!(w)?;
    writeln!(w, "#### Where")?;
    writeln!(w)?;
    writeln!(
        w,
        "Each placement finding in the QAT graph, beside the PTQ ops aligned with it; the finding's ops have a red border."
    )?;
    for (f, diagram) in c.findings.iter().zip(diagrams) {
        if !f.kind.is_placement() || *diagram == Where::Skip {
            continue;
        }
        let layer = f
            .layer
            .as_deref()
            .map_or(String::new(), |l| format!(" `{}`", l.replace('`', "'")));
        writeln!(w)?;
        writeln!(
            w,
            "**`{}`{layer}**, QAT {} (subgraph {}):",
            f.kind.name(),
            ops(&f.qat_ops),
            f.subgraph
        )?;
        writeln!(w)?;
        match diagram {
            Where::Mermaid(text) => {
                writeln!(w, "```mermaid")?;
                w.write_all(text.as_bytes())?;
                writeln!(w, "```")?;
            }
            Where::TooLarge | Where::Skip => writeln!(
                w,
                "(too many ops around it for a diagram: `tflq graph PTQ QAT --around {}` draws it)",
                f.qat_ops.first().map_or(String::new(), |o| o.to_string())
            )?,
        }
    }
    Ok(())
}

/// The JSON document, with this renderer's words.
fn json<'a>(pair: &'a Pair<'a>, c: &'a Comparison) -> super::json::compare::CompareDoc<'a> {
    let words = super::json::compare::CompareWords {
        verdict: verdict(pair, c),
        problem: c.problem.as_ref().map(|p| problem(pair, p)),
        findings: c
            .findings
            .iter()
            .map(|f| (message(f), suggestion(f)))
            .collect(),
    };
    super::json::compare::document((pair.ptq_label, pair.qat_label), c, words)
}
