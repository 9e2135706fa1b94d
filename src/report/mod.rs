//! Reports: the only code that formats. Each renderer writes to the writer it
//! is given, never guesses a terminal width, and formats numbers one fixed
//! way, so the same model gives the same bytes on every machine.

pub mod compare;
pub mod graph;
pub mod inspect;
mod json;
pub mod measure;
pub mod model_explorer;
pub mod plan;
pub mod snapshot;

use std::fmt::Write as _;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

use crate::advice::Reason;
use crate::analysis::OpClass;
use crate::model::{Granularity, Tensor};

/// The fill colour of each op class, the same in every picture and overlay
/// (`tflq graph`, `--format model-explorer`): integer greens, float oranges,
/// quantizer blues and purples, chosen to be told apart in print and by most
/// colour-blind readers.
pub(crate) const fn op_color(c: OpClass) -> &'static str {
    match c {
        OpClass::Int8 => "#a6dba0",
        OpClass::Int16 => "#5aae61",
        OpClass::Float => "#fdb863",
        OpClass::Hybrid => "#fee08b",
        OpClass::Quantize => "#92c5de",
        OpClass::Dequantize => "#f4a582",
        OpClass::Requantize => "#c2a5cf",
        OpClass::TypeConversion => "#de77ae",
        OpClass::ConstantDequantize => "#dfc27d",
        OpClass::Other => "#e0e0e0",
    }
}

/// Version of the JSON documents tflq writes (`docs/json.md`).
pub const JSON_SCHEMA_VERSION: u32 = 2;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Human tables (comfy-table).
    Table,
    /// Stable lines for diffs and scripts.
    Text,
    /// Versioned JSON.
    Json,
    /// Markdown, for pull-request comments.
    Markdown,
    /// Python source (`tflq plan`).
    Python,
    /// Node data for Google's Model Explorer ([`model_explorer`]).
    ModelExplorer,
}

impl Format {
    /// The lower-case name (`table`, `json`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Python => "python",
            Format::ModelExplorer => "model-explorer",
        }
    }
}

/// The error a renderer returns for a format its result does not support: a
/// usage error, never a silent fallback to another format.
pub fn unsupported(what: &str, format: Format) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("{what} does not write {} output", format.name()),
    )
}

/// How to lay text out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Table width in columns.
    pub width: u16,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            color: false,
            width: 100,
        }
    }
}

/// Emphasis kinds the renderers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Float compute, places to act on.
    Warn,
    /// Spec breaks.
    Bad,
    /// Integer compute, matches.
    Good,
    /// Secondary text.
    Dim,
}

impl Style {
    pub(crate) fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match tone {
            Tone::Warn => "33",
            Tone::Bad => "31",
            Tone::Good => "32",
            Tone::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    pub(crate) fn cell(&self, text: impl Into<String>, tone: Option<Tone>) -> Cell {
        let cell = Cell::new(fit_cell(text.into()));
        match (self.color, tone) {
            (true, Some(Tone::Warn)) => cell.fg(Color::Yellow),
            (true, Some(Tone::Bad)) => cell.fg(Color::Red),
            (true, Some(Tone::Good)) => cell.fg(Color::Green),
            (true, Some(Tone::Dim)) => cell.fg(Color::DarkGrey),
            _ => cell,
        }
    }

    pub(crate) fn table(&self) -> CappedTable {
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .force_no_tty()
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(self.width);
        if self.color {
            t.enforce_styling();
        }
        CappedTable(t)
    }
}

/// Longest run of characters without a space or newline that a table cell
/// keeps. comfy-table wraps such a run by splitting off one line at a time
/// and copying the rest, which costs the square of its length: 20,000 op
/// numbers joined by commas took 19 s to lay out. No real name or sentence
/// comes near this; `…` marks the cut.
pub(crate) const CELL_WORD_CHARS: usize = 1_000;

/// Longest text a table cell keeps; the text and JSON formats have it all.
pub(crate) const CELL_CHARS: usize = 20_000;

/// Ops a table cell lists before `… and N more`.
pub(crate) const CELL_OPS: usize = 20;

/// `text` cut to what a table cell keeps ([`CELL_WORD_CHARS`], [`CELL_CHARS`]),
/// in one pass.
fn fit_cell(text: String) -> String {
    let (mut chars, mut run) = (0usize, 0usize);
    let fits = text.chars().all(|c| {
        chars += 1;
        run = if c == ' ' || c == '\n' { 0 } else { run + 1 };
        chars <= CELL_CHARS && run <= CELL_WORD_CHARS
    });
    if fits {
        return text;
    }
    let mut out = String::with_capacity(text.len().min(4 * CELL_CHARS));
    let (mut chars, mut run) = (0usize, 0usize);
    let mut iter = text.chars().peekable();
    while let Some(c) = iter.next() {
        if chars == CELL_CHARS {
            let rest = 1 + iter.count();
            let _ = write!(
                out,
                "… ({} more characters: --format text or json shows all)",
                thousands(rest as u64)
            );
            break;
        }
        chars += 1;
        run = if c == ' ' || c == '\n' { 0 } else { run + 1 };
        if run <= CELL_WORD_CHARS {
            out.push(c);
        } else if run == CELL_WORD_CHARS + 1 {
            out.push('…');
        }
    }
    out
}

/// `#1,#2,…` listing at most [`CELL_OPS`] ops, then `… and N more`: what a
/// table cell shows of a list the text and JSON formats give in full.
pub(crate) fn op_list_short(ops: &[crate::model::OpId]) -> String {
    let mut s = String::new();
    for (i, o) in ops.iter().take(CELL_OPS).enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "#{o}");
    }
    if ops.len() > CELL_OPS {
        let _ = write!(
            s,
            " … and {} more",
            thousands((ops.len() - CELL_OPS) as u64)
        );
    }
    s
}

