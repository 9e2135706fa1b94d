//! Arbitrary bytes through everything a user can reach with one file:
//! `tflq::load`, then (when it accepts the bytes) the analysis, the inspect
//! report in every format and a comparison of the model with itself. The loader
//! promises to turn any input into either a checked `Model` or an error, so
//! none of these may panic, and none may loop or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tflq::report::inspect::View;
use tflq::report::{Format, Style};

fuzz_target!(|data: &[u8]| {
    let Ok(model) = tflq::load(data) else {
        return;
    };
    let insp = tflq::analysis::inspect(&model);
    // Every format: the table (the default view), the stable text lines and
    // JSON each walk the model their own way. Rendering only fails on write
    // errors, which a sink never returns, so the results are ignored.
    for format in [Format::Table, Format::Text, Format::Json] {
        let _ = tflq::report::inspect::render(
            &model,
            &insp,
            "fuzz.tflite",
            format,
            View::default(),
            Style::default(),
            &mut std::io::sink(),
        );
    }
    let _ = tflq::compare::compare(&model, &model, Default::default());
});
