//! `tflq measure` reports: table (worst first), text, JSON, Model Explorer
//! node data with numeric values, and the kept-float layers as a tfmot plan.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::{Style, Tone};
use crate::measure::Role;
use crate::measure::result::{Cost, Measurement, Row, SideResult};
use crate::measure::stats::Metrics;
use crate::model::Model;

/// Output formats of `tflq measure` (also its `--format` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum MeasureFormat {
    /// Tables, worst layer first (default).
    Table,
    /// Stable lines, one per value.
    Text,
    /// Versioned JSON (docs/json.md).
    Json,
    /// Model Explorer node data: each op's local SQNR (dB) on a gradient.
    ModelExplorer,
    /// The tfmot plan module of `tflq plan` (of the second file) with the
    /// layers to keep in float left unannotated.
    Python,
}

impl MeasureFormat {
    /// Every format, in `--help` order.
    pub const ALL: [MeasureFormat; 5] = [
        MeasureFormat::Table,
        MeasureFormat::Text,
        MeasureFormat::Json,
        MeasureFormat::ModelExplorer,
        MeasureFormat::Python,
    ];

    /// Parse a format name.
    pub fn parse(s: &str) -> Option<MeasureFormat> {
        MeasureFormat::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Its name (`model-explorer`), as the command line spells it.
    pub fn name(self) -> String {
        match self {
            MeasureFormat::Table => "table",
            MeasureFormat::Text => "text",
            MeasureFormat::Json => "json",
            MeasureFormat::ModelExplorer => "model-explorer",
            MeasureFormat::Python => "python",
        }
        .to_owned()
    }
}

/// Layout settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Table width.
    pub width: u16,
    /// The side Model Explorer data is for (`ptq` or `qat`).
    pub side: &'a str,
    /// For the Python format: the plan with the layers to keep in float
    /// ([`crate::measure::keep_float_plan`]), computed by the caller.
    pub plan: Option<&'a crate::advice::Plan>,
}

/// Render `m`. `labels` are the labels of the float model, the two
/// quantized models (`m.sides` in order) and the QAT model's own float model
/// (empty when absent); `quantized` the models of `m.sides`.
pub fn render(
    m: &Measurement,
    float: &Model<'_>,
    quantized: &[&Model<'_>],
    labels: &[&str],
    format: MeasureFormat,
    settings: Settings<'_>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let label = |i: usize| labels.get(i).copied().unwrap_or("");
    match format {
        MeasureFormat::Json => {
            let problem = m.compare_problem.as_ref().map(|p| problem_text(p, labels));
            super::json::emit(
                w,
                &super::json::measure::document(m, float, quantized, labels, problem),
            )
        }
        MeasureFormat::Text => text(m, labels, w),
        MeasureFormat::Table => table(m, labels, settings.width, w),
        MeasureFormat::ModelExplorer => {
            let (i, s) = crate::measure::pick_side(m, settings.side)
                .ok_or_else(|| io::Error::other("nothing measured"))?;
            let model = quantized.get(i).copied().unwrap_or(float);
            model_explorer(model, s, w)
        }
        MeasureFormat::Python => {
            let plan = settings
                .plan
                .ok_or_else(|| io::Error::other("no keep-float plan given"))?;
            super::plan::render(plan, label(1), super::Format::Python, Style::default(), w)
        }
    }
}

/// `31.25` for a dB value, `exact` for no error, `-` for none.
fn db_text(m: Option<&Metrics>) -> String {
    match m {
        None => "-".into(),
        Some(m) => match m.sqnr_db {
            None => "exact".into(),
            Some(v) if v.is_finite() => format!("{v:.2}"),
            Some(_) => "-inf".into(),
        },
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "-".into(),
    }
}

fn g(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        format!("{v:.4e}")
    }
}

/// An output's SQNR, cosine (to `digits` decimals) and largest error.
fn output_numbers(o: &crate::measure::result::Output, digits: usize) -> (String, String, String) {
    let m = o.metrics.as_ref();
    (
        db_text(m),
        num(m.and_then(|m| m.cosine), digits),
        m.map_or("-".into(), |m| g(m.max_abs_error)),
    )
}

fn op_text(r: &Row) -> String {
    match r.op {
        Some(o) => format!("#{} {}", o.0, r.op_kind),
        None => "input".into(),
    }
}

fn side_title(s: &SideResult, labels: &[&str], i: usize) -> String {
    let label = labels.get(i.saturating_add(1)).copied().unwrap_or("");
    let against = if s.float == 0 {
        String::new()
    } else {
        format!(
            " (against its own float model {})",
            labels.get(3).copied().unwrap_or("")
        )
    };
    format!(
        "{} {label}{against}: {} of {} float ops paired; model output SQNR {} dB",
        s.role.name().to_uppercase(),
        s.paired_ops,
        s.float_ops,
        db_text(s.output_total.as_ref())
    )
}

