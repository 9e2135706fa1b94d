//! Shared test helpers: fixture paths and loading, and the whole pipeline
//! of a model or a pair ([`pipeline`], shared with the `pipeline` fuzz target).
#![allow(dead_code)]

pub mod pipeline;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A committed fixture by file name.
pub fn fixture(name: &str) -> PathBuf {
    root().join("testdata").join(name)
}

/// Load a model whose bytes live for the rest of the test process: a
/// [`tflq::Model`] borrows its tensor names from its bytes, and tests that
/// build models in helpers want to return them on their own.
pub fn leak_load(bytes: Vec<u8>) -> tflq::Model<'static> {
    tflq::load(Box::leak(bytes.into_boxed_slice())).expect("model loads")
}

/// A committed fixture, loaded (see [`leak_load`]).
pub fn fixture_model(name: &str) -> tflq::Model<'static> {
    leak_load(std::fs::read(fixture(name)).expect("fixture"))
}

/// Every committed `.tflite` fixture, sorted by name.
pub fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("testdata"))
        .expect("testdata")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .collect();
    v.sort();
    v
}
