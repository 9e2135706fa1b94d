//! `tflq snapshot`: the canonical placement text, and checking it in CI.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::SnapshotOptions;
use anyhow::Context as _;
use clap::Args;

use super::{End, FINDINGS, OK};

/// Print the model's quantization placement as canonical text, or check it
/// against a committed file.
#[derive(Args, Debug)]
#[command(after_help = "\
Example:
  tflq snapshot model.tflite --update model.tflq-snapshot   # write or refresh
  tflq snapshot model.tflite --check model.tflq-snapshot    # in CI

By default the text holds structural facts only (ops, layers, dtypes,
per-tensor/per-axis, QUANTIZE/DEQUANTIZE ops, float islands): a retrain or
recalibration leaves it unchanged, and so does a retrain in a new Python
session (Keras auto-numbered layer names are canonicalised; --exact-names
keeps them). Lines carry no op index, so one inserted op changes a line or
two. --with-scales adds scales and zero points (per-channel arrays as count,
range and digest). Format 1 snapshots need one --update.

Exit status: 0 snapshot printed, written or equal; 1 --check found a
difference (a unified diff is printed); 2 usage error, unreadable model or
unreadable snapshot file.")]
pub struct Opts {
    /// The .tflite model (- reads it from standard input).
    model: PathBuf,
    /// Include scales and zero points, rounded to DIGITS significant digits.
    #[arg(long, value_name = "DIGITS", num_args = 0..=1, default_missing_value = "4", value_parser = clap::value_parser!(u8).range(1..=9))]
    with_scales: Option<u8>,
    /// Compare with this committed snapshot: exit 1 and print a diff when it differs.
    #[arg(long, value_name = "FILE", conflicts_with = "update")]
    check: Option<PathBuf>,
    /// Write the snapshot to this file.
    #[arg(long, value_name = "FILE")]
    update: Option<PathBuf>,
    /// Keep layer and subgraph names exactly as stored (by default Keras'
    /// per-session auto numbers and TF function counters are canonicalised).
    #[arg(long)]
    exact_names: bool,
}

pub(super) fn run(o: Opts, out: &mut dyn Write, _end: End) -> anyhow::Result<u8> {
    let file = super::open(&o.model)?;
    let text = crate::snapshot(
        file.model(),
        SnapshotOptions {
            scale_digits: o.with_scales,
            exact_names: o.exact_names,
        },
    );
    if let Some(path) = &o.check {
        let expected = read_snapshot(path)?;
        let label = super::label(&o.model);
        return Ok(
            match crate::report::snapshot::diff(
                &expected,
                &text,
                &path.display().to_string(),
                &label,
            ) {
                None => {
                    writeln!(out, "snapshot {} matches {label}", path.display())?;
                    OK
                }
                Some(d) => {
                    out.write_all(d.as_bytes())?;
                    FINDINGS
                }
            },
        );
    }
    if let Some(path) = &o.update {
        std::fs::write(path, &text)
            .with_context(|| format!("cannot write snapshot {}", path.display()))?;
        writeln!(out, "wrote {}", path.display())?;
        return Ok(OK);
    }
    out.write_all(text.as_bytes())?;
    Ok(OK)
}

/// The most a snapshot file may hold: a model's snapshot is a line per op.
const SNAPSHOT_LIMIT: u64 = 1 << 30;

/// A committed snapshot: a regular file (a FIFO would block, /dev/zero never
/// ends) of UTF-8 text, at most [`SNAPSHOT_LIMIT`] bytes.
fn read_snapshot(path: &Path) -> anyhow::Result<String> {
    let cannot = || format!("cannot read snapshot {}", path.display());
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{} (create it with --update)", cannot()))?;
    if !meta.is_file() {
        anyhow::bail!("{}: it is not a regular file", cannot());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SNAPSHOT_LIMIT + 1).read_to_end(&mut bytes))
        .with_context(cannot)?;
    if bytes.len() as u64 > SNAPSHOT_LIMIT {
        anyhow::bail!("{}: it is larger than 1 GiB, not a snapshot", cannot());
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: it is not UTF-8 text", cannot()))
}
