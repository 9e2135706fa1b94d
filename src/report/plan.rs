//! Rendering of `tflq plan`: per layer, what PTQ does with it and the tfmot
//! annotation that reproduces it, as a table, text, JSON, or a Python module
//! that applies it.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use super::{Format, JSON_SCHEMA_VERSION, Style, Tone, scale};
use crate::advice::{Action, LayerPlan, Plan, Reason};
use crate::model::{Granularity, OpKind};
use crate::producer::Vocabulary;

/// The formats a plan renders to.
pub const FORMATS: [Format; 4] = [Format::Table, Format::Text, Format::Json, Format::Python];

/// Render a plan. `file` labels the PTQ model.
pub fn render(
    plan: &Plan,
    file: &str,
    format: Format,
    style: Style,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Table => table(plan, file, style, w),
        Format::Text => text(plan, file, w),
        Format::Json => super::json::write_pretty(w, &json(plan, file)),
        Format::Python => {
            if plan.producer.vocabulary() != Vocabulary::Tfmot
                && plan.producer != crate::producer::Producer::Unknown
            {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "the plan as tfmot code is for Keras models, and {file} comes from {}: \
                         read the plan with --format text (which layers PTQ quantizes, and how)",
                        plan.producer
                    ),
                ));
            }
            w.write_all(python(plan, file).as_bytes())
        }
        Format::Markdown | Format::ModelExplorer => Err(super::unsupported("plan", format)),
    }
}

fn label(l: &LayerPlan) -> String {
    match &l.layer {
        Some(name) => name.clone(),
        None => format!("(op #{})", l.ops.first().map_or(0, |o| o.0)),
    }
}

/// Why, in words.
pub fn reason(r: &Reason) -> String {
    match r {
        Reason::FloatInPtq => "PTQ computes it in float".into(),
        Reason::RegistryMatches => "tfmot's default registry gives PTQ's placement".into(),
        Reason::NotInRegistry => "tfmot's default registry does not quantize it as PTQ does".into(),
        Reason::RegistryAddsRequantize => {
            "the registry would quantize its output, a requantize PTQ does not have".into()
        }
        Reason::KeepsInputScale => "PTQ keeps its input's scale on its output".into(),
        Reason::FixedOutput => "the kernel fixes its output scale".into(),
        Reason::JoinsSharedScale { carrier } => match carrier {
            Some(c) => format!("its output shares one scale with other tensors; '{c}' carries it"),
            None => "its output shares one scale with other tensors".into(),
        },
        Reason::CarriesSharedScale => {
            "it carries the one quantizer of a scale its inputs share".into()
        }
        Reason::InnerScales { ops } => format!(
            "{ops} of its ops have their own integer scale; one QuantizeConfig gives a layer one output quantizer"
        ),
        Reason::SeveralOutputs { outputs } => format!(
            "it returns {outputs} integer tensors with their own scales; tfmot quantizes one output per layer"
        ),
        Reason::TfOpLambda => "a TFOpLambda: tfmot cannot wrap it".into(),
        Reason::FusedInto { layer } => {
            format!(
                "PTQ fuses it into one op with '{layer}', whose quantizer gives that op's output"
            )
        }
        Reason::KeptFloatByMeasure => {
            "tflq measure keeps it in float: its local error is among the model's largest".into()
        }
    }
}

/// Unsupported entries whose integer tensors the converter can calibrate
/// when the QAT model is converted with a representative dataset.
fn calibrates(l: &LayerPlan) -> bool {
    l.action == Action::Unsupported
        && l.reasons
            .iter()
            .any(|r| matches!(r, Reason::InnerScales { .. } | Reason::TfOpLambda))
}

fn workaround(l: &LayerPlan) -> Option<&'static str> {
    if l.action != Action::Unsupported {
        return None;
    }
    Some(
        if l.reasons
            .iter()
            .any(|r| matches!(r, Reason::SeveralOutputs { .. }))
        {
            "split the layer into one layer per output, or move it out of the model"
        } else if l.reasons.iter().any(|r| matches!(r, Reason::TfOpLambda)) {
            "convert the QAT model with a representative dataset as well, so the converter calibrates this op's output; or replace the TF op with a Keras layer tfmot can quantize"
        } else {
            "convert the QAT model with a representative dataset as well, so the converter calibrates the inner tensors; or split the layer into layers tfmot can quantize one by one, or do this step outside the model"
        },
    )
}

