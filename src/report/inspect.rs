//! Rendering of `tflq inspect`: summary, per-op view, tensors and findings as
//! a table, stable text or versioned JSON; how each op computes as Model
//! Explorer node data.

use std::io::{self, Write};

use super::{Format, Style, Tone, dims, op_list_short, quant_brief, scale, shape, thousands};
use crate::analysis::summary::{IoTensor, Summary};
use crate::analysis::{Compute, Evidence, Finding, FindingKind, Inspection};
use crate::model::{Model, OpId, Subgraph, SubgraphId, TensorId};

/// What part of the picture to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Section {
    /// Summary, operators and findings.
    #[default]
    All,
    /// Operators only.
    Ops,
    /// Tensors only.
    Tensors,
    /// Findings only.
    Findings,
}

/// Which subgraphs and sections to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    /// Only this subgraph (all when `None`).
    pub subgraph: Option<SubgraphId>,
    /// Which section.
    pub section: Section,
}

impl View {
    fn shows(&self, s: usize) -> bool {
        self.subgraph.is_none_or(|x| x.index() == s)
    }
}

/// The formats an inspection renders to.
pub const FORMATS: [Format; 4] = [
    Format::Table,
    Format::Text,
    Format::Json,
    Format::ModelExplorer,
];

/// Render an inspection. A format outside [`FORMATS`] is an error of kind
/// [`std::io::ErrorKind::Unsupported`], and so is Model Explorer node data
/// of the tensors or findings section: it colours ops.
pub fn render(
    model: &Model,
    insp: &Inspection,
    file: &str,
    format: Format,
    view: View,
    style: Style,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => super::json::emit(
            w,
            &super::json::inspect::document(model, insp, file, view.subgraph),
        ),
        Format::Text => text(model, insp, file, view, style, w),
        Format::Table => table(model, insp, file, view, style, w),
        Format::ModelExplorer => match view.section {
            Section::All | Section::Ops => {
                super::model_explorer::inspect(model, insp, view.subgraph).write(w)
            }
            Section::Tensors | Section::Findings => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "model-explorer output colours ops: it has no tensors or findings section",
            )),
        },
        Format::Markdown | Format::Python => Err(super::unsupported("inspect", format)),
    }
}

/// A subgraph name for a heading above a table: long names (some exporters
/// name the graph after the file) are cut so the heading fits the table.
fn short_name(name: &str) -> String {
    const MAX: usize = 40;
    if name.chars().count() <= MAX {
        return name.to_owned();
    }
    let mut s: String = name.chars().take(MAX - 1).collect();
    s.push('…');
    s
}

fn compute_tone(c: Compute) -> Option<Tone> {
    match c {
        Compute::Float | Compute::Hybrid => Some(Tone::Warn),
        Compute::Int8 | Compute::Int16 => Some(Tone::Good),
        Compute::Convert => None,
        Compute::Other => Some(Tone::Dim),
    }
}

fn finding_tone(k: &FindingKind) -> Tone {
    if k.is_spec_break() {
        Tone::Bad
    } else {
        Tone::Warn
    }
}

fn params(p: (f32, i64)) -> String {
    format!("(s={}, zp={})", scale(p.0), p.1)
}

