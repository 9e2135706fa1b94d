//! `tflq plan`: the QAT annotation that reproduces a PTQ model's placement.

use std::io::Write;
use std::path::PathBuf;

use crate::report::{Format, Style};
use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::{ColorChoice, End, OK};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    /// Human-readable table (default).
    Table,
    /// Stable lines.
    Text,
    /// Versioned JSON (docs/json.md).
    Json,
    /// A Python module that applies the plan with tfmot.
    Python,
}

/// For every layer a PTQ model names: what TFLite does with it and the tfmot
/// annotation that reproduces it in QAT.
#[derive(Args, Debug)]
#[command(after_help = "\
Example:
  tflq plan ptq.tflite                               # per layer: action, facts, why
  tflq plan ptq.tflite --format python -o plan.py    # then: plan.quantize_model(model)

Actions: default (tfmot's registry is right), output (a QuantizeConfig with an
output quantizer), no-quantizer (a QuantizeConfig with none), weights-only
(weights, no output quantizer), float (PTQ keeps it in float: leave it
unannotated), unsupported (no annotation reproduces PTQ; the entry says why).

Exit status: 0 plan written, 2 usage error or unreadable model.")]
pub struct Opts {
    /// The post-training-quantized conversion (full-integer PTQ).
    ptq: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    format: PlanFormat,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Colour: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Table width in columns (default: the terminal's, or COLUMNS, or 100).
    #[arg(long, value_name = "COLUMNS")]
    width: Option<u16>,
}

pub(super) fn run(o: Opts, out: &mut dyn Write, end: End) -> anyhow::Result<u8> {
    let file = super::open(&o.ptq)?;
    let insp = crate::analysis::inspect(file.model());
    let plan = crate::advice::plan(file.model(), &insp);
    let format = match o.format {
        PlanFormat::Table => Format::Table,
        PlanFormat::Text => Format::Text,
        PlanFormat::Json => Format::Json,
        PlanFormat::Python => Format::Python,
    };
    let style = Style {
        color: o.output.is_none() && o.color.enabled() && format == Format::Table,
        width: super::table_width(o.width),
    };
    let label = super::label(&o.ptq);
    match &o.output {
        Some(path) => {
            let mut buf = Vec::new();
            crate::report::plan::render(&plan, &label, format, style, &mut buf)?;
            std::fs::write(path, buf)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => crate::report::plan::render(&plan, &label, format, style, out)?,
    }
    end.finish((file, insp, plan));
    Ok(OK)
}
