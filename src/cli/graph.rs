//! `tflq graph`: the op graph coloured by how each op computes, for one model
//! or a PTQ and a QAT model side by side.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::analysis::SubgraphQuant;
use crate::analysis::graph_view::{self, GraphView, ViewOptions};
use crate::measure::ops::{JsonSide, SqnrView};
use crate::model::{OpId, SubgraphId};
use crate::report::graph::{GraphFormat, Panel};

use super::{End, OK};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormatArg {
    /// A standalone SVG picture (default).
    Svg,
    /// One self-contained HTML page: pan, zoom, node details, findings.
    Html,
    /// Graphviz DOT text (`dot -Tpng`).
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// Draw the op graph coloured by how each op computes, as SVG, HTML, DOT or
/// Mermaid
///
/// Nodes are coloured int8, int16, float, hybrid, QUANTIZE, DEQUANTIZE,
/// requantize, type conversion or constant DEQUANTIZE and carry their layer;
/// float islands are outlined; edges carry the tensor's dtype and shape.
/// Given a PTQ and a QAT model, draws both side by side with each
/// comparison finding marked on both.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  tflq graph model.tflite -o model.svg
  tflq graph model.tflite --format html -o model.html     # pan, zoom, click a node
  tflq graph model.tflite --around conv2 --depth 3 --format mermaid
  tflq graph ptq.tflite qat.tflite -o pair.html          # findings marked on both

The format is --format's, else the one -o's extension names (.svg,
.html/.htm/.xhtml, .dot/.gv, .mmd/.mermaid; any other extension is refused),
else svg. -o never overwrites an input model. 3 or more consecutive ops (in
execution order) that all compute in int8, or all in int16, are drawn as one
node ('#4..#9 6 int8 ops'); --no-collapse draws each op. Ops named by a
finding always keep a node of their own. --around takes an op index (12 or
#12) or a layer name and draws every op near it; dashed borders mark nodes
whose other neighbours are left out. Without --subgraph, the subgraph drawn
is the one the model's signature runs when it has exactly one signature,
else subgraph 0; control-flow ops name the subgraphs they run (IF → 2, 3),
which --subgraph N draws.

Colours: int8 light green, int16 green, float orange, hybrid yellow, QUANTIZE
blue, DEQUANTIZE salmon, requantize purple, type conversion pink, constant
DEQUANTIZE tan, other grey; float islands have a dashed red outline,
findings a thick border and their number.

Exit status: 0 drawn, 2 usage error, unreadable model, or a pair compare
cannot judge.")]
pub struct Opts {
    /// The model (with a second model: the post-training-quantized one).
    model: PathBuf,
    /// A quantization-aware-trained conversion of the same network: draw
    /// both, aligned, with compare's findings.
    qat: Option<PathBuf>,
    /// Output format (default: from -o's extension, else svg).
    #[arg(long, value_enum)]
    format: Option<GraphFormatArg>,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The subgraph to draw [default: the subgraph of the model's signature
    /// when it has exactly one, else 0]. With two models: the QAT model's.
    #[arg(long, value_name = "INDEX")]
    subgraph: Option<u32>,
    /// Only the ops near this op: an op index (12 or #12) or a layer name.
    #[arg(long, value_name = "OP")]
    around: Option<String>,
    /// With --around: how many edges away from it to draw.
    #[arg(long, value_name = "N", default_value_t = 2, requires = "around")]
    depth: usize,
    /// Draw every op, without collapsing runs of integer ops.
    #[arg(long)]
    no_collapse: bool,
    /// Colour the op nodes by SQNR from this document of `tflq measure
    /// --format json` (SVG and HTML; the measured main subgraph).
    #[arg(long, value_name = "FILE")]
    measure: Option<PathBuf>,
    /// With --measure: the measured model that colours the drawing [default:
    /// the only one, else the one of the drawn file's name]. With two
    /// models each side takes its own.
    #[arg(long, value_name = "SIDE", requires = "measure", value_parser = ["ptq", "qat"])]
    measure_side: Option<String>,
}

/// The `-o` extensions that choose a format, as the usage error lists them.
const EXTENSIONS: &str = ".svg, .html/.htm/.xhtml, .dot/.gv, .mmd/.mermaid";

/// The format to write: `--format`, else the one `-o`'s extension names,
/// else svg. An `-o` whose extension names no format is refused rather than
/// guessed, so `-o graph.png` does not quietly hold SVG.
fn format_of(o: &Opts) -> anyhow::Result<GraphFormat> {
    let arg = match (o.format, o.output.as_deref()) {
        (Some(f), _) => f,
        (None, None) => GraphFormatArg::Svg,
        (None, Some(path)) => {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            match ext.as_str() {
                "svg" => GraphFormatArg::Svg,
                "html" | "htm" | "xhtml" => GraphFormatArg::Html,
                "dot" | "gv" => GraphFormatArg::Dot,
                "mmd" | "mermaid" => GraphFormatArg::Mermaid,
                _ => anyhow::bail!(
                    "-o {}: the extension names no format (use {EXTENSIONS}, or give --format)",
                    path.display()
                ),
            }
        }
    };
    Ok(match arg {
        GraphFormatArg::Svg => GraphFormat::Svg,
        GraphFormatArg::Html => GraphFormat::Html,
        GraphFormatArg::Dot => GraphFormat::Dot,
        GraphFormatArg::Mermaid => GraphFormat::Mermaid,
    })
}

/// Whether `a` and `b` name one existing file (through links too).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(ca), Ok(cb)) => ca == cb,
        _ => false,
    }
}

/// Refuse an `-o` that would overwrite one of the input models.
fn check_output(o: &Opts) -> anyhow::Result<()> {
    let Some(out) = o.output.as_deref() else {
        return Ok(());
    };
    for input in std::iter::once(o.model.as_path()).chain(o.qat.as_deref()) {
        if !super::is_stdin(input) && same_file(input, out) {
            anyhow::bail!(
                "-o {}: that is the input model {}; write the drawing to another file",
                out.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// The op `--around` names: an index, or the first op of a layer.
fn resolve_around(text: &str, quant: &SubgraphQuant, label: &str) -> anyhow::Result<OpId> {
    let digits = text.strip_prefix('#').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u32 is out of range like any other.
        if let Ok(n) = digits.parse::<u32>()
            && (n as usize) < quant.ops.len()
        {
            return Ok(OpId(n));
        }
        anyhow::bail!(
            "{label}: --around {text}: subgraph {} has {} ops (#0 to #{})",
            quant.subgraph,
            quant.ops.len(),
            quant.ops.len().saturating_sub(1)
        );
    }
    quant
        .ops
        .iter()
        .find(|i| i.layer.as_deref() == Some(text))
        .or_else(|| {
            quant
                .ops
                .iter()
                .find(|i| i.layers.iter().any(|l| l == text))
        })
        .map(|i| i.op)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{label}: --around {text}: subgraph {} has no layer of that name (give a layer name, or an op index such as 12 or #12)",
                quant.subgraph
            )
        })
}

fn options(o: &Opts, subgraph: SubgraphId, around: Vec<OpId>, depth: usize) -> ViewOptions {
    let mut v = ViewOptions::new(subgraph);
    // Coloured by SQNR, every op shows its own value.
    if o.no_collapse || o.measure.is_some() {
        v.min_run = 0;
    }
    v.around = around;
    v.depth = depth;
    v
}

/// The subgraph drawn: `--subgraph`, else the one the model's only signature
/// runs, else 0 (the first subgraph, usually the main graph; a model with
/// several signatures has several entry points, and control flow calls
/// other subgraphs).
fn default_subgraph(o: &Opts, model: &crate::model::Model) -> u32 {
    o.subgraph.unwrap_or(match model.signatures.as_slice() {
        [only] => only.subgraph.0,
        _ => 0,
    })
}

/// The analysis of subgraph `s`, or the error naming what exists.
fn subgraph<'a>(
    insp: &'a crate::analysis::Inspection,
    s: u32,
    label: &str,
) -> anyhow::Result<&'a SubgraphQuant> {
    insp.subgraphs.get(s as usize).ok_or_else(|| {
        anyhow::anyhow!(
            "{label}: no subgraph {s} (the model has {})",
            insp.subgraphs.len()
        )
    })
}