fn op_list(ops: &[OpId]) -> String {
    ops.iter()
        .map(|o| format!("#{o}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// One sentence describing a finding.
pub(crate) fn describe(sg: &Subgraph, f: &Finding) -> String {
    describe_with(sg, f, op_list)
}

/// [`describe`] with op lists written by `op_list` (short ones in tables).
fn describe_with(sg: &Subgraph, f: &Finding, op_list: fn(&[OpId]) -> String) -> String {
    let t = |id: TensorId| format!("t{id} \"{}\"", sg.tensor(id).name);
    match &f.kind {
        FindingKind::QuantizeInput { to } => format!("QUANTIZE float -> {to} of a graph input"),
        FindingKind::Quantize { to } => {
            format!("QUANTIZE float -> {to}: float values re-enter the integer graph")
        }
        FindingKind::Requantize {
            from,
            to,
            scale_ratio,
        } => match (from, to, scale_ratio) {
            (Some(a), Some(b), Some(r)) => format!(
                "requantize {} -> {} (scale ratio {}): an extra rounding step the float graph does not have",
                params(*a),
                params(*b),
                scale(*r)
            ),
            _ => "requantize between per-axis parameters".to_owned(),
        },
        FindingKind::TypeConversion { from, to } => {
            format!("QUANTIZE {from} -> {to} (type conversion, usually at the model I/O)")
        }
        FindingKind::DequantizeOutput { from } => {
            format!("DEQUANTIZE {from} -> float of a graph output")
        }
        FindingKind::Dequantize { from } => {
            format!("DEQUANTIZE {from} -> float: the graph leaves integer here")
        }
        FindingKind::ConstantDequantize { from, tensor } => {
            format!(
                "DEQUANTIZE of constant {} ({from}): weights stored reduced, computed in float",
                t(*tensor)
            )
        }
        FindingKind::FloatIsland {
            entries,
            exits,
            from_graph_input,
            to_graph_output,
        } => {
            let mut s = format!("float island of {} op(s) {}", f.ops.len(), op_list(&f.ops));
            if !entries.is_empty() {
                s += &format!(", entered by DEQUANTIZE {}", op_list(entries));
            }
            if *from_graph_input {
                s += ", reading a graph input";
            }
            if !exits.is_empty() {
                s += &format!(", left by QUANTIZE {}", op_list(exits));
            }
            if *to_graph_output {
                s += ", writing a graph output";
            }
            s
        }
        FindingKind::HybridOp {
            weights,
            weight_dtype,
        } => {
            format!(
                "hybrid: float activations with {weight_dtype} weights {} quantized on the fly",
                t(*weights)
            )
        }
        FindingKind::WeightZeroPoint { tensor, nonzero } => {
            format!(
                "weights {} have {nonzero} non-zero zero point(s); the spec wants symmetric weights (zp 0)",
                t(*tensor)
            )
        }
        FindingKind::BiasScale {
            tensor,
            channel,
            expected,
            actual,
        } => format!(
            "bias {} channel {channel} has scale {} but input scale x weight scale is {}",
            t(*tensor),
            scale(*actual),
            scale(*expected)
        ),
        FindingKind::SameScaleMismatch {
            input,
            output,
            input_params,
            output_params,
        } => format!(
            "same-scale op: input t{input} {} differs from output t{output} {}",
            params(*input_params),
            params(*output_params)
        ),
        FindingKind::FixedOutput {
            tensor,
            expected,
            actual,
        } => format!(
            "fixed-output op: output t{tensor} has {} but the kernel requires {}",
            params(*actual),
            params(*expected)
        ),
    }
}

fn io_line(io: &IoTensor) -> String {
    let q = io
        .quantization
        .map_or(String::new(), |p| format!(" {}", params(p)));
    format!(
        "{} t{} {} {}{q}",
        io.name,
        io.tensor,
        io.dtype,
        dims(&io.shape)
    )
}

fn evidence_line(e: &Evidence) -> String {
    match e {
        Evidence::ConversionModes { modes } => format!("conversion metadata: {}", modes.join(", ")),
        Evidence::Ops {
            int8,
            int16,
            float,
            hybrid,
        } => {
            format!("compute ops: int8 {int8}, int16 {int16}, float {float}, hybrid {hybrid}")
        }
        Evidence::Quantizers {
            quantize,
            requantize,
            dequantize,
            constant_dequantize,
        } => format!(
            "quantizers: QUANTIZE float->int {quantize}, int->int {requantize}, DEQUANTIZE {dequantize}, of constants {constant_dequantize}"
        ),
        Evidence::Float16Constants { count } => format!("FLOAT16 constants: {count}"),
        Evidence::IntegerWeights { count } => format!("integer weight tensors: {count}"),
        Evidence::QatNames { count } => format!("tensors named by tfmot (QAT): {count}"),
        Evidence::Io { inputs, outputs } => format!(
            "main I/O: {} in, {} out",
            inputs
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(","),
            outputs
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn summary_lines(insp: &Inspection, file: &str) -> Vec<(String, String)> {
    let s = &insp.summary;
    let mut v = vec![
        (
            "file".to_owned(),
            format!("{file} ({} bytes)", thousands(s.file_len)),
        ),
        ("schema version".to_owned(), s.version.to_string()),
    ];
    if let Some(d) = &s.description {
        v.push(("description".into(), d.clone()));
    }
    if let Some(r) = &s.min_runtime_version {
        v.push(("min runtime version".into(), r.clone()));
    }
    if let Some(c) = &s.conversion {
        let mut parts = Vec::new();
        if let Some(tf) = &c.tensorflow_version {
            parts.push(format!("TensorFlow {tf}"));
        }
        if let Some(t) = &c.model_type {
            parts.push(t.clone());
        }
        if !c.optimization_modes.is_empty() {
            parts.push(c.optimization_modes.join("+"));
        }
        v.push(("conversion".into(), parts.join(", ")));
    }
    scheme_lines(insp, &mut v);
    structure_lines(s, &mut v);
    content_lines(s, &mut v);
    if s.appended_buffers {
        v.push((
            "buffers".into(),
            "stored after the flatbuffer (>2 GB layout)".into(),
        ));
    }
    if s.external_buffers > 0 {
        v.push(("external buffers".into(), s.external_buffers.to_string()));
    }
    for w in &s.warnings {
        v.push(("warning".into(), w.clone()));
    }
    v
}

/// The scheme and its evidence.
fn scheme_lines(insp: &Inspection, v: &mut Vec<(String, String)>) {
    let qat = if insp.scheme.qat {
        " (converted from a QAT graph)"
    } else {
        ""
    };
    v.push(("scheme".into(), format!("{}{qat}", insp.scheme.kind)));
    for e in &insp.scheme.evidence {
        v.push(("evidence".into(), evidence_line(e)));
    }
}

/// The subgraphs, the signatures and (without signatures) the main
/// subgraph's inputs and outputs.
fn structure_lines(s: &Summary, v: &mut Vec<(String, String)>) {
    for sg in &s.subgraphs {
        v.push((
            format!("subgraph {}", sg.index),
            format!(
                "\"{}\": {} ops, {} tensors",
                sg.name, sg.operators, sg.tensors
            ),
        ));
    }
    for sig in &s.signatures {
        let ins: Vec<String> = sig.inputs.iter().map(io_line).collect();
        let outs: Vec<String> = sig.outputs.iter().map(io_line).collect();
        v.push((
            format!("signature {}", sig.key),
            format!(
                "subgraph {}; in: {}; out: {}",
                sig.subgraph,
                ins.join("; "),
                outs.join("; ")
            ),
        ));
    }
    if s.signatures.is_empty()
        && let Some(main) = s.subgraphs.first()
    {
        v.push((
            "inputs".into(),
            main.inputs
                .iter()
                .map(io_line)
                .collect::<Vec<_>>()
                .join("; "),
        ));
        v.push((
            "outputs".into(),
            main.outputs
                .iter()
                .map(io_line)
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
}

/// The op histogram, the activation types and the constants.
fn content_lines(s: &Summary, v: &mut Vec<(String, String)>) {
    let counts = |v: Vec<String>| v.join(", ");
    v.push((
        "ops".into(),
        counts(
            s.op_histogram
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect(),
        ),
    ));
    v.push((
        "activations".into(),
        counts(
            s.activation_dtypes
                .iter()
                .map(|(d, n)| format!("{d} {n}"))
                .collect(),
        ),
    ));
    v.push((
        "constants".into(),
        s.constants
            .iter()
            .map(|c| format!("{} {} ({} bytes)", c.dtype, c.tensors, thousands(c.bytes)))
            .collect::<Vec<_>>()
            .join(", "),
    ));
}

fn tensor_line(sg: &Subgraph, id: TensorId, exact: bool) -> String {
    let t = sg.tensor(id);
    let mut s = format!("t{id} {} {}", t.dtype, shape(t));
    let q = quant_brief(t, exact);
    if !q.is_empty() {
        s.push(' ');
        s.push_str(&q);
    }
    if t.is_constant() {
        s.push_str(&format!(" const {}B", t.data_len));
    }
    s.push_str(&format!(" \"{}\"", t.name));
    s
}

fn op_head(
    model: &Model,
    insp: &Inspection,
    s: usize,
    op: OpId,
) -> (String, Compute, Option<String>) {
    let sg = &model.subgraphs[s];
    let o = sg.op(op);
    let info = &insp.subgraphs[s].ops[op.index()];
    let mut head = format!("{} v{}", o.kind, o.version);
    if let Some(a) = o
        .activation
        .filter(|a| *a != crate::model::Activation::None)
    {
        head.push_str(&format!(" +{}", a.name()));
    }
    for (role, to) in &o.calls {
        head.push_str(&format!(" {}=subgraph{to}", role.name()));
    }
    (head, info.compute, info.layer.clone())
}

fn text(
    model: &Model,
    insp: &Inspection,
    file: &str,
    view: View,
    style: Style,
    w: &mut dyn Write,
) -> io::Result<()> {
    writeln!(w, "tflq inspect, text format 1")?;
    if view.section == Section::All {
        for (k, v) in summary_lines(insp, file) {
            writeln!(w, "{k}: {v}")?;
        }
    }
    for (s, sg) in model.subgraphs.iter().enumerate() {
        if !view.shows(s) {
            continue;
        }
        writeln!(w)?;
        writeln!(w, "subgraph {s} \"{}\"", sg.name)?;
        if matches!(view.section, Section::All | Section::Ops) {
            for op in sg.op_ids() {
                let (head, compute, layer) = op_head(model, insp, s, op);
                let c = style.paint(compute.name(), compute_tone(compute).unwrap_or(Tone::Dim));
                writeln!(
                    w,
                    "op {op} {head} [{c}] layer={}",
                    layer.as_deref().unwrap_or("-")
                )?;
                let o = sg.op(op);
                for (k, i) in o.inputs.iter().enumerate() {
                    match i {
                        Some(t) => writeln!(w, "  in{k} {}", tensor_line(sg, *t, true))?,
                        None => writeln!(w, "  in{k} -")?,
                    }
                }
                for (k, t) in o.outputs.iter().enumerate() {
                    writeln!(w, "  out{k} {}", tensor_line(sg, *t, true))?;
                }
            }
        }
        if view.section == Section::Tensors {
            for t in 0..sg.tensors.len() {
                writeln!(w, "tensor {}", tensor_line(sg, TensorId(t as u32), true))?;
            }
        }
        if matches!(view.section, Section::All | Section::Findings) {
            let findings = &insp.subgraphs[s].findings;
            if findings.is_empty() {
                writeln!(w, "findings: none")?;
            }
            for f in findings {
                let kind = style.paint(f.kind.name(), finding_tone(&f.kind));
                writeln!(
                    w,
                    "finding {kind} ops={} layer={}: {}",
                    op_list(&f.ops),
                    f.layer.as_deref().unwrap_or("-"),
                    describe(sg, f)
                )?;
            }
        }
    }
    Ok(())
}

/// Subgraphs with more ops than this list only their non-integer ops in the
/// default view: thousands of int8 rows would bury what the view is for.
pub(crate) const COMPACT_OPS_LIMIT: usize = 300;

/// One line per op: what it is, where it came from, how it runs, what it
/// writes. The default view; `--ops` adds every input.
fn compact_ops(
    model: &Model,
    insp: &Inspection,
    s: usize,
    style: Style,
    w: &mut dyn Write,
) -> io::Result<()> {
    let sg = &model.subgraphs[s];
    let ops = &insp.subgraphs[s].ops;
    let all = sg.operators.len() <= COMPACT_OPS_LIMIT;
    let shown: Vec<OpId> = sg
        .op_ids()
        .filter(|op| all || !ops[op.index()].compute.is_integer())
        .collect();
    if all {
        writeln!(
            w,
            "\nsubgraph {s} \"{}\": operators (inputs of each: --ops)",
            short_name(&sg.name)
        )?;
    } else {
        writeln!(
            w,
            "\nsubgraph {s} \"{}\": {} operators; the {} that are not integer compute (every op: --ops)",
            short_name(&sg.name),
            sg.operators.len(),
            shown.len()
        )?;
    }
    if shown.is_empty() {
        return Ok(());
    }
    let mut t = style.table();
    t.set_header(vec!["#", "op", "layer", "runs", "output"]);
    for op in shown {
        let (head, compute, layer) = op_head(model, insp, s, op);
        let out = sg
            .op(op)
            .outputs
            .iter()
            .map(|id| {
                let tt = sg.tensor(*id);
                let q = quant_brief(tt, false);
                let sep = if q.is_empty() { "" } else { " " };
                format!("{} {}{sep}{q}", tt.dtype, shape(tt))
            })
            .collect::<Vec<_>>()
            .join("; ");
        t.add_row(vec![
            style.cell(op.to_string(), None),
            style.cell(head, None),
            style.cell(layer.unwrap_or_else(|| "-".into()), None),
            style.cell(compute.name(), compute_tone(compute)),
            style.cell(out, None),
        ]);
    }
    writeln!(w, "{t}")
}

fn table(
    model: &Model,
    insp: &Inspection,
    file: &str,
    view: View,
    style: Style,
    w: &mut dyn Write,
) -> io::Result<()> {
    if view.section == Section::All {
        let mut t = style.table();
        t.set_header(vec!["model", file]);
        for (k, v) in summary_lines(insp, file).into_iter().skip(1) {
            t.add_row(vec![k, v]);
        }
        writeln!(w, "{t}")?;
    }
    for (s, sg) in model.subgraphs.iter().enumerate() {
        if !view.shows(s) {
            continue;
        }
        if view.section == Section::All {
            compact_ops(model, insp, s, style, w)?;
        }
        if view.section == Section::Ops {
            writeln!(w, "\nsubgraph {s} \"{}\": operators", short_name(&sg.name))?;
            let mut t = style.table();
            t.set_header(vec!["#", "op", "layer", "runs", "inputs", "outputs"]);
            for op in sg.op_ids() {
                let (head, compute, layer) = op_head(model, insp, s, op);
                let o = sg.op(op);
                let brief = |id: TensorId| {
                    let tt = sg.tensor(id);
                    let q = quant_brief(tt, false);
                    let c = if tt.is_constant() { " const" } else { "" };
                    format!(
                        "t{id} {} {}{c}{}",
                        tt.dtype,
                        shape(tt),
                        if q.is_empty() {
                            String::new()
                        } else {
                            format!(" {q}")
                        }
                    )
                };
                let ins: Vec<String> = o
                    .inputs
                    .iter()
                    .map(|i| i.map_or("-".to_owned(), brief))
                    .collect();
                let outs: Vec<String> = o.outputs.iter().map(|t| brief(*t)).collect();
                t.add_row(vec![
                    style.cell(op.to_string(), None),
                    style.cell(head, None),
                    style.cell(layer.unwrap_or_else(|| "-".into()), None),
                    style.cell(compute.name(), compute_tone(compute)),
                    style.cell(ins.join("\n"), None),
                    style.cell(outs.join("\n"), None),
                ]);
            }
            writeln!(w, "{t}")?;
        }
        if view.section == Section::Tensors {
            writeln!(w, "\nsubgraph {s} \"{}\": tensors", short_name(&sg.name))?;
            let mut t = style.table();
            t.set_header(vec!["#", "name", "type", "shape", "quantization", "data"]);
            for (i, tt) in sg.tensors.iter().enumerate() {
                t.add_row(vec![
                    i.to_string(),
                    tt.name.to_owned(),
                    tt.dtype.to_string(),
                    shape(tt),
                    quant_brief(tt, false),
                    if tt.is_constant() {
                        format!("{} B", thousands(tt.data_len))
                    } else {
                        String::new()
                    },
                ]);
            }
            writeln!(w, "{t}")?;
        }
        if matches!(view.section, Section::All | Section::Findings) {
            let findings = &insp.subgraphs[s].findings;
            writeln!(
                w,
                "\nsubgraph {s} \"{}\": findings ({})",
                short_name(&sg.name),
                findings.len()
            )?;
            if !findings.is_empty() {
                let mut t = style.table();
                t.set_header(vec!["ops", "finding", "layer", "detail"]);
                for f in findings {
                    t.add_row(vec![
                        style.cell(op_list_short(&f.ops), None),
                        style.cell(f.kind.name(), Some(finding_tone(&f.kind))),
                        style.cell(f.layer.clone().unwrap_or_else(|| "-".into()), None),
                        style.cell(describe_with(sg, f, op_list_short), None),
                    ]);
                }
                writeln!(w, "{t}")?;
            }
        }
    }
    Ok(())
}
