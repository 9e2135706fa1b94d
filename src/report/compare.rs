//! Rendering of `tflq compare`: each finding with a message and a suggestion
//! in tfmot terms, and the alignment, as a table, text, JSON or markdown.

use std::io::{self, Write};

use serde::Serialize;

use super::{Format, JSON_SCHEMA_VERSION, Style, Tone, scale, scale_short};
use crate::compare::{
    Comparison, Detail, Evidence, Finding, Kind, Removal, Side, SubgraphAlignment,
};
use crate::model::{Granularity, Model, OpId, OpKind, Subgraph};

/// The two models being compared, with the labels to show for them.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    /// PTQ model.
    pub ptq: &'a Model<'a>,
    /// Its label (file path).
    pub ptq_label: &'a str,
    /// QAT model.
    pub qat: &'a Model<'a>,
    /// Its label.
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

/// [`ops`] for a table cell: at most [`super::CELL_OPS`] of them.
fn ops_short(v: &[OpId]) -> String {
    if v.is_empty() {
        return "-".to_owned();
    }
    super::op_list_short(v)
}

fn op_names(sg: &Subgraph, v: &[OpId]) -> String {
    v.iter()
        .map(|o| format!("{} #{o}", sg.op(*o).kind))
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
pub fn message(pair: &Pair<'_>, f: &Finding) -> String {
    let s = f.subgraph.index();
    let (qsg, psg) = (&pair.qat.subgraphs[s], pair.ptq.subgraphs.get(s));
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
        }) => {
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
                .as_ref()
                .map(|(o, k)| format!(" next to {k} #{o}{layer}"))
                .unwrap_or_else(|| layer.clone());
            format!(
                "QAT requantizes (QUANTIZE #{} int->int{params}){around}; PTQ keeps one scale here{}",
                f.qat_ops.first().map_or(0, |o| o.0),
                if f.ptq_ops.is_empty() {
                    String::new()
                } else {
                    format!(
                        " between {}",
                        psg.map_or(String::new(), |p| op_names(p, &f.ptq_ops))
                    )
                }
            )
        }
        Detail::Remove(Removal::RoundTrip) => format!(
            "QAT has a QUANTIZE/DEQUANTIZE round trip ({}){layer} that PTQ does not have",
            op_names(qsg, &f.qat_ops)
        ),
        Detail::Remove(Removal::Boundary { quantize }) => format!(
            "QAT has a {} ({}){layer} between ops that PTQ joins directly",
            if *quantize { "QUANTIZE" } else { "DEQUANTIZE" },
            op_names(qsg, &f.qat_ops)
        ),
        Detail::Add {
            op_kinds,
            layers,
            entries,
            exits,
            ptq_compute,
            ..
        } => {
            let mut m = format!(
                "QAT runs {} op(s) in float ({}{}) where PTQ runs them in {} ({})",
                f.qat_ops.len(),
                kinds(op_kinds),
                if layers.is_empty() {
                    String::new()
                } else {
                    format!("; layers {}", quoted(layers))
                },
                match ptq_compute {
                    crate::analysis::Compute::Int16 => "int16",
                    _ => "int8",
                },
                psg.map_or(String::new(), |p| op_names(p, &f.ptq_ops)),
            );
            if !entries.is_empty() {
                m += &format!("; entered through DEQUANTIZE {}", ops(entries));
            }
            if !exits.is_empty() {
                m += &format!(", left through QUANTIZE {}", ops(exits));
            }
            m
        }
        Detail::Range {
            qat_range,
            ptq_range,
            ratio,
            initial,
            ..
        } => {
            let r = |x: (f32, f32)| format!("[{}, {}]", short(x.0), short(x.1));
            if *initial {
                format!(
                    "QAT output range{layer} is {}, tfmot's initial [-6, 6]: the quantizer never trained (PTQ calibrated {})",
                    r(*qat_range),
                    r(*ptq_range)
                )
            } else {
                format!(
                    "QAT output range{layer} {} is {:.2}x the width of PTQ's calibrated {}",
                    r(*qat_range),
                    ratio,
                    r(*ptq_range)
                )
            }
        }
        Detail::Granularity { qat, ptq, .. } => {
            format!("weights{layer}: QAT {} , PTQ {}", gran(*qat), gran(*ptq)).replace(" ,", ",")
        }
        Detail::Fusion {
            separate_in,
            activation,
        } => match separate_in {
            Side::Qat => format!(
                "QAT keeps {activation} as its own op ({}){layer}; PTQ fuses it into {}",
                op_names(qsg, &f.qat_ops),
                psg.map_or(String::new(), |p| op_names(p, &f.ptq_ops))
            ),
            Side::Ptq => format!(
                "PTQ keeps {activation} as its own op ({}); QAT fuses it into {}{layer}",
                psg.map_or(String::new(), |p| op_names(p, &f.ptq_ops)),
                op_names(qsg, &f.qat_ops)
            ),
        },
        Detail::Structure {
            side,
            op_kinds,
            layers,
            batchnorm_unfolded,
        } => {
            let (who, other, sg, o) = match side {
                Side::Qat => ("QAT", "PTQ", Some(qsg), &f.qat_ops),
                Side::Ptq => ("PTQ", "QAT", psg, &f.ptq_ops),
            };
            let mut m = format!(
                "{who} has {} with no counterpart in {other} ({}{})",
                sg.map_or(String::new(), |sg| op_names(sg, o)),
                kinds(op_kinds),
                if layers.is_empty() {
                    String::new()
                } else {
                    format!("; layers {}", quoted(layers))
                }
            );
            if *batchnorm_unfolded {
                m += "; a BatchNorm left unfolded";
            }
            m
        }
        Detail::Io { ptq, qat } => {
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
    }
}

