//! Scaling benchmark: how load, analysis, rendering and comparison grow with
//! the size of the graph.
//!
//! Run with `cargo bench --bench scale` (about 35 seconds on two
//! cores) or `cargo bench --bench scale -- --quick` (a few seconds, smaller
//! models, for a smoke test). `--reps N` changes the number of repetitions.
//!
//! Each size is a synthetic int8 chain ([`tflq::synth::int8_chain`]): per
//! block a CONV_2D, an ADD and a DEPTHWISE_CONV_2D over 7 tensors. The sizes
//! (mostly) double, so a linear implementation shows a constant time per op;
//! a quadratic step shows up as a time per op that doubles with the size.
//!
//! No criterion: each phase runs a few times and the median is printed,
//! which is steady enough for phases of milliseconds to seconds and keeps
//! the dependency list short.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use tflq::report::inspect::{Section, View};
use tflq::report::{Format, Style};

/// Bytes of each conv weight: small, so the models stay a few MB and the
/// benchmark measures the graph, not memcpy of weights.
const WEIGHT_BYTES: usize = 64;

/// Block counts of the full run: 6,701, 13,400, 26,798, 50,003 and 66,002
/// ops. The first and fourth are the 6,700-op and 50,000-op models of
/// `scripts/bench.sh`; the last has 154,003 tensors, past the 50k-op /
/// 150k-tensor mark.
const FULL_SIZES: [usize; 5] = [2_233, 4_466, 8_932, 16_667, 22_000];
/// Block counts of `--quick`.
const QUICK_SIZES: [usize; 3] = [500, 1_000, 2_000];

struct Args {
    sizes: Vec<usize>,
    reps: usize,
}

fn parse_args() -> Args {
    let mut quick = false;
    let mut reps = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" | "quick" => quick = true,
            "--reps" => {
                let n = it.next().and_then(|s| s.parse::<usize>().ok());
                match n {
                    Some(n) if n > 0 => reps = Some(n),
                    _ => {
                        eprintln!("--reps needs a positive number");
                        std::process::exit(2);
                    }
                }
            }
            // `cargo bench` passes `--bench` (and may pass a filter); a
            // harness-less target has to accept and ignore them.
            _ => {}
        }
    }
    Args {
        sizes: if quick {
            QUICK_SIZES.to_vec()
        } else {
            FULL_SIZES.to_vec()
        },
        reps: reps.unwrap_or(if quick { 3 } else { 5 }),
    }
}

