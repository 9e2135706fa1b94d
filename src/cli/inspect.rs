//! `tflq inspect`: the quantization picture of one model.

use std::io::Write;
use std::path::PathBuf;

use crate::model::SubgraphId;
use crate::report::inspect::{Section, View};
use crate::report::{Format, Style};
use clap::{Args, ValueEnum};

use super::{ColorChoice, End, OK};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InspectFormat {
    /// Human-readable tables (default).
    Table,
    /// Stable lines, good for diffs and grep.
    Text,
    /// Versioned JSON (docs/json.md).
    Json,
    /// Node data for Google's Model Explorer: each op coloured by how it
    /// computes (docs/model-explorer.md).
    ModelExplorer,
}

/// Show every op and tensor with its quantization, the QUANTIZE/DEQUANTIZE
/// ops, float islands and the model's quantization scheme.
#[derive(Args, Debug)]
#[command(after_help = "\
Example:
  tflq inspect testdata/qat_partial.tflite --findings
  tflq inspect model.tflite --format json | jq '.scheme.kind'
  tflq inspect model.tflite --format model-explorer > overlay.json
  model-explorer model.tflite --node_data_paths=overlay.json

The 'runs' column says how an op computes: int8/int16 (integer activations),
float, hybrid (float activations with int8 weights), convert (QUANTIZE or
DEQUANTIZE), other (shapes, indices). Per-channel quantization shows as
per-axis(DIM)xCOUNT with the scale range; JSON has every value.

--format model-explorer writes node data for Google's Model Explorer, one
value per op: int8, int16, float, hybrid, quantize, dequantize, requantize,
type-conversion, constant-dequantize or other, each with its own colour.

Exit status: 0 success, 2 usage error or unreadable model.")]
pub struct Opts {
    /// The .tflite model (- reads it from standard input).
    model: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
    format: InspectFormat,
    /// Only this subgraph (0 is the main graph).
    #[arg(long, value_name = "INDEX")]
    subgraph: Option<u32>,
    /// Show operators only.
    #[arg(long, group = "section")]
    ops: bool,
    /// Show tensors only.
    #[arg(long, group = "section")]
    tensors: bool,
    /// Show findings only.
    #[arg(long, group = "section")]
    findings: bool,
    /// Colour: auto (terminal and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Table width in columns (default: the terminal's, or COLUMNS, or 100).
    #[arg(long, value_name = "COLUMNS")]
    width: Option<u16>,
}

pub(super) fn run(o: Opts, out: &mut dyn Write, end: End) -> anyhow::Result<u8> {
    let file = super::open(&o.model)?;
    let model = file.model();
    if let Some(s) = o.subgraph
        && s as usize >= model.subgraphs.len()
    {
        anyhow::bail!(
            "{}: no subgraph {s} (the model has {})",
            o.model.display(),
            model.subgraphs.len()
        );
    }
    let insp = crate::analysis::inspect(model);
    let section = if o.ops {
        Section::Ops
    } else if o.tensors {
        Section::Tensors
    } else if o.findings {
        Section::Findings
    } else {
        Section::All
    };
    let format = match o.format {
        InspectFormat::Table => Format::Table,
        InspectFormat::Text => Format::Text,
        InspectFormat::Json => Format::Json,
        InspectFormat::ModelExplorer => Format::ModelExplorer,
    };
    let style = Style {
        color: o.color.enabled() && matches!(format, Format::Table | Format::Text),
        width: super::table_width(o.width),
    };
    let view = View {
        subgraph: o.subgraph.map(SubgraphId),
        section,
    };
    let label = super::label(&o.model);
    crate::report::inspect::render(model, &insp, &label, format, view, style, out)?;
    if format == Format::ModelExplorer {
        super::note_left_out_graphs(model, view.subgraph, &label);
    }
    end.finish((file, insp));
    Ok(OK)
}