/// The suggestion, in tfmot terms.
pub fn suggestion(f: &Finding) -> String {
    let layer = f.layer.as_deref().unwrap_or("the layer");
    match &f.detail {
        Detail::Remove(Removal::Requantize {
            same_scale_op,
            producer_layer,
            consumer_layer,
            ..
        }) => match same_scale_op {
            Some((_, k)) => format!(
                "{k} is a same-scale op: its output inherits its input's scale, so no quantizer is needed on it. \
                 Give layer '{layer}' a QuantizeConfig with no output quantizer (get_output_quantizers returns [], like \
                 tfmot's NoOpQuantizeConfig)."
            ),
            None => format!(
                "Keep one quantizer between '{}' and '{}': drop the output quantizer of the first (a QuantizeConfig whose \
                 get_output_quantizers returns []) so the second's range is used, as PTQ does.",
                producer_layer.as_deref().unwrap_or("the producer"),
                consumer_layer.as_deref().unwrap_or("the consumer")
            ),
        },
        Detail::Remove(Removal::RoundTrip) => format!(
            "The fake-quant at '{layer}' quantizes a value that is consumed in float: remove it (a no-op QuantizeConfig \
             on '{layer}'), or annotate its consumer so the value stays integer."
        ),
        Detail::Remove(Removal::Boundary { .. }) => format!(
            "PTQ needs no quantizer between these ops: remove the extra fake-quant at '{layer}' with a QuantizeConfig \
             that returns no output quantizer."
        ),
        Detail::Add {
            layers,
            unsupported,
            batchnorm_unfolded,
            entries,
            exits,
            reads_graph_input,
            whole_model,
            ..
        } => {
            if *whole_model {
                return "The QAT model has no integer ops at all: quantize the Keras model with \
                        tfmot.quantization.keras.quantize_model (or quantize_annotate_model + quantize_apply), fine-tune, \
                        and convert with optimizations=[tf.lite.Optimize.DEFAULT] so the fake-quants become int8 ops."
                    .to_owned();
            }
            let mut s = Vec::new();
            let unsupported_names: std::collections::HashSet<&str> = unsupported.iter().map(|(u, _)| u.as_str()).collect();
            let supported: Vec<String> = layers.iter().filter(|l| !unsupported_names.contains(l.as_str())).cloned().collect();
            if layers.is_empty() && unsupported.is_empty() {
                s.push("Convert the QAT model with optimizations=[tf.lite.Optimize.DEFAULT] after tfmot.quantization.keras.quantize_model (or quantize_apply) so its fake-quants become int8 ops.".to_owned());
            }
            if !supported.is_empty() {
                s.push(format!(
                    "Annotate {} with tfmot.quantization.keras.quantize_annotate_layer before quantize_apply so they get the quantizers PTQ gives them.",
                    quoted(&supported)
                ));
            }
            if *batchnorm_unfolded {
                s.push("Annotate the Conv2D/Dense and its BatchNormalization together so tfmot's Conv+BN transform folds BN into the conv, as PTQ does.".to_owned());
            }
            for (l, k) in unsupported {
                s.push(format!(
                    "tfmot's default registry does not quantize '{l}' ({k}): annotate it with quantize_annotate_layer(layer, quantize_config=...) and a QuantizeConfig whose get_output_quantizers returns a MovingAverageQuantizer (inside tfmot.quantization.keras.quantize_scope)."
                ));
            }
            let input_side = if *reads_graph_input {
                "its input comes from the float model input with no quantize_layer in front (annotate the first layer so tfmot inserts one)"
            } else if !entries.is_empty() {
                "its input already has a range (the DEQUANTIZE in front of it)"
            } else {
                "its input comes from other float ops, which need quantizers too"
            };
            let output_side = if exits.is_empty() {
                "its output has no range: the annotated layer needs an output quantizer"
            } else {
                "its output already has a range (the QUANTIZE after it)"
            };
            s.push(format!("Quantizer sides: {input_side}; {output_side}."));
            s.join(" ")
        }
        Detail::Range { initial: true, .. } => format!(
            "The quantizer at '{layer}' kept its initial [-6, 6]: train longer with quantization enabled, check it is not frozen, or use a representative range."
        ),
        Detail::Range { .. } => format!(
            "Check '{layer}': the learned range differs a lot from calibration. Fine-tune longer or on data closer to the calibration set."
        ),
        Detail::Granularity { qat, .. } => {
            if matches!(qat, Granularity::PerTensor) {
                format!(
                    "Informational: tfmot quantizes Dense/Conv2DTranspose weights per-tensor, PTQ per-channel. For per-channel \
                     weights at '{layer}', use a QuantizeConfig with LastValueQuantizer(per_axis=True) on the kernel."
                )
            } else {
                format!("Informational: PTQ used per-tensor weights at '{layer}' (per-channel disabled in the converter).")
            }
        }
        Detail::Fusion { separate_in: Side::Qat, activation } => format!(
            "A fake-quant between the op and its {activation} blocks fusion. Follow the op with a keras ReLU layer or \
             Activation('relu') so tfmot's LayerReLUQuantize transform skips the op's own output quantizer, or remove \
             that quantizer with a QuantizeConfig."
        ),
        Detail::Fusion { separate_in: Side::Ptq, .. } => {
            "Informational: QAT fused an activation PTQ kept separate; placement on the QAT side is fine.".to_owned()
        }
        Detail::Structure {
            batchnorm_unfolded: true, ..
        } => "Annotate the conv and its BatchNormalization together so tfmot folds BN into the conv.".to_owned(),
        Detail::Structure { .. } => {
            "Check that both models come from the same Keras model; ops in one model only cannot be compared.".to_owned()
        }
        Detail::Io { .. } => {
            "Informational: convert both with the same inference_input_type / inference_output_type to compare I/O quantizers.".to_owned()
        }
    }
}