fn header(m: &Measurement, labels: &[&str], w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "measured against {}: {} sample(s){}{}",
        labels.first().copied().unwrap_or(""),
        m.samples,
        if m.options.inputs.is_empty() {
            String::new()
        } else {
            format!(" from {}", m.options.inputs)
        },
        if m.options.runtime.is_empty() {
            String::new()
        } else {
            format!(", run by {}", m.options.runtime)
        }
    )
}

fn text(m: &Measurement, labels: &[&str], w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "tflq measure, text format 1")?;
    header(m, labels, w)?;
    for (i, s) in m.sides.iter().enumerate() {
        writeln!(w, "{}", side_title(s, labels, i))?;
        for o in &s.outputs {
            let (sqnr, cosine, max) = output_numbers(o, 6);
            writeln!(
                w,
                "output {} {}: sqnr={sqnr} cosine={cosine} max_abs={max}",
                o.index, o.q_name
            )?;
        }
        for r in &s.rows {
            writeln!(
                w,
                "{} {} layer={} rank={} accumulated={} local={} layerwise={} rmse/scale={} cosine={} max_abs={}",
                s.role.name(),
                op_text(r).replace(' ', ":"),
                r.layer.as_deref().unwrap_or("-"),
                r.rank,
                db_text(r.accumulated.as_ref()),
                db_text(r.local.as_ref()),
                db_text(r.layerwise.as_ref()),
                num(r.layerwise.as_ref().and_then(|m| m.rmse_over_scale), 4),
                num(r.accumulated.as_ref().and_then(|m| m.cosine), 6),
                r.accumulated
                    .as_ref()
                    .map_or("-".into(), |m| g(m.max_abs_error)),
            )?;
        }
        keep_float_text(s, w)?;
        for n in &s.notes {
            writeln!(w, "note: {n}")?;
        }
    }
    findings_text(m, labels, w)?;
    for (p, n) in &m.problems {
        writeln!(w, "problem: {p} ({n} sample(s))")?;
    }
    Ok(())
}

fn keep_float_text(s: &SideResult, w: &mut dyn Write) -> io::Result<()> {
    let d = &s.denylist;
    if d.kept.is_empty() {
        return writeln!(
            w,
            "keep-float {}: none needed for {:.1} dB (model output {} dB)",
            s.role.name(),
            d.target_sqnr_db,
            d.measured_sqnr_db
                .map_or("exact".into(), |v| format!("{v:.2}"))
        );
    }
    let names: Vec<String> = d
        .kept
        .iter()
        .filter_map(|k| s.rows.get(k.row))
        .map(|r| r.layer.clone().unwrap_or_else(|| op_text(r)))
        .collect();
    writeln!(
        w,
        "keep-float {}: {} layer(s) for {:.1} dB ({}): {}; predicted {} dB",
        s.role.name(),
        d.kept.len(),
        d.target_sqnr_db,
        if d.reached { "reached" } else { "not reached" },
        names.join(", "),
        d.kept
            .last()
            .and_then(|k| k.predicted_sqnr_db)
            .map_or("-".into(), |v| format!("{v:.2}"))
    )?;
    writeln!(w, "denylisted_nodes {:?}", s.denylisted_nodes())
}

fn cost_text(m: &Measurement, role: Role, c: &Cost) -> String {
    let Some(s) = m.side(role) else {
        return "-".into();
    };
    let at = |x: Option<(usize, Option<f64>)>| {
        x.and_then(|(i, v)| {
            let r = s.rows.get(i)?;
            Some(format!(
                "{} dB at {}",
                v.map_or("exact".into(), |v| format!("{v:.2}")),
                r.layer.clone().unwrap_or_else(|| op_text(r))
            ))
        })
    };
    match (at(c.exit), at(c.worst_local)) {
        (None, None) => "not measured".into(),
        (e, l) => format!(
            "{} (worst local {})",
            e.unwrap_or_else(|| "-".into()),
            l.unwrap_or_else(|| "-".into())
        ),
    }
}

/// `compare`'s own words for a pair it refuses.
fn problem_text(p: &crate::compare::PairProblem, labels: &[&str]) -> String {
    let pair = super::compare::Pair {
        ptq_label: labels.get(1).copied().unwrap_or(""),
        qat_label: labels.get(2).copied().unwrap_or(""),
    };
    super::compare::problem(&pair, p)
}

fn findings_text(m: &Measurement, labels: &[&str], w: &mut dyn Write) -> io::Result<()> {
    if let Some(p) = &m.compare_problem {
        writeln!(
            w,
            "findings: none: compare refuses the pair: {}",
            problem_text(p, labels)
        )?;
    }
    for f in &m.findings {
        writeln!(
            w,
            "finding {} {} layer={}: QAT {}; PTQ {}",
            f.kind.name(),
            f.severity.name(),
            f.layer.as_deref().unwrap_or("-"),
            cost_text(m, Role::Qat, &f.qat),
            cost_text(m, Role::Ptq, &f.ptq),
        )?;
    }
    Ok(())
}

