//! `tflq compare`: where a QAT model's quantizers differ from PTQ's.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tflq::compare::Kind;
use tflq::report::compare::Pair;
use tflq::report::{Format, Style};

use crate::{ColorChoice, FINDINGS, OK};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareFormat {
    /// Human-readable tables (default).
    Table,
    /// Stable lines.
    Text,
    /// Versioned JSON (docs/json.md).
    Json,
    /// Markdown for a pull-request comment.
    Markdown,
}

/// Align a PTQ and a QAT conversion of the same network and report each place
/// to remove (B-1) or add (B-2) a quantizer, with the tfmot change to make.
#[derive(Args, Debug)]
#[command(after_help = "\
Example:
  tflq compare testdata/ptq_int8.tflite testdata/qat_partial.tflite
  tflq compare ptq.tflite qat.tflite --format markdown --fail-on add-quantizer,remove-quantizer

Finding kinds: remove-quantizer (B-1), add-quantizer (B-2), and the informational
range-mismatch, granularity-mismatch, fusion-mismatch, structure-mismatch.

Exit status: 0 no finding of a --fail-on kind, 1 such findings exist, 2 usage
error or unreadable model.")]
pub struct Opts {
    /// The post-training-quantized conversion (- reads standard input).
    ptq: PathBuf,
    /// The quantization-aware-trained conversion of the same network (- reads standard input).
    qat: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    format: CompareFormat,
    /// Exit 1 when findings of these kinds exist (comma-separated).
    #[arg(long, value_name = "KIND[,KIND]", value_delimiter = ',', value_parser = parse_kind)]
    fail_on: Vec<Kind>,
    /// Flag learned ranges wider or narrower than calibration by this factor.
    #[arg(long, default_value_t = 4.0, value_name = "FACTOR")]
    range_ratio: f32,
    /// Colour: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Table width in columns.
    #[arg(long, default_value_t = 100, value_name = "COLUMNS")]
    width: u16,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown finding kind '{s}' (one of {})", all.join(", "))
    })
}

pub fn run(o: Opts, out: &mut dyn Write) -> anyhow::Result<u8> {
    if !(o.range_ratio.is_finite() && o.range_ratio > 1.0) {
        anyhow::bail!("--range-ratio must be a number above 1");
    }
    if crate::is_stdin(&o.ptq) && crate::is_stdin(&o.qat) {
        anyhow::bail!("only one of the two models can be read from standard input (-)");
    }
    let ptq = crate::open(&o.ptq)?;
    let qat = crate::open(&o.qat)?;
    let c = tflq::compare::compare(
        ptq.model(),
        qat.model(),
        tflq::compare::Options {
            range_ratio: o.range_ratio,
        },
    );
    let format = match o.format {
        CompareFormat::Table => Format::Table,
        CompareFormat::Text => Format::Text,
        CompareFormat::Json => Format::Json,
        CompareFormat::Markdown => Format::Markdown,
    };
    let style = Style {
        color: o.color.enabled() && matches!(format, Format::Table | Format::Text),
        width: o.width.max(40),
    };
    let (pl, ql) = (crate::label(&o.ptq), crate::label(&o.qat));
    let pair = Pair {
        ptq_label: &pl,
        qat_label: &ql,
    };
    if let Some(p) = &c.problem {
        anyhow::bail!("{}", tflq::report::compare::problem(&pair, p));
    }
    tflq::report::compare::render(&pair, &c, format, style, out)?;
    let fail = o.fail_on.iter().any(|k| c.count(*k) > 0);
    crate::exit_without_freeing((ptq, qat, c));
    Ok(if fail { FINDINGS } else { OK })
}