/// Render a comparison.
pub fn render(
    pair: &Pair<'_>,
    c: &Comparison,
    format: Format,
    style: Style,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, &json(pair, c)).map_err(io::Error::other)?;
            writeln!(w)
        }
        Format::Text => text(pair, c, style, w),
        Format::Table => table(pair, c, style, w),
        Format::Markdown => markdown(pair, c, w),
    }
}

fn verdict(c: &Comparison) -> String {
    let add = c.count(Kind::AddQuantizer);
    let remove = c.count(Kind::RemoveQuantizer);
    if !c.same_network()
        && let Some(a) = c.alignment.iter().find(|a| !a.compute.same_network())
    {
        return format!(
            "These do not look like two conversions of one network: in subgraph {}, only {} of {} PTQ and {} QAT compute ops align. Placement findings are not reliable.",
            a.qat, a.compute.matched, a.compute.ptq, a.compute.qat
        );
    }
    if c.placement_matches() {
        "QAT quantizer placement matches PTQ: nothing to add or remove.".to_owned()
    } else {
        format!(
            "QAT quantizer placement differs from PTQ: {remove} quantizer(s) to remove, {add} place(s) to add quantizers."
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
    writeln!(w, "tflq compare, text format 1")?;
    writeln!(w, "ptq: {} ({})", pair.ptq_label, c.ptq_scheme)?;
    writeln!(w, "qat: {} ({})", pair.qat_label, c.qat_scheme)?;
    writeln!(w, "verdict: {}", verdict(c))?;
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
            "\n{} subgraph={} qat_ops={} ptq_ops={} layer={}",
            style.paint(f.kind.name(), tone(f.kind)),
            f.subgraph,
            ops(&f.qat_ops),
            ops(&f.ptq_ops),
            f.layer.as_deref().unwrap_or("-")
        )?;
        writeln!(w, "  message: {}", message(pair, f))?;
        writeln!(w, "  suggestion: {}", suggestion(f))?;
    }
    Ok(())
}

