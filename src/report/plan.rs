//! Rendering of `tflq plan`: per layer, what PTQ does with it and the tfmot
//! annotation that reproduces it, as a table, text, JSON, or a Python module
//! that applies it.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Format, Style, Tone, reason, scale};
use crate::advice::{Action, LayerPlan, Plan, QatConfig};
use crate::model::Granularity;
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
        Format::Json => super::json::emit(w, &super::json::plan::document(plan, file)),
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

pub use super::workaround_text;

fn workaround(l: &LayerPlan) -> Option<&'static str> {
    l.workaround.map(workaround_text)
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

// ---- Python ----------------------------------------------------------------

/// The generated module: Python source with `{{NAME}}` slots this renderer
/// fills with the plan's data.
const MODULE_TEMPLATE: &str = include_str!("plan_module.py");

/// The class name of a config, prefixed so it cannot clash with tfmot's own
/// classes (tfmot has a quantizer called `NoQuantizer`) in quantize_scope.
fn class_name(c: QatConfig) -> String {
    let mut s = String::from("Tflq");
    match c.weights {
        Some(crate::rules::tfmot::DEPTHWISE_KERNEL) => s.push_str("DepthwiseKernel"),
        Some(_) => s.push_str("Kernel"),
        None => {}
    }
    if c.weights.is_some() {
        s.push_str(if c.per_axis { "PerAxis" } else { "PerTensor" });
    }
    s.push_str(match (c.weights.is_some(), c.output) {
        (_, true) => "Output",
        (true, false) => "Only",
        (false, false) => "NoQuantizer",
    });
    s
}

fn class_doc(c: QatConfig) -> &'static str {
    match (c.weights.is_some(), c.output) {
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

fn py_tuple(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| py_str(i)).collect();
    match quoted.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", quoted.join(", ")),
    }
}

fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn why(l: &LayerPlan) -> String {
    l.reasons.iter().map(reason).collect::<Vec<_>>().join("; ")
}

/// The config classes a plan uses, sorted; the no-quantizer config is always
/// there (a BatchNormalization folded into a layer with a config of its own
/// gets it).
fn config_classes(plan: &Plan) -> Vec<QatConfig> {
    let mut configs: Vec<QatConfig> = plan
        .layers
        .iter()
        .flat_map(|l| [l.config, l.fallback])
        .flatten()
        .chain([QatConfig::NO_QUANTIZER])
        .collect();
    configs.sort();
    configs.dedup();
    configs
}

/// The `PLAN` and `FOLDED` entries: each named layer once, with its config
/// and why, and the layers folded into it after it, as
/// [`LayerPlan::folded_decision`] decides them (float and unsupported
/// layers are in `FLOAT` and `UNSUPPORTED` instead).
fn plan_entries(plan: &Plan) -> (String, String) {
    let (mut entries, mut folded) = (String::new(), String::new());
    let mut named: std::collections::HashSet<&str> = Default::default();
    for l in &plan.layers {
        let Some(name) = &l.layer else { continue };
        if named.contains(name.as_str()) {
            continue;
        }
        let config = match (l.action, l.config) {
            (Action::Default, _) => Some("None".to_owned()),
            (_, Some(c)) => Some(class_name(c)),
            _ => None,
        };
        if let Some(config) = config {
            named.insert(name);
            let _ = writeln!(
                entries,
                "    {}: {config},  # {}: {}",
                py_str(name),
                l.action,
                comment(&why(l))
            );
        }
        for f in &l.folded {
            if named.contains(f.as_str()) {
                continue;
            }
            // Whether tfmot folds it into `name` (FOLDED), and why.
            let (config, folds, why) = match l.folded_decision(f) {
                (Action::Default, _) if l.action == Action::Default => (
                    "None".to_owned(),
                    true,
                    "default: folded into {} by tfmot's transforms, as PTQ folds it",
                ),
                (Action::Default, _) => (
                    "None".to_owned(),
                    false,
                    "default: fused into {}, which the converter calibrates; its output quantizer gives that op's output",
                ),
                (Action::NoQuantizer, Some(c)) => {
                    (class_name(c), true, "folded into {}: its quantizer decides")
                }
                _ => continue,
            };
            named.insert(f);
            let _ = writeln!(
                entries,
                "    {}: {config},  # {}",
                py_str(f),
                why.replace("{}", name)
            );
            if folds {
                let _ = writeln!(folded, "    {}: {},", py_str(f), py_str(name));
            }
        }
    }
    (entries, folded)
}

/// The `FLOAT` entries: the layers PTQ keeps in float, and those folded
/// into their ops, which [`LayerPlan::folded_decision`] keeps float too.
fn float_names(plan: &Plan) -> String {
    let mut seen: std::collections::HashSet<&str> = Default::default();
    let mut out: Vec<String> = Vec::new();
    for l in plan.layers.iter().filter(|l| l.action == Action::Float) {
        let Some(name) = l.layer.as_deref() else {
            continue;
        };
        let folded = l
            .folded
            .iter()
            .filter(|f| l.folded_decision(f).0 == Action::Float)
            .map(String::as_str);
        for n in std::iter::once(name).chain(folded) {
            if seen.insert(n) {
                out.push(py_str(n));
            }
        }
    }
    out.join(", ")
}