fn table(m: &Measurement, labels: &[&str], width: u16, w: &mut dyn Write) -> io::Result<()> {
    let style = Style {
        color: false,
        width,
    };
    header(m, labels, w)?;
    for (i, s) in m.sides.iter().enumerate() {
        writeln!(w)?;
        writeln!(w, "{}", side_title(s, labels, i))?;
        let mut t = style.table();
        t.set_header(vec![
            "rank",
            "op",
            "layer",
            "local dB",
            "accum. dB",
            "RMSE/scale",
            "cosine",
            "max abs err",
        ]);
        let mut rows: Vec<&Row> = s.rows.iter().collect();
        rows.sort_by_key(|r| r.rank);
        for r in rows {
            let tone = r
                .local
                .as_ref()
                .and_then(|m| m.sqnr_db)
                .filter(|v| *v < s.denylist.target_sqnr_db)
                .map(|_| Tone::Warn);
            t.add_row(vec![
                style.cell(r.rank.to_string(), None),
                style.cell(op_text(r), None),
                style.cell(r.layer.clone().unwrap_or_else(|| "-".into()), None),
                style.cell(db_text(r.local.as_ref()), tone),
                style.cell(db_text(r.accumulated.as_ref()), None),
                style.cell(
                    num(r.layerwise.as_ref().and_then(|m| m.rmse_over_scale), 3),
                    None,
                ),
                style.cell(num(r.accumulated.as_ref().and_then(|m| m.cosine), 5), None),
                style.cell(
                    r.accumulated
                        .as_ref()
                        .map_or("-".into(), |m| g(m.max_abs_error)),
                    None,
                ),
            ]);
        }
        writeln!(w, "{t}")?;
        for o in &s.outputs {
            let (sqnr, cosine, max) = output_numbers(o, 5);
            writeln!(
                w,
                "output {} ({}): SQNR {sqnr} dB, cosine {cosine}, max abs error {max}",
                o.index, o.q_name
            )?;
        }
        keep_float_text(s, w)?;
        for n in &s.notes {
            writeln!(w, "note: {n}")?;
        }
    }
    if !m.findings.is_empty() || m.compare_problem.is_some() {
        writeln!(w)?;
        findings_text(m, labels, w)?;
    }
    for (p, n) in &m.problems {
        writeln!(w, "problem: {p} ({n} sample(s))")?;
    }
    Ok(())
}

/// The exact-match value Model Explorer shows (a number is required).
pub use crate::measure::ops::EXACT_DB;

/// One graph's node data for Model Explorer, its fields in alphabetical
/// order.
#[derive(Serialize)]
struct SqnrGraph<'a> {
    gradient: [GradientStop; 3],
    name: String,
    results: BTreeMap<&'a str, SqnrValue>,
}

#[derive(Serialize)]
struct SqnrValue {
    value: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GradientStop {
    bg_color: &'static str,
    stop: f64,
}

impl GradientStop {
    fn new(stop: f64, bg_color: &'static str) -> Self {
        GradientStop { bg_color, stop }
    }
}

/// Model Explorer node data: each measured op's local SQNR in dB (its
/// accumulated SQNR when it has no local one), on a red-to-green gradient;
/// the other ops of its segment show the same value, and a DEQUANTIZE the
/// value it reads ([`SideResult::op_sqnr`]).
fn model_explorer(model: &Model<'_>, s: &SideResult, w: &mut dyn Write) -> io::Result<()> {
    let ids = super::model_explorer::graph_ids(model);
    let Some(Some(id)) = ids.first() else {
        return Err(io::Error::other(
            "Model Explorer cannot tell the main subgraph apart from another of the same id",
        ));
    };
    let Some(sg) = model.subgraphs.first() else {
        return Err(io::Error::other("no subgraph"));
    };
    let keys = super::model_explorer::keys(sg);
    let mut results = BTreeMap::new();
    for (op, v) in &s.op_sqnr {
        if let Some(Some(key)) = keys.get(op.index()) {
            let value = Some((v.db * 100.0).round() / 100.0).filter(|v| v.is_finite());
            results.insert(key.as_str(), SqnrValue { value });
        }
    }
    let [red, yellow, green] = crate::measure::ops::SCALE_COLORS;
    let graph = SqnrGraph {
        gradient: [
            GradientStop::new(0.0, red),
            GradientStop::new(0.5, yellow),
            GradientStop::new(1.0, green),
        ],
        name: format!("tflq measure: {} local SQNR (dB)", s.role.name()),
        results,
    };
    let doc = BTreeMap::from([(id.as_str(), graph)]);
    super::json::emit(w, &doc)
}