fn facts(l: &LayerPlan) -> String {
    let mut v = Vec::new();
    if let Some(w) = &l.facts.weights {
        let g = match w.granularity {
            Granularity::PerAxis { axis, .. } => format!("per-axis({axis})"),
            Granularity::PerTensor => "per-tensor".into(),
            other => format!("{other:?}").to_lowercase(),
        };
        v.push(format!(
            "weights {} {g} {}",
            w.dtype,
            if w.symmetric {
                "symmetric"
            } else {
                "asymmetric"
            }
        ));
    }
    if let Some(d) = l.facts.output_dtype {
        v.push(format!("out {d}"));
    }
    if let Some((s, zp)) = l.facts.fixed_output {
        v.push(format!("fixed s={} zp={zp}", scale(s)));
    }
    if !l.facts.shares_scale_with.is_empty() {
        let more = l
            .facts
            .shares_scale_count
            .saturating_sub(l.facts.shares_scale_with.len());
        v.push(format!(
            "scale shared with {}{}",
            l.facts.shares_scale_with.join(","),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if l.facts.outputs.len() > 1 {
        let q = l.facts.outputs.iter().filter(|b| **b).count();
        v.push(format!("{} outputs, {q} integer", l.facts.outputs.len()));
    }
    v.join("; ")
}

fn ops(l: &LayerPlan) -> String {
    l.ops
        .iter()
        .zip(&l.op_kinds)
        .map(|(o, k)| format!("#{o} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn headline(plan: &Plan, file: &str) -> String {
    let counts: Vec<String> = Action::ALL
        .iter()
        .filter(|a| plan.count(**a) > 0)
        .map(|a| format!("{} {}", plan.count(*a), a.name()))
        .collect();
    let mut s = format!(
        "plan for {file} ({}, {}): {} entries: {}",
        plan.producer,
        plan.scheme,
        plan.layers.len(),
        counts.join(", ")
    );
    if plan.producer.vocabulary() != Vocabulary::Tfmot {
        s += "\nThe actions are tfmot's; for this producer read them as which layers PTQ quantizes \
              with a scale of their own (output), shares a scale across (no-quantizer, weights-only) \
              or keeps in float.";
    }
    s
}

fn text(plan: &Plan, file: &str, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "tflq plan, text format 1")?;
    writeln!(w, "{}", headline(plan, file))?;
    for l in &plan.layers {
        writeln!(
            w,
            "\nlayer {} action={} subgraph={} ops={}",
            label(l),
            l.action,
            l.subgraph,
            ops(l)
        )?;
        if !l.folded.is_empty() {
            writeln!(w, "  folded: {}", l.folded.join(", "))?;
        }
        let f = facts(l);
        if !f.is_empty() {
            writeln!(w, "  facts: {f}")?;
        }
        for r in &l.reasons {
            writeln!(w, "  why: {}", reason(r))?;
        }
        if let Some(wa) = workaround(l) {
            writeln!(w, "  workaround: {wa}")?;
        }
    }
    Ok(())
}

fn tone(a: Action) -> Tone {
    match a {
        Action::Default => Tone::Good,
        Action::Float => Tone::Dim,
        Action::Unsupported => Tone::Bad,
        _ => Tone::Warn,
    }
}

fn table(plan: &Plan, file: &str, style: Style, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "{}", headline(plan, file))?;
    let mut t = style.table();
    t.set_header(vec!["layer", "action", "ops", "facts / why"]);
    for l in &plan.layers {
        let mut why: Vec<String> = l.reasons.iter().map(reason).collect();
        if !l.folded.is_empty() {
            why.insert(0, format!("folds {}", l.folded.join(", ")));
        }
        let f = facts(l);
        if !f.is_empty() {
            why.insert(0, f);
        }
        if let Some(wa) = workaround(l) {
            why.push(format!("workaround: {wa}"));
        }
        t.add_row(vec![
            style.cell(label(l), None),
            style.cell(l.action.name(), Some(tone(l.action))),
            style.cell(ops(l), None),
            style.cell(why.join("\n"), None),
        ]);
    }
    writeln!(w, "{t}")
}

// ---- JSON ------------------------------------------------------------------

#[derive(Serialize)]
struct JsonDoc<'a> {
    schema_version: u32,
    tool: &'static str,
    file: &'a str,
    producer: &'static str,
    scheme: super::json::JsonSchemeKind,
    layers: Vec<JsonLayer>,
}

#[derive(Serialize)]
struct JsonLayer {
    layer: Option<String>,
    action: &'static str,
    subgraph: u32,
    ops: Vec<u32>,
    opcodes: Vec<String>,
    folded: Vec<String>,
    reasons: Vec<JsonReason>,
    workaround: Option<&'static str>,
    facts: JsonFacts,
}

#[derive(Serialize)]
pub(crate) struct JsonReason {
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    text: String,
}

#[derive(Serialize)]
struct JsonFacts {
    compute: &'static str,
    weights: Option<JsonWeights>,
    output_dtype: Option<String>,
    fixed_output: Option<JsonParams>,
    shares_scale_with: Vec<String>,
    shares_scale_count: usize,
    outputs_integer: Vec<bool>,
}

#[derive(Serialize)]
struct JsonWeights {
    dtype: String,
    granularity: &'static str,
    axis: Option<i32>,
    symmetric: bool,
}

#[derive(Serialize)]
struct JsonParams {
    scale: f32,
    zero_point: i64,
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
        Reason::FusedInto { layer } => ("fused-into", Some(layer.clone()), None),
        Reason::KeptFloatByMeasure => ("kept-float-by-measure", None, None),
    }
}

pub(crate) fn json_reason(r: &Reason) -> JsonReason {
    let (id, carrier, count) = reason_id(r);
    JsonReason {
        reason: id,
        carrier,
        count,
        text: reason(r),
    }
}

fn json<'a>(plan: &Plan, file: &'a str) -> JsonDoc<'a> {
    JsonDoc {
        schema_version: JSON_SCHEMA_VERSION,
        tool: concat!("tflq ", env!("CARGO_PKG_VERSION")),
        file,
        producer: plan.producer.name(),
        scheme: super::json::scheme_kind_object(plan.scheme, plan.qat),
        layers: plan
            .layers
            .iter()
            .map(|l| JsonLayer {
                layer: l.layer.clone(),
                action: l.action.name(),
                subgraph: l.subgraph.0,
                ops: l.ops.iter().map(|o| o.0).collect(),
                opcodes: l.op_kinds.iter().map(OpKind::to_string).collect(),
                folded: l.folded.clone(),
                reasons: l.reasons.iter().map(json_reason).collect(),
                workaround: workaround(l),
                facts: JsonFacts {
                    compute: l.facts.compute.name(),
                    weights: l.facts.weights.map(|w| JsonWeights {
                        dtype: w.dtype.to_string(),
                        granularity: match w.granularity {
                            Granularity::PerAxis { .. } => "per-axis",
                            Granularity::PerTensor => "per-tensor",
                            _ => "other",
                        },
                        axis: match w.granularity {
                            Granularity::PerAxis { axis, .. } => Some(axis),
                            _ => None,
                        },
                        symmetric: w.symmetric,
                    }),
                    output_dtype: l.facts.output_dtype.map(|d| d.to_string()),
                    fixed_output: l
                        .facts
                        .fixed_output
                        .map(|(scale, zero_point)| JsonParams { scale, zero_point }),
                    shares_scale_with: l.facts.shares_scale_with.clone(),
                    shares_scale_count: l.facts.shares_scale_count,
                    outputs_integer: l.facts.outputs.clone(),
                },
            })
            .collect(),
    }
}