fn table(pair: &Pair<'_>, c: &Comparison, style: Style, w: &mut dyn Write) -> io::Result<()> {
    let mut t = style.table();
    t.set_header(vec!["", "model"]);
    t.add_row(vec![
        "PTQ".to_owned(),
        format!("{} ({})", pair.ptq_label, c.ptq_scheme),
    ]);
    t.add_row(vec![
        "QAT".to_owned(),
        format!("{} ({})", pair.qat_label, c.qat_scheme),
    ]);
    for a in &c.alignment {
        t.add_row(vec!["alignment".to_owned(), alignment_line(a)]);
    }
    writeln!(w, "{t}")?;
    let tone_v = if c.placement_matches() {
        Tone::Good
    } else {
        Tone::Bad
    };
    writeln!(w, "{}", style.paint(&verdict(c), tone_v))?;
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
        t.add_row(vec![
            style.cell(f.kind.name(), Some(tone(f.kind))),
            style.cell(ops_short(&f.qat_ops), None),
            style.cell(ops_short(&f.ptq_ops), None),
            style.cell(f.layer.clone().unwrap_or_else(|| "-".into()), None),
            style.cell(format!("{}\n→ {}", message(pair, f), suggestion(f)), None),
        ]);
    }
    writeln!(w, "{t}")
}

fn markdown(pair: &Pair<'_>, c: &Comparison, w: &mut dyn Write) -> io::Result<()> {
    let esc = |s: &str| s.replace('|', "\\|");
    writeln!(w, "### tflq compare")?;
    writeln!(w)?;
    writeln!(w, "- PTQ: `{}` ({})", pair.ptq_label, c.ptq_scheme)?;
    writeln!(w, "- QAT: `{}` ({})", pair.qat_label, c.qat_scheme)?;
    writeln!(w)?;
    writeln!(w, "**{}**", verdict(c))?;
    if !c.findings.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "| finding | QAT ops | PTQ ops | layer | message | suggestion |"
        )?;
        writeln!(w, "|---|---|---|---|---|---|")?;
        for f in &c.findings {
            writeln!(
                w,
                "| `{}` | {} | {} | {} | {} | {} |",
                f.kind.name(),
                ops(&f.qat_ops),
                ops(&f.ptq_ops),
                f.layer
                    .as_deref()
                    .map_or("-".to_owned(), |l| format!("`{}`", esc(l))),
                esc(&message(pair, f)),
                esc(&suggestion(f))
            )?;
        }
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

#[derive(Serialize)]
struct JsonFinding<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    message: String,
    suggestion: String,
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    schema_version: u32,
    tool: &'static str,
    ptq: JsonModel<'a>,
    qat: JsonModel<'a>,
    placement_matches: bool,
    same_network: bool,
    verdict: String,
    findings: Vec<JsonFinding<'a>>,
    alignment: JsonAlignment<'a>,
}

#[derive(Serialize)]
struct JsonModel<'a> {
    file: &'a str,
    scheme: crate::analysis::SchemeKind,
}

#[derive(Serialize)]
struct JsonAlignment<'a> {
    subgraphs: &'a [SubgraphAlignment],
    unpaired_ptq_subgraphs: &'a [crate::model::SubgraphId],
    unpaired_qat_subgraphs: &'a [crate::model::SubgraphId],
}

fn json<'a>(pair: &'a Pair<'a>, c: &'a Comparison) -> JsonDoc<'a> {
    JsonDoc {
        schema_version: JSON_SCHEMA_VERSION,
        tool: concat!("tflq ", env!("CARGO_PKG_VERSION")),
        ptq: JsonModel {
            file: pair.ptq_label,
            scheme: c.ptq_scheme,
        },
        qat: JsonModel {
            file: pair.qat_label,
            scheme: c.qat_scheme,
        },
        placement_matches: c.placement_matches(),
        same_network: c.same_network(),
        verdict: verdict(c),
        findings: c
            .findings
            .iter()
            .map(|f| JsonFinding {
                finding: f,
                message: message(pair, f),
                suggestion: suggestion(f),
            })
            .collect(),
        alignment: JsonAlignment {
            subgraphs: &c.alignment,
            unpaired_ptq_subgraphs: &c.unpaired_subgraphs.0,
            unpaired_qat_subgraphs: &c.unpaired_subgraphs.1,
        },
    }
}