/// A self-contained Python module applying the plan with tfmot.
pub fn python(plan: &Plan, file: &str) -> String {
    let configs = config_classes(plan);
    let mut classes = String::new();
    for c in &configs {
        let _ = write!(
            classes,
            "\n\nclass {}(_PlanConfig):\n    \"\"\"{}\"\"\"\n",
            class_name(*c),
            class_doc(*c)
        );
        if let Some(w) = c.weights {
            let _ = writeln!(classes, "    WEIGHTS = ({},)", py_str(w));
            if c.per_axis {
                classes.push_str("    PER_AXIS = True\n");
            }
        }
        if c.output {
            classes.push_str("    OUTPUT = True\n");
        }
    }
    let _ = write!(
        classes,
        "\n\n_NO_QUANTIZER = {}\n",
        class_name(QatConfig::NO_QUANTIZER)
    );
    let scope = format!(
        "{{{}}}",
        configs
            .iter()
            .map(|c| format!("{}: {}", py_str(&class_name(*c)), class_name(*c)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (entries, folded) = plan_entries(plan);
    let mut fallback = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for l in &plan.layers {
        if let (Some(name), Some(c)) = (&l.layer, l.fallback)
            && !seen.contains(&name.as_str())
        {
            seen.push(name);
            let _ = writeln!(fallback, "    {}: {},", py_str(name), class_name(c));
        }
    }
    let names = |keep: fn(&LayerPlan) -> bool| {
        plan.layers
            .iter()
            .filter(|l| keep(l))
            .filter_map(|l| l.layer.as_deref().map(py_str))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut unsupported = String::new();
    for l in plan
        .layers
        .iter()
        .filter(|l| l.action == Action::Unsupported)
    {
        if let Some(name) = &l.layer {
            let text = format!(
                "{}; workaround: {}",
                why(l),
                l.workaround.map(workaround_text).unwrap_or("")
            );
            let _ = writeln!(unsupported, "    {}: {},", py_str(name), py_str(&text));
        }
    }
    let head = [
        ("{{FILE}}", comment(file)),
        ("{{VERSION}}", env!("CARGO_PKG_VERSION").to_owned()),
    ];
    let slots = [
        ("{{CONFIG_CLASSES}}", classes),
        ("{{SCOPE}}", scope),
        ("{{PLAN}}", entries),
        ("{{FOLDED}}", folded),
        ("{{FALLBACK}}", fallback),
        (
            "{{FLOAT_COMMENT}}",
            if plan
                .layers
                .iter()
                .any(|l| l.reasons.contains(&crate::advice::Reason::KeptFloatByMeasure))
            {
                "# Left unannotated, in float: PTQ computes them in float, or tflq measure keeps them there."
            } else {
                "# PTQ keeps these in float: left unannotated."
            }
            .to_owned(),
        ),
        ("{{FLOAT}}", float_names(plan)),
        ("{{UNSUPPORTED}}", unsupported),
        ("{{CALIBRATE}}", names(|l| l.calibrate)),
    ];
    head.into_iter()
        .chain(tfmot_slots())
        .chain(slots)
        .fold(MODULE_TEMPLATE.to_owned(), |text, (slot, value)| {
            text.replace(slot, &value)
        })
}

/// The slots of what tfmot does with Keras layers and its quantizers'
/// parameters (`rules::tfmot`), in Python.
fn tfmot_slots() -> Vec<(&'static str, String)> {
    use crate::rules::tfmot::{self, Quantizer};
    let py_bool = |b: bool| if b { "True" } else { "False" }.to_owned();
    let quantizer = |[class, bits, symmetric, narrow]: [&'static str; 4], q: Quantizer| {
        [
            (class, q.class.to_owned()),
            (bits, q.num_bits.to_string()),
            (symmetric, py_bool(q.symmetric)),
            (narrow, py_bool(q.narrow_range)),
        ]
    };
    let mut slots = vec![
        ("{{PER_AXIS_CLASSES}}", py_tuple(&tfmot::PER_AXIS_CLASSES)),
        ("{{BN_FOLDS_INTO}}", py_tuple(&tfmot::BN_FOLDS_INTO)),
        (
            "{{TRANSFORMED_CLASSES}}",
            py_tuple(&tfmot::TRANSFORMED_CLASSES),
        ),
        ("{{LAYER_ACTIVATIONS}}", py_tuple(&tfmot::LAYER_ACTIVATIONS)),
        ("{{ACTIVATION_LAYER}}", py_tuple(&tfmot::ACTIVATION_LAYER)),
        (
            "{{BATCH_NORM_CLASSES}}",
            py_tuple(&tfmot::BATCH_NORM_CLASSES),
        ),
        ("{{KERNEL}}", py_str(tfmot::KERNEL)),
    ];
    slots.extend(quantizer(
        [
            "{{WEIGHT_QUANTIZER}}",
            "{{WEIGHT_BITS}}",
            "{{WEIGHT_SYMMETRIC}}",
            "{{WEIGHT_NARROW_RANGE}}",
        ],
        tfmot::WEIGHT_QUANTIZER,
    ));
    slots.extend(quantizer(
        [
            "{{OUTPUT_QUANTIZER}}",
            "{{OUTPUT_BITS}}",
            "{{OUTPUT_SYMMETRIC}}",
            "{{OUTPUT_NARROW_RANGE}}",
        ],
        tfmot::OUTPUT_QUANTIZER,
    ));
    slots
}