// ---- Python ----------------------------------------------------------------

/// One QuantizeConfig the module defines: what it quantizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Need {
    /// The weight attribute to quantize (`kernel`, `depthwise_kernel`), if any.
    weights: Option<&'static str>,
    /// Per output channel.
    per_axis: bool,
    /// Quantize the output.
    output: bool,
}

impl Need {
    /// The class name, prefixed so it cannot clash with tfmot's own classes
    /// (tfmot has a quantizer called `NoQuantizer`) in quantize_scope.
    fn class_name(self) -> String {
        let mut s = String::from("Tflq");
        match self.weights {
            Some("depthwise_kernel") => s.push_str("DepthwiseKernel"),
            Some(_) => s.push_str("Kernel"),
            None => {}
        }
        if self.weights.is_some() {
            s.push_str(if self.per_axis {
                "PerAxis"
            } else {
                "PerTensor"
            });
        }
        s.push_str(match (self.weights.is_some(), self.output) {
            (_, true) => "Output",
            (true, false) => "Only",
            (false, false) => "NoQuantizer",
        });
        s
    }

    fn doc(self) -> &'static str {
        match (self.weights.is_some(), self.output) {
            (false, true) => {
                "PTQ gives the output an 8-bit scale of its own, which tfmot's registry does not."
            }
            (true, true) => {
                "Weights as PTQ quantizes them and an 8-bit output scale of the layer's own."
            }
            (true, false) => {
                "Weights as PTQ quantizes them; no output quantizer: the output shares a scale another layer's quantizer decides."
            }
            (false, false) => {
                "No quantizer: PTQ keeps the input's scale (or a fixed one) on the output, so QAT must not requantize."
            }
        }
    }
}