/// A comfy-table whose cells are cut to what a table can lay out in linear
/// time ([`CELL_WORD_CHARS`], [`CELL_CHARS`]), whatever a renderer puts in.
#[derive(Debug)]
pub(crate) struct CappedTable(Table);

/// A table cell: text to fit, or a cell made by [`Style::cell`] (already fitted).
#[derive(Debug)]
pub(crate) struct CappedCell(Cell);

impl From<String> for CappedCell {
    fn from(text: String) -> Self {
        CappedCell(Cell::new(fit_cell(text)))
    }
}

impl From<&str> for CappedCell {
    fn from(text: &str) -> Self {
        CappedCell::from(text.to_owned())
    }
}

impl From<Cell> for CappedCell {
    fn from(cell: Cell) -> Self {
        CappedCell(cell)
    }
}

impl CappedTable {
    pub(crate) fn set_header<C: Into<CappedCell>>(&mut self, cells: Vec<C>) -> &mut Self {
        self.0
            .set_header(cells.into_iter().map(|c| c.into().0).collect::<Vec<_>>());
        self
    }

    pub(crate) fn add_row<C: Into<CappedCell>>(&mut self, cells: Vec<C>) -> &mut Self {
        self.0
            .add_row(cells.into_iter().map(|c| c.into().0).collect::<Vec<_>>());
        self
    }
}

impl std::fmt::Display for CappedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A scale, exactly: the shortest decimal that reads back as the same f32.
pub fn scale(s: f32) -> String {
    format!("{s:e}")
}

/// A scale, short (4 significant digits), for tables.
pub(crate) fn scale_short(s: f32) -> String {
    format!("{s:.3e}")
}

/// `[1,16,16,3]`, with the shape signature's -1 where the file has one.
pub fn shape(t: &Tensor) -> String {
    dims(t.shape_signature.as_deref().unwrap_or(&t.shape))
}

/// `[1,2,3]`.
pub fn dims(d: &[i32]) -> String {
    let mut s = String::from("[");
    for (i, x) in d.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{x}");
    }
    s.push(']');
    s
}

/// Quantization in brief: `s=3.922e-3 zp=-128`, `per-axis(0)x8 s=[1.0e-3..4.0e-3]`.
pub(crate) fn quant_brief(t: &Tensor, exact: bool) -> String {
    let Some(q) = &t.quantization else {
        return String::new();
    };
    let f = if exact { scale } else { scale_short };
    match q.granularity() {
        Granularity::None => String::new(),
        Granularity::Calibrated => format!(
            "calibrated min={} max={}",
            q.min().first().map_or(String::new(), f),
            q.max().first().map_or(String::new(), f)
        ),
        Granularity::PerTensor => format!(
            "s={} zp={}",
            q.scale.first().map_or(String::new(), f),
            q.zero_point.first().unwrap_or(0)
        ),
        Granularity::PerAxis { axis, count } => {
            let (lo, hi) = q.scale_range().unwrap_or((0.0, 0.0));
            let nonzero = q.zero_point.iter().filter(|z| *z != 0).count();
            let zp = if nonzero == 0 {
                "zp=0".to_owned()
            } else {
                format!("zp≠0 x{nonzero}")
            };
            format!("per-axis({axis})x{count} s=[{}..{}] {zp}", f(lo), f(hi))
        }
        Granularity::Blockwise { block_size } => format!("blockwise block={block_size}"),
        Granularity::Other => "custom".to_owned(),
    }
}

