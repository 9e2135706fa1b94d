//! Flatbuffer bindings for tflq's TFLite schema (`schema/tflite.fbs`).
//!
//! `generated.rs` is planus-cli 1.3.0 output, committed and never edited by
//! hand; `schema/README.md` gives the command that regenerates it, and the
//! `schema_is_fresh` test in the tflq package fails when the two drift apart.
//! Only tflq's loader and its synthetic-model builder use these types.

#![allow(missing_docs, clippy::all, missing_debug_implementations)]

#[rustfmt::skip]
#[allow(unused, unreachable_pub, clippy::all, clippy::pedantic)]
mod generated;

pub use generated::tflite::*;
