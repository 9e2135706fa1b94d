//! Shared test helpers: fixture paths and loading.
#![allow(dead_code)]

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

/// A writer that keeps nothing but makes the renderers do all their work.
/// `std::io::sink()` is no use for that: its `write_fmt` returns without
/// formatting its arguments, so a table written with `writeln!(w, "{t}")`
/// would never be laid out.
#[derive(Debug, Default)]
pub struct Discard {
    /// Bytes written.
    pub len: usize,
}

impl std::io::Write for Discard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.len += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs everything tflq does with a loaded model, so that hostile-input tests
/// cover the analyses and renderers as well as the loader.
pub fn exercise(model: &tflq::Model) {
    for sg in &model.subgraphs {
        let g = tflq::graph::Graph::new(sg);
        let _ = g.topo_order();
        for t in 0..sg.tensors.len() {
            let t = tflq::model::TensorId(t as u32);
            let _ = (g.producer(t), g.consumers(t).len());
        }
    }
    let _ = tflq::graph::reachable_subgraphs(model);
    let insp = tflq::analysis::inspect(model);
    use tflq::report::{Format, Style, inspect::View};
    for format in [Format::Table, Format::Text, Format::Json] {
        tflq::report::inspect::render(
            model,
            &insp,
            "m",
            format,
            View::default(),
            Style::default(),
            &mut Discard::default(),
        )
        .unwrap();
    }
    let _ = tflq::snapshot(
        model,
        tflq::SnapshotOptions {
            scale_digits: Some(3),
        },
    );
    let c = tflq::compare::compare(model, model, tflq::compare::Options::default());
    let pair = tflq::report::compare::Pair {
        ptq: model,
        ptq_label: "p",
        qat: model,
        qat_label: "q",
    };
    tflq::report::compare::render(
        &pair,
        &c,
        Format::Text,
        Style::default(),
        &mut Discard::default(),
    )
    .unwrap();
}

/// Compare two arbitrary models both ways and render the result.
pub fn exercise_pair(a: &tflq::Model, b: &tflq::Model) {
    use tflq::report::{Format, Style};
    for (p, q) in [(a, b), (b, a)] {
        let c = tflq::compare::compare(p, q, tflq::compare::Options::default());
        let pair = tflq::report::compare::Pair {
            ptq: p,
            ptq_label: "p",
            qat: q,
            qat_label: "q",
        };
        for format in [Format::Text, Format::Json, Format::Markdown, Format::Table] {
            tflq::report::compare::render(
                &pair,
                &c,
                format,
                Style::default(),
                &mut Discard::default(),
            )
            .unwrap();
        }
    }
}
