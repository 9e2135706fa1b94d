//! `tflq compare`: where a QAT model's quantizers differ from PTQ's.

use std::io::Write;
use std::path::PathBuf;

use crate::compare::{Kind, Severity};
use crate::report::compare::Pair;
use crate::report::model_explorer::Side;
use crate::report::{Format, Style};
use clap::{Args, ValueEnum};

use super::{ColorChoice, End, FINDINGS, OK};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareFormat {
    /// Human-readable tables (default).
    Table,
    /// Stable lines.
    Text,
    /// Versioned JSON (docs/json.md).
    Json,
    /// Markdown for a pull-request comment, with a Mermaid diagram of each placement finding.
    Markdown,
    /// Node data for Google's Model Explorer: each op of one model coloured
    /// by the severity of its findings (docs/model-explorer.md).
    ModelExplorer,
}

/// The model `--format model-explorer` colours.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlaySide {
    /// The QAT model (the second file).
    Qat,
    /// The PTQ model (the first file): each finding's PTQ counterparts.
    Ptq,
}

/// Align a PTQ and a QAT conversion of the same network and report each place
/// where QAT has a quantizer PTQ does not need, or runs in float what PTQ runs
/// in integer, with the layers whose annotation to change and how.
#[derive(Args, Debug)]
#[command(after_help = "\
Example:
  tflq compare testdata/ptq_int8.tflite testdata/qat_partial.tflite
  tflq compare ptq.tflite qat.tflite --format markdown --fail-on add-quantizer,remove-quantizer
  tflq compare ptq.tflite qat.tflite --format model-explorer > qat-overlay.json

Finding kinds: remove-quantizer (a quantizer PTQ does not need), add-quantizer
(float ops PTQ runs in integer), range-untrained, range-clipping, range-wide,
granularity-mismatch, fusion-mismatch, structure-mismatch. Severities, most
severe first: float-compute, extra-quantizer, clipping, wide-range, near-free,
info. --fail-on takes kinds (range-mismatch: every range kind) and severities
(a severity fails on it and on anything more severe).

--format model-explorer writes node data for Google's Model Explorer: each op
of the QAT model (--side ptq: of the PTQ model) gets the severity of the most
severe finding naming it, no-finding, or not-compared (a subgraph the two
models do not share).

The first file must be a full-integer PTQ conversion and the second a
conversion of the same network; swapped files, a float, float16 or
dynamic-range baseline, or two different networks are refused (exit 2).

Exit status: 0 no finding --fail-on asked for, 1 such findings exist, 2 usage
error, unreadable model, or a pair compare cannot judge.")]
pub struct Opts {
    /// The post-training-quantized conversion (- reads standard input).
    ptq: PathBuf,
    /// The quantization-aware-trained conversion of the same network (- reads standard input).
    qat: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    format: CompareFormat,
    /// Exit 1 when findings of these kinds or severities exist (comma-separated).
    #[arg(long, value_name = "KIND|SEVERITY[,...]", value_delimiter = ',', value_parser = parse_gate)]
    fail_on: Vec<Gate>,
    /// Flag learned ranges wider or narrower than calibration by this factor.
    #[arg(long, default_value_t = 4.0, value_name = "FACTOR")]
    range_ratio: f32,
    /// With --format model-explorer: the model whose ops to colour.
    #[arg(long, value_enum, value_name = "MODEL")]
    side: Option<OverlaySide>,
    /// Colour: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Table width in columns (default: the terminal's, or COLUMNS, or 100).
    #[arg(long, value_name = "COLUMNS")]
    width: Option<u16>,
}

/// What `--fail-on` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Findings of a kind.
    Kind(Kind),
    /// Every range kind (`range-mismatch`, the name before ranges were split).
    AnyRange,
    /// Findings of this severity or a more severe one.
    Severity(Severity),
}

impl Gate {
    fn fails(self, f: &crate::compare::Finding) -> bool {
        match self {
            Gate::Kind(k) => f.kind == k,
            Gate::AnyRange => f.kind.is_range(),
            Gate::Severity(s) => f.severity <= s,
        }
    }
}

fn parse_gate(s: &str) -> Result<Gate, String> {
    if s == "range-mismatch" {
        return Ok(Gate::AnyRange);
    }
    Kind::parse(s)
        .map(Gate::Kind)
        .or_else(|| Severity::parse(s).map(Gate::Severity))
        .ok_or_else(|| {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            let sev: Vec<&str> = Severity::ALL.iter().map(|k| k.name()).collect();
            format!(
                "unknown finding kind or severity '{s}' (kinds: {}; severities: {})",
                kinds.join(", "),
                sev.join(", ")
            )
        })
}

pub(super) fn run(o: Opts, out: &mut dyn Write, end: End) -> anyhow::Result<u8> {
    if !(o.range_ratio.is_finite() && o.range_ratio > 1.0) {
        anyhow::bail!("--range-ratio must be a number above 1");
    }
    if super::is_stdin(&o.ptq) && super::is_stdin(&o.qat) {
        anyhow::bail!("only one of the two models can be read from standard input (-)");
    }
    if o.side.is_some() && o.format != CompareFormat::ModelExplorer {
        anyhow::bail!("--side chooses the model --format model-explorer colours");
    }
    let ptq = super::open(&o.ptq)?;
    let qat = super::open(&o.qat)?;
    let ip = crate::analysis::inspect(ptq.model());
    let iq = crate::analysis::inspect(qat.model());
    let c = crate::compare::compare_inspected(
        (ptq.model(), &ip),
        (qat.model(), &iq),
        crate::compare::Options {
            range_ratio: o.range_ratio,
        },
    );
    let format = match o.format {
        CompareFormat::Table => Format::Table,
        CompareFormat::Text => Format::Text,
        CompareFormat::Json => Format::Json,
        CompareFormat::Markdown => Format::Markdown,
        CompareFormat::ModelExplorer => Format::ModelExplorer,
    };
    let style = Style {
        color: o.color.enabled() && matches!(format, Format::Table | Format::Text),
        width: super::table_width(o.width),
    };
    let (pl, ql) = (super::label(&o.ptq), super::label(&o.qat));
    let pair = Pair {
        ptq_label: &pl,
        qat_label: &ql,
    };
    if let Some(p) = &c.problem {
        anyhow::bail!("{}", crate::report::compare::problem(&pair, p));
    }
    if format == Format::ModelExplorer {
        let side = match o.side {
            Some(OverlaySide::Ptq) => Side::Ptq,
            Some(OverlaySide::Qat) | None => Side::Qat,
        };
        crate::report::model_explorer::compare(ptq.model(), qat.model(), &c, side).write(out)?;
        let (model, label) = match side {
            Side::Ptq => (ptq.model(), &pl),
            Side::Qat => (qat.model(), &ql),
        };
        super::note_left_out_graphs(model, None, label);
    } else {
        let diagrams = if format == Format::Markdown {
            let (p, q) = ((ptq.model(), &ip), (qat.model(), &iq));
            let views = crate::pair_view::finding_views(p, q, &c);
            crate::report::graph::where_diagrams(p, q, &c, &views)?
        } else {
            Vec::new()
        };
        crate::report::compare::render_with_diagrams(
            &pair,
            &c,
            Some(&diagrams),
            format,
            style,
            out,
        )?;
    }
    let fail = c
        .findings
        .iter()
        .any(|f| o.fail_on.iter().any(|g| g.fails(f)));
    end.finish((ip, iq, c, ptq, qat));
    Ok(if fail { FINDINGS } else { OK })
}
