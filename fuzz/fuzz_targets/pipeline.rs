//! Arbitrary bytes through the whole pipeline, as `tests/common/pipeline.rs`
//! defines it (the same file `cargo test` replays the committed corpus
//! with): the input loaded as one model and run through every inspect
//! format, view and style, snapshots with and without scales, and a
//! comparison with itself; then the input split in two models (at a second
//! `TFL3` header, else in the middle) compared both ways in every format,
//! with the diff of their snapshots. No step may panic, overflow, loop or
//! allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Shared with the tests, which use more of it than the fuzzer does.
#[allow(dead_code)]
#[path = "../../tests/common/pipeline.rs"]
mod pipeline;

fuzz_target!(|data: &[u8]| pipeline::bytes(data));
