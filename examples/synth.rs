//! Writes synthetic models for benchmarks:
//! `cargo run --release --example synth -- chain BLOCKS OUT [WEIGHT_BYTES]` (an int8
//! chain of 3 ops per block, WEIGHT_BYTES per weight tensor, default 64) or
//! `... -- heavy MEGABYTES OUT` (a float model with that many MB of weights), or
//! `... -- shared OPS OUT` / `... -- shared-int8 OPS OUT` (OPS MUL ops reading
//! one tensor: a float island in an int8 graph, or its all-int8 counterpart;
//! see `tflq::synth::shared_tensor`).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: synth chain BLOCKS OUT [WEIGHT_BYTES] | synth heavy MEGABYTES OUT | synth shared|shared-int8 OPS OUT";
    let (Some(kind), Some(n), Some(out)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let bytes = match kind.as_str() {
        "chain" => match args.get(4).map(|w| w.parse::<usize>()) {
            None => tflq::synth::int8_chain(n, 64),
            Some(Ok(w)) => tflq::synth::int8_chain(n, w),
            Some(Err(_)) => {
                eprintln!("{usage}");
                std::process::exit(2);
            }
        },
        "heavy" => tflq::synth::weight_heavy_float(n << 20, 8),
        "shared" => tflq::synth::shared_tensor(n, tflq::synth::Sharing::Readers, true),
        "shared-int8" => tflq::synth::shared_tensor(n, tflq::synth::Sharing::Readers, false),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    if let Err(e) = std::fs::write(out, bytes) {
        eprintln!("{out}: {e}");
        std::process::exit(2);
    }
}
