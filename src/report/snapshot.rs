//! The canonical placement text that model repositories commit and check in
//! CI (`tflq snapshot`). By default it holds structural facts only (op kinds,
//! layers, dtypes, quantization granularity, quantizer ops, float islands), so
//! a retrain or a recalibration leaves it unchanged, while a moved quantizer,
//! an op dropped to float or an added DEQUANTIZE changes it.
//!
//! Byte-stable: ordering follows the file, no hash maps, no locale, no
//! terminal, numbers formatted one fixed way; the first line names the format
//! version.
//!
//! Stable across retrains and sessions (format 2): lines carry no absolute
//! op index, so inserting one op changes a line or two, not every following
//! one; ops are referred to by kind and layer; Keras' per-session
//! auto-number suffixes (`conv2d_7`) and TF function counters in subgraph
//! names are canonicalised (`exact_names` keeps them); per-channel scales are
//! summarised by count, range and digest.

use std::fmt::Write as _;

use crate::analysis::{FindingKind, Inspection, OpInfo, SubgraphQuant};
use crate::model::{Activation, Granularity, Model, OpId, Subgraph, Tensor, TensorId};

/// First line of every snapshot; bumped when the format changes.
pub(crate) const HEADER: &str = "tflq snapshot 2";

/// What a snapshot includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotOptions {
    /// Add scales and zero points rounded to this many significant digits.
    pub scale_digits: Option<u8>,
    /// Keep layer and subgraph names exactly as stored (no canonical
    /// renumbering of Keras auto names and TF function counters).
    pub exact_names: bool,
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

/// FNV-1a over the texts: a short, stable fingerprint of an array.
fn digest(values: &[String]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for v in values {
        for b in v.bytes().chain(std::iter::once(b',')) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
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
        let scales: Vec<String> = q.scale.iter().map(|v| round(v, d)).collect();
        let zps: Vec<String> = q.zero_point.iter().map(|z| z.to_string()).collect();
        if scales.len() == 1 {
            let _ = write!(
                s,
                " s={} zp={}",
                scales[0],
                zps.first().map_or("0", String::as_str)
            );
        } else {
            // Per-channel: count, range and a digest of the rounded values,
            // not thousands of numbers on one line (JSON has them all).
            let (lo, hi) = q.scale_range().unwrap_or((0.0, 0.0));
            let _ = write!(
                s,
                " s=[{}: {}..{} #{:08x}]",
                scales.len(),
                round(lo, d),
                round(hi, d),
                digest(&scales)
            );
            match (q.zero_point.iter().min(), q.zero_point.iter().max()) {
                (Some(0), Some(0)) | (None, None) => s.push_str(" zp=0"),
                (Some(a), Some(b)) => {
                    let _ = write!(s, " zp=[{}: {a}..{b} #{:08x}]", zps.len(), digest(&zps));
                }
                _ => {}
            }
        }
    }
    s
}