/// Run `f` `reps` times and return the median wall time. The result is
/// dropped after the clock stops: freeing a model of 150k tensors is
/// allocator work of its own, and the CLI exits instead. The first call is
/// not thrown away: every call does the same work from the same inputs.
fn median<T>(reps: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let result = black_box(f());
            let elapsed = t.elapsed();
            drop(result);
            elapsed
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us_per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

struct Row {
    blocks: usize,
    ops: usize,
    tensors: usize,
    file_bytes: usize,
    view_bytes: usize,
    ops_view_bytes: usize,
    load: Duration,
    inspect: Duration,
    render: Duration,
    ops_view: Duration,
    compare: Duration,
}

fn measure(blocks: usize, reps: usize) -> Row {
    let bytes = tflq::synth::int8_chain(blocks, WEIGHT_BYTES);
    let model = tflq::load(&bytes).expect("synthetic model loads");
    let ops: usize = model.subgraphs.iter().map(|s| s.operators.len()).sum();
    let tensors: usize = model.subgraphs.iter().map(|s| s.tensors.len()).sum();
    let insp = tflq::analysis::inspect(&model);

    let render_once = |view: View, out: &mut Vec<u8>| {
        out.clear();
        tflq::report::inspect::render(
            &model,
            &insp,
            "bench.tflite",
            Format::Table,
            view,
            Style::default(),
            out,
        )
        .expect("rendering into memory cannot fail");
    };
    // The default view condenses a large subgraph to its non-integer ops;
    // `--ops` (Section::Ops) is one table row per op, the worst case for
    // the table renderer.
    let default_view = View::default();
    let ops_view = View {
        section: Section::Ops,
        ..View::default()
    };
    // Render once outside the timing to size the buffers, so the timed runs
    // measure formatting rather than a Vec growing.
    let mut out = Vec::new();
    render_once(default_view, &mut out);
    let view_bytes = out.len();
    let mut ops_out = Vec::new();
    render_once(ops_view, &mut ops_out);
    let ops_view_bytes = ops_out.len();

    let load = median(reps, || tflq::load(&bytes).expect("synthetic model loads"));
    let inspect = median(reps, || tflq::analysis::inspect(&model));
    let render = median(reps, || render_once(default_view, &mut out));
    let ops_view = median(reps, || render_once(ops_view, &mut ops_out));
    let compare = median(reps, || {
        tflq::compare::compare(&model, &model, tflq::compare::Options::default())
    });
    Row {
        blocks,
        ops,
        tensors,
        file_bytes: bytes.len(),
        view_bytes,
        ops_view_bytes,
        load,
        inspect,
        render,
        ops_view,
        compare,
    }
}

fn main() {
    let args = parse_args();
    let started = Instant::now();
    println!(
        "tflq scale benchmark: int8 chain, median of {} runs per phase",
        args.reps
    );
    println!("  load    tflq::load from bytes in memory");
    println!("  inspect tflq::analysis::inspect");
    println!("  render  default `tflq inspect` table view into a Vec<u8>");
    println!("  --ops   `tflq inspect --ops` table view (one row per op) into a Vec<u8>");
    println!("  compare tflq::compare::compare of the model against itself\n");
    let mut rows = Vec::new();
    for &blocks in &args.sizes {
        let row = measure(blocks, args.reps);
        // One line per size as soon as it is known, so a slow size is
        // visible before the whole table is done.
        eprintln!(
            "  measured {} blocks ({} ops) at {:.1} s",
            row.blocks,
            row.ops,
            started.elapsed().as_secs_f64()
        );
        rows.push(row);
    }

    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let hr = "-".repeat(128);
    writeln!(
        w,
        "{:>6} {:>6} {:>7} {:>5} {:>6} {:>6} | {:>7} {:>7} {:>7} {:>7} {:>7} | {:>5} {:>5} {:>5} {:>5} {:>5}",
        "blocks", "ops", "tensors", "file", "view", "--ops",
        "load", "inspect", "render", "--ops", "compare",
        "load", "insp", "rend", "--ops", "cmp"
    )
    .expect("stdout");
    writeln!(
        w,
        "{:>6} {:>6} {:>7} {:>5} {:>6} {:>6} | {:>39} | {:>29}",
        "", "", "", "MB", "KB", "MB", "ms", "µs per op"
    )
    .expect("stdout");
    writeln!(w, "{hr}").expect("stdout");
    for r in &rows {
        writeln!(
            w,
            "{:>6} {:>6} {:>7} {:>5.1} {:>6.1} {:>6.1} | {:>7.1} {:>7.1} {:>7.2} {:>7.1} {:>7.1} | {:>5.2} {:>5.2} {:>5.3} {:>5.2} {:>5.2}",
            r.blocks,
            r.ops,
            r.tensors,
            r.file_bytes as f64 / 1e6,
            r.view_bytes as f64 / 1e3,
            r.ops_view_bytes as f64 / 1e6,
            ms(r.load),
            ms(r.inspect),
            ms(r.render),
            ms(r.ops_view),
            ms(r.compare),
            us_per(r.load, r.ops),
            us_per(r.inspect, r.ops),
            us_per(r.render, r.ops),
            us_per(r.ops_view, r.ops),
            us_per(r.compare, r.ops),
        )
        .expect("stdout");
    }
    writeln!(w, "{hr}").expect("stdout");

    // Linearity in one number per phase: µs/op of the largest size over
    // that of the smallest. About 1 is linear; about the size ratio is
    // quadratic.
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        let growth = |a: Duration, b: Duration| us_per(b, last.ops) / us_per(a, first.ops);
        writeln!(
            w,
            "per-op cost, largest / smallest ({:.1}x the ops): load {:.2}, inspect {:.2}, render {:.2}, --ops {:.2}, compare {:.2}",
            last.ops as f64 / first.ops.max(1) as f64,
            growth(first.load, last.load),
            growth(first.inspect, last.inspect),
            growth(first.render, last.render),
            growth(first.ops_view, last.ops_view),
            growth(first.compare, last.compare),
        )
        .expect("stdout");
    }
    writeln!(w, "total {:.1} s", started.elapsed().as_secs_f64()).expect("stdout");
}
