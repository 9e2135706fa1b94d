//! tflq reads TensorFlow Lite models and tells you where the quantizers belong.
//!
//! Layers, each depending only on those above it:
//! - [`mod@load`]: bytes → validated [`Model`] (the only code that reads the flatbuffer);
//! - [`model`]: tflq's own types: tensors, operators, quantization (tensor
//!   names borrowed from the file's bytes, everything else owned);
//! - [`graph`]: producers, consumers and order of a subgraph (petgraph);
//! - [`analysis`]: pure functions from a model to plain data (summary, findings);
//! - [`compare`]: alignment of a PTQ and a QAT model and placement advice;
//! - [`snapshot`]: the canonical placement text for model repositories;
//! - [`report`]: the only code that formats: table, text, JSON, markdown;
//! - [`cli`]: the `tflq` command line, run by the binary and by the Python
//!   package's console script.
//!
//! ```no_run
//! let file = tflq::ModelFile::open("model.tflite")?;
//! let summary = tflq::analysis::inspect(file.model());
//! println!("{}", summary.scheme.kind);
//! # Ok::<(), tflq::Error>(())
//! ```

#![warn(missing_docs)]

pub mod advice;
pub mod analysis;
pub mod cli;
pub mod compare;
pub mod error;
pub mod graph;
pub mod load;
pub mod measure;
pub mod model;
pub mod producer;
pub mod report;
pub mod rules;
#[cfg(feature = "synth")]
pub mod synth;

pub use error::{Error, Result};
pub use load::{ModelFile, load};
pub use model::Model;
pub use report::snapshot::{SnapshotOptions, snapshot};

/// Snapshot text of the model in `path` (see [`snapshot`]).
pub fn snapshot_file(
    path: impl AsRef<std::path::Path>,
    options: SnapshotOptions,
) -> Result<String> {
    let file = ModelFile::open(path)?;
    Ok(snapshot(file.model(), options))
}
