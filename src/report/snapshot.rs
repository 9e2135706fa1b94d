//! The canonical placement text that model repositories commit and check in
//! CI (`tflq snapshot`). By default it holds structural facts only (op kinds,
//! layers, dtypes, quantization granularity, quantizer ops, float islands), so
//! a retrain or a recalibration leaves it unchanged, while a moved quantizer,
//! an op dropped to float or an added DEQUANTIZE changes it.
//!
//! Byte-stable: ordering follows the file, no hash maps, no locale, no
//! terminal, numbers formatted one fixed way; the first line names the format
//! version.

use std::fmt::Write as _;

use crate::analysis::{self, FindingKind};
use crate::model::{Activation, Granularity, Model, Subgraph, Tensor, TensorId};

/// First line of every snapshot; bumped when the format changes.
pub const HEADER: &str = "tflq snapshot 1";

/// What a snapshot includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotOptions {
    /// Add scales and zero points rounded to this many significant digits.
    pub scale_digits: Option<u8>,
}

fn granularity(t: &Tensor) -> String {
    match t.granularity() {
        Granularity::None => String::new(),
        Granularity::Calibrated => "calibrated".to_owned(),
        Granularity::PerTensor => "per-tensor".to_owned(),
        Granularity::PerAxis { axis, .. } => format!("per-axis({axis})"),
        Granularity::Blockwise { block_size } => format!("blockwise({block_size})"),
        Granularity::Other => "custom".to_owned(),
    }
}

/// `digits` significant digits, scientific: the same bytes on every machine.
fn round(v: f32, digits: u8) -> String {
    let d = usize::from(digits.clamp(1, 9)) - 1;
    format!("{v:.d$e}")
}

fn tensor(sg: &Subgraph, id: TensorId, opts: SnapshotOptions) -> String {
    let t = sg.tensor(id);
    let mut s = format!("{}", t.dtype);
    if t.is_constant() {
        s.push_str(" const");
    }
    let g = granularity(t);
    if !g.is_empty() {
        s.push(' ');
        s.push_str(&g);
    }
    if let (Some(d), Some(q)) = (opts.scale_digits, &t.quantization)
        && q.is_affine()
    {
        let scales: Vec<String> = q.scale.iter().map(|v| round(*v, d)).collect();
        let zps: Vec<String> = q.zero_point.iter().map(|z| z.to_string()).collect();
        if scales.len() == 1 {
            let _ = write!(
                s,
                " s={} zp={}",
                scales[0],
                zps.first().map_or("0", String::as_str)
            );
        } else {
            let _ = write!(s, " s=[{}] zp=[{}]", scales.join(","), zps.join(","));
        }
    }
    s
}