/// Why a plan entry (or a culprit of a compare finding) is what it is, in
/// words: shared by the plan, compare and JSON renderers.
pub(crate) fn reason(r: &Reason) -> String {
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
        Reason::KeptFloatByMeasure => {
            "tflq measure keeps it in float: its local error is among the model's largest".into()
        }
        Reason::QuantizesModelInput => {
            "it reads the model input: annotated, it makes tfmot quantize that input".into()
        }
        Reason::NoBatchNormFold { batchnorm } => {
            format!("PTQ folds the BatchNormalization '{batchnorm}' into its op, which tfmot does not do for a Conv1D or a Dense: annotated, QAT keeps the BatchNorm in float (or the whole layer)")
        }
        Reason::InputThroughUnnamedLayer => {
            "it is annotated, yet reads the model input in float: a layer before it that the converter folds into its op (a Rescaling), left unannotated, keeps tfmot from quantizing that input; convert the QAT model with a representative dataset so the converter calibrates it".into()
        }
        Reason::NotNamedByPtq => {
            "PTQ fuses it into a neighbouring op (no op is named after it) and runs that op in integer".into()
        }
        Reason::FusedInto { layer } => {
            format!(
                "PTQ fuses it into one op with '{layer}', whose quantizer gives that op's output"
            )
        }
        Reason::PartlyFoldedInto { layer } => format!(
            "PTQ folds part of '{layer}' into its op; the converter calibrates '{layer}', whose own op has a scale of its own too"
        ),
    }
}

/// Thousands separators for byte counts: `1,234,567`.
pub fn thousands(n: u64) -> String {
    crate::error::thousands(n)
}

/// A workaround in words.
pub fn workaround_text(w: crate::advice::Workaround) -> &'static str {
    match w {
        crate::advice::Workaround::SplitOutputs => {
            "split the layer into one layer per output, or move it out of the model"
        }
        crate::advice::Workaround::CalibrateTfOp => {
            "convert the QAT model with a representative dataset as well, so the converter calibrates this op's output; or replace the TF op with a Keras layer tfmot can quantize"
        }
        crate::advice::Workaround::CalibrateFold => {
            "leave it and its BatchNormalization unannotated and convert the QAT model with a representative dataset as well, so the converter folds and quantizes them; or, for a Conv1D, write it as a Conv2D with a (1, k) kernel, which tfmot's Conv2D+BatchNormalization transform folds"
        }
        crate::advice::Workaround::CalibrateInner => {
            "convert the QAT model with a representative dataset as well, so the converter calibrates the inner tensors; or split the layer into layers tfmot can quantize one by one, or do this step outside the model"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_cut_to_what_a_table_lays_out_fast() {
        let short = "a sentence, with words".to_owned();
        assert_eq!(fit_cell(short.clone()), short);
        // A run without spaces keeps its first CELL_WORD_CHARS characters.
        let word = "é".repeat(CELL_WORD_CHARS + 5);
        let cut = fit_cell(format!("x {word} y"));
        assert_eq!(cut, format!("x {}… y", "é".repeat(CELL_WORD_CHARS)));
        // Past CELL_CHARS the rest is counted, not shown.
        let long = "ab ".repeat(CELL_CHARS);
        let cut = fit_cell(long);
        assert!(cut.starts_with("ab ab "), "{cut}");
        assert!(
            cut.ends_with(&format!(
                "… ({} more characters: --format text or json shows all)",
                thousands(2 * CELL_CHARS as u64)
            )),
            "{}",
            &cut[cut.len() - 80..]
        );
        let marker = format!(
            "… ({} more characters: --format text or json shows all)",
            thousands(2 * CELL_CHARS as u64)
        );
        assert_eq!(cut.chars().count(), CELL_CHARS + marker.chars().count());
    }

    #[test]
    fn op_lists_in_cells_are_short() {
        use crate::model::OpId;
        let ops: Vec<OpId> = (0..25).map(OpId).collect();
        assert_eq!(op_list_short(&ops[..2]), "#0,#1");
        let s = op_list_short(&ops);
        assert!(s.starts_with("#0,#1,"), "{s}");
        assert!(s.ends_with(",#19 … and 5 more"), "{s}");
    }

    #[test]
    fn number_formats() {
        assert_eq!(scale(0.003_921_569), "3.921569e-3");
        assert_eq!(scale(1.0 / 256.0), "3.90625e-3");
        assert_eq!(scale_short(0.003_921_569), "3.922e-3");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(thousands(0), "0");
        assert_eq!(dims(&[-1, 16, 3]), "[-1,16,3]");
        // Exact text reads back as the same f32.
        let v = 0.123_456_79_f32;
        assert_eq!(scale(v).parse::<f32>().unwrap().to_bits(), v.to_bits());
    }
}
