//! tflq reads TensorFlow Lite models and tells you where the quantizers belong.
//!
//! Layers, each depending only on those above it (`docs/architecture.md`):
//! - loading ([`load()`], [`ModelFile`]): bytes → validated [`Model`], the
//!   only code that reads the flatbuffer;
//! - [`model`]: tflq's own types: tensors, operators, quantization (tensor
//!   names borrowed from the file's bytes, everything else owned);
//! - [`graph`]: producers, consumers and order of a subgraph (petgraph);
//! - [`analysis`]: pure functions from a model to plain data ([`inspect`]);
//! - decisions, as data: [`mod@compare`] (alignment of a PTQ and a QAT model and
//!   its findings) and [`advice`] (the plan and the suggestions);
//! - [`pair_view`]: what a picture of a PTQ and a QAT model side by side
//!   shows (a finding's neighbourhood, the PTQ ops beside a QAT view);
//! - [`report`]: the only code that formats: table, text, JSON, markdown,
//!   pictures, snapshots; it turns data into words, decides nothing and runs
//!   no analysis (callers pass the inspections and views in);
//! - `cli` (the default `cli` feature): the `tflq` command line, run by the
//!   binary and by the Python package's console script. Without the feature
//!   the library builds without clap or anyhow.
//!
//! The types most programs need are re-exported here:
//!
//! ```no_run
//! let file = tflq::ModelFile::open("model.tflite")?;
//! let inspection = tflq::inspect(file.model());
//! println!("{}", inspection.scheme.kind);
//! # Ok::<(), tflq::Error>(())
//! ```

#![warn(missing_docs)]

pub mod advice;
pub mod analysis;
#[cfg(feature = "cli")]
pub mod cli;
pub mod compare;
mod error;
pub mod graph;
mod load;
pub mod measure;
pub mod model;
pub mod pair_view;
pub mod producer;
pub mod report;
mod rules;
#[cfg(feature = "synth")]
pub mod synth;

pub use advice::{Plan, plan};
pub use analysis::{Inspection, inspect};
pub use compare::{Comparison, compare};
pub use error::{Error, Result};
pub use load::{ModelFile, load};
pub use model::Model;
pub use report::snapshot::SnapshotOptions;
pub use report::{Format, Style};

/// The snapshot text of a model (`tflq snapshot`): canonical placement text
/// for model repositories to commit and check in CI.
///
/// ```
/// # fn main() -> Result<(), tflq::Error> {
/// let file = tflq::ModelFile::open("testdata/ptq_int8.tflite")?;
/// let text = tflq::snapshot(file.model(), tflq::SnapshotOptions::default());
/// assert!(text.starts_with("tflq snapshot 2\n"));
/// // In a model repository's tests: insta::assert_snapshot!(text);
/// # Ok(()) }
/// ```
pub fn snapshot(model: &Model, options: SnapshotOptions) -> String {
    report::snapshot::render(model, &inspect(model), options)
}

/// Snapshot text of the model in `path` (see [`snapshot`]).
pub fn snapshot_file(
    path: impl AsRef<std::path::Path>,
    options: SnapshotOptions,
) -> Result<String> {
    let file = ModelFile::open(path)?;
    Ok(snapshot(file.model(), options))
}
