//! Replays the committed, minimised corpus of the `pipeline` fuzz target
//! (`tests/fuzz_corpus/`) through the same pipeline the fuzzer runs
//! (`tests/common/pipeline.rs`), so that plain `cargo test`, in CI too,
//! re-checks every input the fuzzer found worth keeping: loading, every
//! inspect format and view, snapshots, and comparisons of each input with
//! itself and of its two halves with each other.

mod common;

use std::path::PathBuf;

#[test]
fn every_committed_fuzz_input_goes_through_the_pipeline() {
    let dir = common::root().join("tests").join("fuzz_corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fuzz_corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} corpus files", files.len());
    let mut loaded = 0;
    let mut failures = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let (a, b) = common::pipeline::split(&data);
        let pair = tflq::load(a).is_ok() && tflq::load(b).is_ok();
        loaded += usize::from(tflq::load(&data).is_ok() || pair);
        let run = std::panic::catch_unwind(|| common::pipeline::bytes(&data));
        if let Err(panic) = run {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Many inputs reach past the loader, as a model or a pair; the others
    // keep the loader's error paths covered (78 of the 181 first committed).
    assert!(loaded * 4 > files.len(), "{loaded} of {} load", files.len());
}