pub(super) fn run(o: Opts, out: &mut dyn Write, end: End) -> anyhow::Result<u8> {
    let format = format_of(&o)?;
    check_output(&o)?;
    let draw = |w: &mut dyn Write| match &o.qat {
        None => one(&o, format, w, end),
        Some(qat) => pair(&o, qat, format, w, end),
    };
    // Drawn in memory first: a model that cannot be read leaves no file,
    // and a Mermaid text can be measured before it is written.
    let buffered = o.output.is_some() || format == GraphFormat::Mermaid;
    if !buffered {
        draw(out)?;
        return Ok(OK);
    }
    let mut buf = Vec::new();
    draw(&mut buf)?;
    if format == GraphFormat::Mermaid {
        note_mermaid_size(&buf, &super::label(&o.model));
    }
    match &o.output {
        Some(path) => {
            std::fs::write(path, buf).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => out.write_all(&buf)?,
    }
    Ok(OK)
}

/// Say on standard error when Mermaid renderers (GitHub's among them) will
/// refuse the text: tflq writes it anyway, for renderers set up otherwise.
fn note_mermaid_size(text: &[u8], label: &str) {
    use crate::report::graph::{MERMAID_MAX_EDGES, MERMAID_MAX_TEXT, MermaidSize};
    let size = MermaidSize::of(&String::from_utf8_lossy(text));
    if size.over_default_limits() {
        let t = crate::report::thousands;
        let _ = writeln!(
            std::io::stderr(),
            "note: {label}: the Mermaid text has {} characters and {} edges; Mermaid renderers (GitHub's too) refuse more than {} characters or {} edges by default: draw less with --around OP --depth N, or write DOT (--format dot)",
            t(size.chars as u64),
            t(size.edges as u64),
            t(MERMAID_MAX_TEXT as u64),
            t(MERMAID_MAX_EDGES as u64)
        );
    }
}

/// Refuse a view too large to lay out, saying how to make it smaller.
fn check_size(view: &GraphView, format: GraphFormat, o: &Opts, label: &str) -> anyhow::Result<()> {
    use crate::report::graph::MAX_LAYOUT_NODES;
    if !matches!(format, GraphFormat::Svg | GraphFormat::Html)
        || view.nodes.len() <= MAX_LAYOUT_NODES
    {
        return Ok(());
    }
    let collapse = if o.no_collapse {
        "drop --no-collapse, "
    } else {
        ""
    };
    anyhow::bail!(
        "{label}: subgraph {} has {} nodes to draw; {} lays out at most {}: {collapse}draw part of it with --around OP --depth N, or use --format dot (Mermaid renderers refuse large graphs too)",
        view.subgraph,
        crate::report::thousands(view.nodes.len() as u64),
        format.name(),
        crate::report::thousands(MAX_LAYOUT_NODES as u64)
    )
}

/// The measured sides of `--measure`'s document, when given.
fn measure_sides(o: &Opts, format: GraphFormat) -> anyhow::Result<Option<Vec<JsonSide>>> {
    let Some(path) = &o.measure else {
        return Ok(None);
    };
    if !matches!(format, GraphFormat::Svg | GraphFormat::Html) {
        anyhow::bail!(
            "--measure colours SVG and HTML drawings, not {}",
            format.name()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("--measure {}: not JSON: {e}", path.display()))?;
    JsonSide::read(&doc)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("--measure {}: {e}", path.display()))
}

/// The colouring of `view` (of `model`, the file `label`) by the measured
/// side of `role` (else the one [`JsonSide::pick`] picks).
fn colouring(
    o: &Opts,
    sides: &[JsonSide],
    role: Option<&str>,
    (model, label): (&crate::model::Model, &str),
    view: &GraphView,
) -> anyhow::Result<SqnrView> {
    let doc = o.measure.as_deref().unwrap_or(Path::new("")).display();
    if view.subgraph != SubgraphId(0) {
        anyhow::bail!(
            "{label}: --measure colours subgraph 0, the one tflq measure measures; this draws subgraph {}",
            view.subgraph
        );
    }
    let side =
        JsonSide::pick(sides, role, label).map_err(|e| anyhow::anyhow!("--measure {doc}: {e}"))?;
    let sg = model.subgraph(view.subgraph);
    side.check(sg)
        .map_err(|e| anyhow::anyhow!("--measure {doc} and {label}: {e}"))?;
    Ok(SqnrView::new(view, sg, side))
}

fn one(o: &Opts, format: GraphFormat, w: &mut dyn Write, end: End) -> anyhow::Result<()> {
    let file = super::open(&o.model)?;
    let model = file.model();
    let label = super::label(&o.model);
    let insp = crate::analysis::inspect(model);
    let quant = subgraph(&insp, default_subgraph(o, model), &label)?;
    let around = match &o.around {
        Some(a) => vec![resolve_around(a, quant, &label)?],
        None => Vec::new(),
    };
    let mut options = options(o, quant.subgraph, around, o.depth);
    // Findings point at ops: each keeps a node of its own.
    options.keep = graph_view::finding_ops(quant);
    let view = graph_view::build(model, quant, &options);
    check_size(&view, format, o, &label)?;
    let sqnr = match measure_sides(o, format)? {
        Some(sides) => Some(colouring(
            o,
            &sides,
            o.measure_side.as_deref(),
            (model, &label),
            &view,
        )?),
        None => None,
    };
    let panel = Panel {
        model,
        quant,
        view: &view,
        label: &label,
        sqnr: sqnr.as_ref(),
    };
    crate::report::graph::render(&panel, format, w)?;
    end.finish((file, insp, view));
    Ok(())
}

fn pair(
    o: &Opts,
    qat_path: &Path,
    format: GraphFormat,
    w: &mut dyn Write,
    end: End,
) -> anyhow::Result<()> {
    if super::is_stdin(&o.model) && super::is_stdin(qat_path) {
        anyhow::bail!("only one of the two models can be read from standard input (-)");
    }
    let ptq = super::open(&o.model)?;
    let qat = super::open(qat_path)?;
    let (pl, ql) = (super::label(&o.model), super::label(qat_path));
    let (ip, iq) = (
        crate::analysis::inspect(ptq.model()),
        crate::analysis::inspect(qat.model()),
    );
    let c = crate::compare::compare_inspected(
        (ptq.model(), &ip),
        (qat.model(), &iq),
        Default::default(),
    );
    if let Some(p) = &c.problem {
        let labels = crate::report::compare::Pair {
            ptq_label: &pl,
            qat_label: &ql,
        };
        anyhow::bail!("{}", crate::report::compare::problem(&labels, p));
    }
    let qquant = subgraph(&iq, default_subgraph(o, qat.model()), &ql)?;
    let alignment = c.alignment.iter().find(|a| a.qat == qquant.subgraph);
    let pquant = match alignment {
        Some(a) => subgraph(&ip, a.ptq.0, &pl)?,
        None => anyhow::bail!(
            "{ql}: subgraph {} has no counterpart in {pl}",
            qquant.subgraph
        ),
    };
    let around = match &o.around {
        Some(a) => vec![resolve_around(a, qquant, &ql)?],
        None => Vec::new(),
    };
    let findings = c.findings.iter().filter(|f| f.subgraph == qquant.subgraph);
    let (mut keep_q, mut keep_p) = (BTreeSet::new(), BTreeSet::new());
    for f in findings {
        keep_q.extend(f.qat_ops.iter().copied());
        keep_p.extend(f.ptq_ops.iter().copied());
    }
    let mut qopt = options(o, qquant.subgraph, around, o.depth);
    qopt.keep = keep_q;
    let qview = graph_view::build(qat.model(), qquant, &qopt);
    // The PTQ side shows what the QAT side's ops align with.
    let ptq_around: Vec<OpId> = match alignment {
        Some(a) if !qopt.around.is_empty() => {
            let beside = crate::pair_view::ptq_beside(&qview, a);
            if beside.is_empty() {
                anyhow::bail!(
                    "{ql}: nothing near --around {} aligns with {pl}",
                    o.around.as_deref().unwrap_or("")
                );
            }
            beside
        }
        _ => Vec::new(),
    };
    let mut popt = options(o, pquant.subgraph, ptq_around, 0);
    popt.keep = keep_p;
    let pview: GraphView = graph_view::build(ptq.model(), pquant, &popt);
    check_size(&qview, format, o, &ql)?;
    check_size(&pview, format, o, &pl)?;
    // Each side is coloured by its own measurement (--measure-side: that one only).
    let (psqnr, qsqnr) = match measure_sides(o, format)? {
        Some(sides) => {
            let side = |role: &str, drawn, view| {
                let wanted = o.measure_side.as_deref().is_none_or(|s| s == role)
                    && sides.iter().any(|s| s.role == role);
                wanted
                    .then(|| colouring(o, &sides, Some(role), drawn, view))
                    .transpose()
            };
            (
                side("ptq", (ptq.model(), &pl), &pview)?,
                side("qat", (qat.model(), &ql), &qview)?,
            )
        }
        None => (None, None),
    };
    crate::report::graph::render_pair(
        &Panel {
            model: ptq.model(),
            quant: pquant,
            view: &pview,
            label: &pl,
            sqnr: psqnr.as_ref(),
        },
        &Panel {
            model: qat.model(),
            quant: qquant,
            view: &qview,
            label: &ql,
            sqnr: qsqnr.as_ref(),
        },
        &c,
        format,
        w,
    )?;
    end.finish((ptq, qat, c, ip, iq, pview, qview));
    Ok(())
}