/// The snapshot text of a model, from its inspection ([`crate::snapshot`]
/// makes both).
pub fn render(model: &Model, insp: &Inspection, opts: SnapshotOptions) -> String {
    let names = canonical_names(model, insp, opts);
    let name = |n: &str| -> String { names.get(n).cloned().unwrap_or_else(|| n.to_owned()) };
    let mut s = String::new();
    let _ = writeln!(s, "{HEADER}");
    let _ = writeln!(s, "scheme: {}", insp.scheme.kind);
    for sig in &model.signatures {
        let sg = model.subgraph(sig.subgraph);
        let io = |v: &[(String, TensorId)]| {
            v.iter()
                .map(|(n, t)| format!("{}: {}", name(n), tensor(sg, *t, opts)))
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
        subgraph_section(&mut s, (i, sg), &insp.subgraphs[i], opts, &name);
    }
    s
}

/// Canonical names (none with `exact_names`), decided over every layer and
/// signature name in the order the snapshot shows them.
fn canonical_names(
    model: &Model,
    insp: &Inspection,
    opts: SnapshotOptions,
) -> std::collections::BTreeMap<String, String> {
    if opts.exact_names {
        return Default::default();
    }
    let sig_names = model
        .signatures
        .iter()
        .flat_map(|sig| sig.inputs.iter().chain(&sig.outputs))
        .map(|(n, _)| n.as_str());
    let layer_names = insp
        .subgraphs
        .iter()
        .flat_map(|q| q.ops.iter())
        .filter_map(|o| o.layer.as_deref());
    insp.producer.canonical_names(sig_names.chain(layer_names))
}

/// Subgraph `i`: its name, inputs and outputs, one line per op, and its
/// placement.
fn subgraph_section(
    s: &mut String,
    (i, sg): (usize, &Subgraph),
    q: &SubgraphQuant,
    opts: SnapshotOptions,
    name: &dyn Fn(&str) -> String,
) {
    let _ = writeln!(s);
    let sg_name = if opts.exact_names {
        sg.name.clone()
    } else {
        crate::producer::canonical_subgraph_name(&sg.name)
    };
    let _ = writeln!(s, "subgraph {i} \"{sg_name}\"");
    let list = |v: &[TensorId]| {
        v.iter()
            .map(|t| tensor(sg, *t, opts))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(s, "  inputs: {}", list(&sg.inputs));
    let _ = writeln!(s, "  outputs: {}", list(&sg.outputs));
    for op in sg.op_ids() {
        op_line(s, sg, op, &q.ops[op.index()], opts, name);
    }
    // An op named by kind and layer: `CONV_2D(conv1)`.
    let op_ref = |o: OpId| -> String {
        let kind = sg.op(o).kind.to_string();
        match q.ops.get(o.index()).and_then(|i| i.layer.as_deref()) {
            Some(l) => format!("{kind}({})", name(l)),
            None => kind,
        }
    };
    let refs = |v: &[OpId]| v.iter().map(|o| op_ref(*o)).collect::<Vec<_>>().join(",");
    let placement: Vec<String> = q
        .findings
        .iter()
        .filter_map(|f| placement_line(&f.kind, &refs(&f.ops), &refs))
        .collect();
    if placement.is_empty() {
        let _ = writeln!(s, "  placement: no quantizer ops");
    }
    for line in placement {
        let _ = writeln!(s, "  placement: {line}");
    }
}

/// One op: kind, fused activation, calls, compute, layer and tensors.
fn op_line(
    s: &mut String,
    sg: &Subgraph,
    op: OpId,
    info: &OpInfo,
    opts: SnapshotOptions,
    name: &dyn Fn(&str) -> String,
) {
    let o = sg.op(op);
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
        "  {head} [{}] layer={}: {} -> {}",
        info.compute.name(),
        info.layer.as_deref().map_or_else(|| "-".to_owned(), name),
        ins.join(", "),
        outs.join(", ")
    );
}

/// A finding's placement line, `ops` its ops named; `None` for spec breaks,
/// which depend on values, not placement.
fn placement_line(
    kind: &FindingKind,
    ops: &str,
    refs: &dyn Fn(&[OpId]) -> String,
) -> Option<String> {
    Some(match kind {
        FindingKind::QuantizeInput { to } => format!("quantize-input {ops} -> {to}"),
        FindingKind::Quantize { to } => format!("quantize {ops} -> {to}"),
        FindingKind::Requantize { .. } => format!("requantize {ops}"),
        FindingKind::TypeConversion { from, to } => {
            format!("type-conversion {ops} {from} -> {to}")
        }
        FindingKind::DequantizeOutput { from } => format!("dequantize-output {ops} {from} ->"),
        FindingKind::Dequantize { from } => format!("dequantize {ops} {from} ->"),
        FindingKind::ConstantDequantize { from, .. } => {
            format!("constant-dequantize {ops} {from}")
        }
        FindingKind::FloatIsland { entries, exits, .. } => format!(
            "float-island {ops} entries=[{}] exits=[{}]",
            refs(entries),
            refs(exits)
        ),
        FindingKind::HybridOp { .. } => format!("hybrid {ops}"),
        _ => return None,
    })
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
pub(crate) const DIFF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

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