const NO_QUANTIZER: Need = Need {
    weights: None,
    per_axis: false,
    output: false,
};

fn need(l: &LayerPlan) -> Option<Need> {
    let weights = l.op_kinds.iter().find_map(|k| {
        let r = crate::rules::rule(k);
        r.weights?;
        Some(if k.is(crate::model::BuiltinCode::DEPTHWISE_CONV_2D) {
            "depthwise_kernel"
        } else {
            "kernel"
        })
    });
    let per_axis = l
        .facts
        .weights
        .is_some_and(|w| matches!(w.granularity, Granularity::PerAxis { .. }));
    let with_weights = |output| Need {
        weights: l.facts.weights.and(weights),
        per_axis,
        output,
    };
    match l.action {
        Action::Default | Action::Float | Action::Unsupported => None,
        Action::Output => Some(with_weights(true)),
        Action::WeightsOnly => Some(with_weights(false)),
        Action::NoQuantizer => Some(NO_QUANTIZER),
    }
}

/// For a `default` entry: the config PTQ's facts call for when the model's
/// layer turns out not to be in tfmot's registry (a TFOpLambda where the op
/// usually comes from a registry layer).
fn fallback_need(l: &LayerPlan) -> Option<Need> {
    if l.action != Action::Default || l.layer.is_none() {
        return None;
    }
    let keeps = l
        .reasons
        .iter()
        .any(|r| matches!(r, Reason::KeepsInputScale | Reason::FixedOutput));
    if keeps {
        return Some(NO_QUANTIZER);
    }
    let as_output = LayerPlan {
        action: Action::Output,
        ..l.clone()
    };
    need(&as_output)
}

fn py_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A self-contained Python module applying the plan with tfmot.
pub fn python(plan: &Plan, file: &str) -> String {
    let mut needs: Vec<Need> = plan
        .layers
        .iter()
        .flat_map(|l| [need(l), fallback_need(l)])
        .flatten()
        .collect();
    // Layers folded into one with a config of its own get no quantizer.
    if plan
        .layers
        .iter()
        .any(|l| !l.folded.is_empty() && need(l).is_some())
    {
        needs.push(NO_QUANTIZER);
    }
    needs.sort();
    needs.dedup();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\"\"\"QAT annotation that reproduces the PTQ placement of {}.

Written by tflq {} (`tflq plan --format python`). Use it as:

    import plan
    qat_model = plan.quantize_model(float_model)   # then compile, fine-tune, convert

`annotate(model)` returns the annotated clone without applying it, and SCOPE
holds the QuantizeConfig classes for tfmot.quantization.keras.quantize_scope
(needed to load a saved QAT model). When CALIBRATE is not empty, convert the
QAT model with a representative dataset too: those layers' tensors get no
range from QAT.
\"\"\"",
        comment(file),
        env!("CARGO_PKG_VERSION")
    );
    s.push_str(
        "
import contextlib
import warnings

import tensorflow as tf  # noqa: F401  (tfmot needs TensorFlow imported first)
import tf_keras as keras
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_registry,
)