/// The snapshot text of a model.
///
/// ```
/// # fn main() -> Result<(), tflq::Error> {
/// let file = tflq::ModelFile::open("testdata/ptq_int8.tflite")?;
/// let text = tflq::snapshot(file.model(), tflq::SnapshotOptions::default());
/// assert!(text.starts_with("tflq snapshot 1\n"));
/// // In a model repository's tests: insta::assert_snapshot!(text);
/// # Ok(()) }
/// ```
pub fn snapshot(model: &Model, opts: SnapshotOptions) -> String {
    let insp = analysis::inspect(model);
    let mut s = String::new();
    let _ = writeln!(s, "{HEADER}");
    let _ = writeln!(s, "scheme: {}", insp.scheme.kind);
    for sig in &model.signatures {
        let sg = model.subgraph(sig.subgraph);
        let io = |v: &[(String, TensorId)]| {
            v.iter()
                .map(|(n, t)| format!("{n}: {}", tensor(sg, *t, opts)))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = writeln!(
            s,
            "signature {} -> subgraph {}: in {}; out {}",
            sig.key,
            sig.subgraph,
            io(&sig.inputs),
            io(&sig.outputs)
        );
    }
    for (i, sg) in model.subgraphs.iter().enumerate() {
        let q = &insp.subgraphs[i];
        let _ = writeln!(s);
        let _ = writeln!(s, "subgraph {i} \"{}\"", sg.name);
        let list = |v: &[TensorId]| {
            v.iter()
                .map(|t| tensor(sg, *t, opts))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "  inputs: {}", list(&sg.inputs));
        let _ = writeln!(s, "  outputs: {}", list(&sg.outputs));
        for op in sg.op_ids() {
            let o = sg.op(op);
            let info = &q.ops[op.index()];
            let mut head = o.kind.to_string();
            if let Some(a) = o.activation.filter(|a| *a != Activation::None) {
                head.push('+');
                head.push_str(&a.name());
            }
            for (role, to) in &o.calls {
                let _ = write!(head, " {}=subgraph{to}", role.name());
            }
            let ins: Vec<String> = o
                .inputs
                .iter()
                .map(|t| t.map_or_else(|| "-".to_owned(), |t| tensor(sg, t, opts)))
                .collect();
            let outs: Vec<String> = o.outputs.iter().map(|t| tensor(sg, *t, opts)).collect();
            let _ = writeln!(
                s,
                "  op {op} {head} [{}] layer={}: {} -> {}",
                info.compute.name(),
                info.layer.as_deref().unwrap_or("-"),
                ins.join(", "),
                outs.join(", ")
            );
        }
        let mut placement = Vec::new();
        for f in &q.findings {
            let ops = f
                .ops
                .iter()
                .map(|o| format!("#{o}"))
                .collect::<Vec<_>>()
                .join(",");
            let line = match &f.kind {
                FindingKind::QuantizeInput { to } => format!("quantize-input {ops} -> {to}"),
                FindingKind::Quantize { to } => format!("quantize {ops} -> {to}"),
                FindingKind::Requantize { .. } => format!("requantize {ops}"),
                FindingKind::TypeConversion { from, to } => {
                    format!("type-conversion {ops} {from} -> {to}")
                }
                FindingKind::DequantizeOutput { from } => {
                    format!("dequantize-output {ops} {from} ->")
                }
                FindingKind::Dequantize { from } => format!("dequantize {ops} {from} ->"),
                FindingKind::ConstantDequantize { from, .. } => {
                    format!("constant-dequantize {ops} {from}")
                }
                FindingKind::FloatIsland { entries, exits, .. } => {
                    let e = entries
                        .iter()
                        .map(|o| format!("#{o}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    let x = exits
                        .iter()
                        .map(|o| format!("#{o}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    format!("float-island {ops} entries=[{e}] exits=[{x}]")
                }
                FindingKind::HybridOp { .. } => format!("hybrid {ops}"),
                // Spec breaks depend on values, not placement.
                _ => continue,
            };
            placement.push(line);
        }
        if placement.is_empty() {
            let _ = writeln!(s, "  placement: no quantizer ops");
        }
        for line in placement {
            let _ = writeln!(s, "  placement: {line}");
        }
    }
    s
}

/// Normalise a snapshot read from disk (CRLF checkouts) for comparison.
pub fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// How long [`diff`] may search for the smallest diff. Myers' algorithm
/// costs the product of the length and the number of changes: two
/// 100,000-line snapshots that differ everywhere took a minute. Past this
/// it stops refining and shows the rest as whole runs removed and added,
/// still a correct diff; any real change of a model finishes far sooner.
pub const DIFF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A unified diff from `expected` (the committed file) to `actual`, or `None` when equal.
pub fn diff(
    expected: &str,
    actual: &str,
    expected_label: &str,
    actual_label: &str,
) -> Option<String> {
    let expected = normalize(expected);
    if expected == actual {
        return None;
    }
    let d = similar::TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(expected.as_str(), actual);
    Some(
        d.unified_diff()
            .context_radius(3)
            .header(expected_label, actual_label)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_fixed() {
        assert_eq!(round(0.003_921_569, 3), "3.92e-3");
        assert_eq!(round(1.0, 1), "1e0");
        assert_eq!(round(123.456, 4), "1.235e2");
    }

    #[test]
    fn diff_is_unified_and_none_when_equal() {
        assert_eq!(diff("a\nb\n", "a\nb\n", "x", "y"), None);
        assert_eq!(diff("a\r\nb\r\n", "a\nb\n", "x", "y"), None);
        let d = diff("a\nb\n", "a\nc\n", "old", "new").unwrap();
        assert!(d.starts_with("--- old\n+++ new\n"), "{d}");
        assert!(d.contains("-b\n+c\n"), "{d}");
    }
}