_qk = tfmot.quantization.keras
_REGISTRY = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
",
    );
    if !needs.is_empty() {
        s.push_str(
            "

class _PlanConfig(_qk.QuantizeConfig):
    \"\"\"Quantizes WEIGHTS (symmetric 8-bit, per output channel if PER_AXIS) and,
    if OUTPUT, the output (asymmetric 8-bit moving average), as PTQ does.\"\"\"

    WEIGHTS = ()
    PER_AXIS = False
    OUTPUT = False

    def _weights(self, layer):
        return [w for w in self.WEIGHTS if hasattr(layer, w)]

    def get_weights_and_quantizers(self, layer):
        return [
            (getattr(layer, w), _qk.quantizers.LastValueQuantizer(
                num_bits=8, per_axis=self.PER_AXIS, symmetric=True, narrow_range=True))
            for w in self._weights(layer)
        ]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        for name, value in zip(self._weights(layer), quantize_weights):
            setattr(layer, name, value)

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        if not self.OUTPUT:
            return []
        return [_qk.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self):
        return {}
",
        );
        for n in &needs {
            let _ = write!(
                s,
                "

class {}(_PlanConfig):
    \"\"\"{}\"\"\"
",
                n.class_name(),
                n.doc()
            );
            if let Some(w) = n.weights {
                let _ = writeln!(s, "    WEIGHTS = ({},)", py_str(w));
                if n.per_axis {
                    s.push_str("    PER_AXIS = True\n");
                }
            }
            if n.output {
                s.push_str("    OUTPUT = True\n");
            }
        }
    }
    s.push_str("\n\nSCOPE = {");
    for (i, n) in needs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{}: {}", py_str(&n.class_name()), n.class_name());
    }
    s.push_str("}\n");

    s.push_str(
        "
# Layer name -> QuantizeConfig class, or None for tfmot's default registry.
PLAN = {
",
    );
    let mut named: Vec<&str> = Vec::new();
    for l in &plan.layers {
        let Some(name) = &l.layer else { continue };
        if named.contains(&name.as_str()) {
            continue;
        }
        let why = l.reasons.iter().map(reason).collect::<Vec<_>>().join("; ");
        // The entry's config, and what the layers folded into it get.
        let (config, folded_config, folded_why) = match (l.action, need(l)) {
            (Action::Default, _) => (
                "None".to_owned(),
                "None".to_owned(),
                "default: folded into {} by tfmot's transforms, as PTQ folds it",
            ),
            (_, Some(n)) => (
                n.class_name(),
                NO_QUANTIZER.class_name(),
                "folded into {}: its quantizer decides",
            ),
            _ => continue,
        };
        named.push(name);
        let _ = writeln!(
            s,
            "    {}: {config},  # {}: {}",
            py_str(name),
            l.action,
            comment(&why)
        );
        for f in &l.folded {
            if named.contains(&f.as_str()) {
                continue;
            }
            named.push(f);
            let _ = writeln!(
                s,
                "    {}: {folded_config},  # {}",
                py_str(f),
                folded_why.replace("{}", name)
            );
        }
    }
    s.push_str("}\n");
    s.push_str(
        "\n# For `None` entries whose layer tfmot's registry does not know (a TFOpLambda\n\
         # where the op usually comes from a registry layer): the config PTQ's facts call for.\n\
         FALLBACK = {\n",
    );
    let mut seen: Vec<&str> = Vec::new();
    for l in &plan.layers {
        if let (Some(name), Some(n)) = (&l.layer, fallback_need(l))
            && !seen.contains(&name.as_str())
        {
            seen.push(name);
            let _ = writeln!(s, "    {}: {},", py_str(name), n.class_name());
        }
    }
    s.push_str("}\n");
    let measured = plan
        .layers
        .iter()
        .any(|l| l.reasons.contains(&Reason::KeptFloatByMeasure));
    s.push_str(if measured {
        "\n# Left unannotated, in float: PTQ computes them in float, or tflq measure keeps them there.\nFLOAT = ["
    } else {
        "\n# PTQ keeps these in float: left unannotated.\nFLOAT = ["
    });
    let float: Vec<String> = plan
        .layers
        .iter()
        .filter(|l| l.action == Action::Float)
        .filter_map(|l| l.layer.as_deref().map(py_str))
        .collect();
    s.push_str(&float.join(", "));
    s.push_str("]\n\n# No tfmot annotation reproduces PTQ here: left unannotated (see why).\nUNSUPPORTED = {\n");
    for l in plan
        .layers
        .iter()
        .filter(|l| l.action == Action::Unsupported)
    {
        if let Some(name) = &l.layer {
            let why = l.reasons.iter().map(reason).collect::<Vec<_>>().join("; ");
            let _ = writeln!(
                s,
                "    {}: {},",
                py_str(name),
                py_str(&format!(
                    "{why}; workaround: {}",
                    workaround(l).unwrap_or("")
                ))
            );
        }
    }
    s.push_str("}\n");
    s.push_str(
        "\n# Layers whose integer tensors QAT cannot give a range: convert the QAT model\n\
         # with a representative dataset as well (converter.representative_dataset), and\n\
         # the converter calibrates exactly those, keeping the trained ranges.\n\
         CALIBRATE = [",
    );
    let calibrate: Vec<String> = plan
        .layers
        .iter()
        .filter(|l| calibrates(l))
        .filter_map(|l| l.layer.as_deref().map(py_str))
        .collect();
    s.push_str(&calibrate.join(", "));
    s.push_str("]\n");
    s.push_str(
        r#"

def annotate(model):
    """A clone of `model` (sharing its weights) with each layer annotated as
    PLAN says. Layers the PTQ file does not name get tfmot's default when its
    registry supports them and are left alone otherwise."""
    names = {layer.name for layer in model.layers}
    left_alone = []

    def fresh(layer):
        return layer.__class__.from_config(layer.get_config())

    def clone(layer):
        # TFOpLambda layers cannot be wrapped; input layers need no quantizer.
        if isinstance(layer, keras.layers.InputLayer) or type(layer).__name__ == "TFOpLambda":
            return fresh(layer)
        if layer.name in PLAN:
            config = PLAN[layer.name]
            if config is None and not _REGISTRY.supports(layer):
                config = FALLBACK.get(layer.name)
            return _qk.quantize_annotate_layer(
                fresh(layer), quantize_config=config() if config else None)
        if layer.name in FLOAT or layer.name in UNSUPPORTED:
            return fresh(layer)
        if _REGISTRY.supports(layer):
            return _qk.quantize_annotate_layer(fresh(layer))
        left_alone.append(layer.name)
        return fresh(layer)

    with _custom_objects(model):
        annotated = keras.models.clone_model(model, clone_function=clone)
    annotated.set_weights(model.get_weights())
    missing = sorted(set(PLAN) - names)
    if missing or left_alone:
        warnings.warn(
            "tflq plan: layers of the plan not in the model: %s; model layers left "
            "unannotated: %s" % (", ".join(missing) or "none", ", ".join(left_alone) or "none"))
    return annotated


def _custom_objects(model):
    """A scope that knows the model's own layer classes (quantize_apply rebuilds
    every layer from its config) and, when the model holds Lambda layers, lets
    tf_keras rebuild their Python functions: the model is the caller's own,
    already in memory."""
    classes = {type(layer).__name__: type(layer) for layer in model.layers}
    scope = contextlib.ExitStack()
    scope.enter_context(keras.utils.custom_object_scope(classes))
    if any(isinstance(layer, keras.layers.Lambda) for layer in model.layers):
        from tf_keras.src.saving import serialization_lib

        scope.enter_context(serialization_lib.SafeModeScope(False))
    return scope


def quantize_model(model):
    """What tfmot.quantization.keras.quantize_model returns, following the plan."""
    with _custom_objects(model), _qk.quantize_scope(SCOPE):
        return _qk.quantize_apply(annotate(model))
"#,
    );
    s
}
