//! Scaling benchmark: how load, analysis, rendering and comparison grow with
//! the size of the graph.
//!
//! Run with `cargo bench --bench scale` (about 35 seconds on two
//! cores, plus about 30 for the replicas below) or `cargo bench --bench
//! scale -- --quick` (a few seconds, smaller models and the 100x replica
//! alone, for a smoke test). `--reps N` changes the number of repetitions.
//!
//! Each size is a synthetic int8 chain ([`tflq::synth::int8_chain`]): per
//! block a CONV_2D, an ADD and a DEPTHWISE_CONV_2D over 7 tensors. The sizes
//! (mostly) double, so a linear implementation shows a constant time per op;
//! a quadratic step shows up as a time per op that doubles with the size.
//!
//! Then, when they exist, the same phases (plus the JSON report) on real
//! converter output: the MobileNetV2 PTQ replicas that `scripts/replicate.py`
//! writes (`mobilenetv2_ptq_x<N>.tflite`, one subgraph of N copies with
//! per-channel scales and int64 zero points and long Keras names), read from
//! `$TFLQ_REPLICAS` (default `target/replicas` in this repository). Without
//! them the benchmark prints a one-line note and skips that table, so it
//! needs no TensorFlow.
//!
//! No criterion: each phase runs a few times and the median is printed,
//! which is steady enough for phases of milliseconds to seconds and keeps
//! the dependency list short.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
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
    quick: bool,
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
        quick,
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

/// One replica of `scripts/replicate.py`, measured in process.
struct RealRow {
    copies: usize,
    ops: usize,
    tensors: usize,
    file_bytes: usize,
    json_bytes: usize,
    reps: usize,
    load: Duration,
    inspect: Duration,
    render: Duration,
    json: Duration,
    compare: Duration,
}

/// The directory of the replicas: `$TFLQ_REPLICAS`, else `target/replicas`
/// in this repository (where `scripts/replicate.py` writes by default).
fn replica_dir() -> PathBuf {
    std::env::var_os("TFLQ_REPLICAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/replicas"))
}

/// `mobilenetv2_ptq_x<N>.tflite` files in `dir`, by N.
fn replicas(dir: &Path) -> Vec<(usize, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(usize, PathBuf)> = entries
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?;
            let n = name
                .strip_prefix("mobilenetv2_ptq_x")?
                .strip_suffix(".tflite")?
                .parse()
                .ok()?;
            Some((n, path))
        })
        .collect();
    found.sort();
    found
}

fn measure_real(copies: usize, path: &Path, reps: usize) -> RealRow {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let model = tflq::load(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ops: usize = model.subgraphs.iter().map(|s| s.operators.len()).sum();
    let tensors: usize = model.subgraphs.iter().map(|s| s.tensors.len()).sum();
    let insp = tflq::analysis::inspect(&model);
    let render_once = |format: Format, out: &mut Vec<u8>| {
        out.clear();
        tflq::report::inspect::render(
            &model,
            &insp,
            "replica.tflite",
            format,
            View::default(),
            Style::default(),
            out,
        )
        .expect("rendering into memory cannot fail");
    };
    let mut out = Vec::new();
    render_once(Format::Table, &mut out);
    let mut json_out = Vec::new();
    render_once(Format::Json, &mut json_out);
    let json_bytes = json_out.len();

    let load = median(reps, || tflq::load(&bytes).expect("loaded once already"));
    let inspect = median(reps, || tflq::analysis::inspect(&model));
    let render = median(reps, || render_once(Format::Table, &mut out));
    let json = median(reps, || render_once(Format::Json, &mut json_out));
    let compare = median(reps, || {
        tflq::compare::compare(&model, &model, tflq::compare::Options::default())
    });
    RealRow {
        copies,
        ops,
        tensors,
        file_bytes: bytes.len(),
        json_bytes,
        reps,
        load,
        inspect,
        render,
        json,
        compare,
    }
}

/// The real-shape table, or a one-line note when there are no replicas.
fn real_shapes(args: &Args, started: Instant, w: &mut dyn Write) -> std::io::Result<()> {
    let dir = replica_dir();
    let mut found = replicas(&dir);
    if found.is_empty() {
        writeln!(
            w,
            "\nreal shapes: skipped, no mobilenetv2_ptq_x<N>.tflite in {} \
             (scripts/replicate.py writes them; TFLQ_REPLICAS=DIR to look elsewhere)",
            dir.display()
        )?;
        return Ok(());
    }
    if args.quick {
        // A smoke test: the smallest replica of at least 100 copies only.
        let keep = found
            .iter()
            .position(|(n, _)| *n >= 100)
            .unwrap_or(found.len() - 1);
        found = vec![found.swap_remove(keep)];
    }
    let mut rows = Vec::new();
    for (copies, path) in &found {
        // Phases of the 1000x replica take seconds: fewer runs above 500 copies.
        let reps = if *copies > 500 {
            args.reps.min(3)
        } else {
            args.reps
        };
        let row = measure_real(*copies, path, reps);
        eprintln!(
            "  measured replica x{} ({} ops) at {:.1} s",
            copies,
            row.ops,
            started.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    writeln!(
        w,
        "\nreal shapes: MobileNetV2 PTQ replicas from {} (load from bytes in memory; json: `inspect --format json` into a Vec<u8>)",
        dir.display()
    )?;
    let hr = "-".repeat(128);
    writeln!(
        w,
        "{:>6} {:>6} {:>7} {:>5} {:>6} {:>4} | {:>7} {:>7} {:>7} {:>7} {:>7} | {:>5} {:>5} {:>5} {:>5} {:>5}",
        "copies",
        "ops",
        "tensors",
        "file",
        "json",
        "reps",
        "load",
        "inspect",
        "render",
        "json",
        "compare",
        "load",
        "insp",
        "rend",
        "json",
        "cmp"
    )?;
    writeln!(
        w,
        "{:>6} {:>6} {:>7} {:>5} {:>6} {:>4} | {:>39} | {:>29}",
        "", "", "", "MB", "MB", "", "ms", "µs per op"
    )?;
    writeln!(w, "{hr}")?;
    for r in &rows {
        writeln!(
            w,
            "{:>6} {:>6} {:>7} {:>5.1} {:>6.1} {:>4} | {:>7.1} {:>7.1} {:>7.2} {:>7.1} {:>7.1} | {:>5.2} {:>5.2} {:>5.3} {:>5.2} {:>5.2}",
            r.copies,
            r.ops,
            r.tensors,
            r.file_bytes as f64 / 1e6,
            r.json_bytes as f64 / 1e6,
            r.reps,
            ms(r.load),
            ms(r.inspect),
            ms(r.render),
            ms(r.json),
            ms(r.compare),
            us_per(r.load, r.ops),
            us_per(r.inspect, r.ops),
            us_per(r.render, r.ops),
            us_per(r.json, r.ops),
            us_per(r.compare, r.ops),
        )?;
    }
    writeln!(w, "{hr}")?;
    if let (Some(first), Some(last)) = (rows.first(), rows.last())
        && rows.len() > 1
    {
        let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
        writeln!(
            w,
            "time, x{} / x{} ({:.1}x the ops; linear <= 13x for 10x): load {:.1}x, inspect {:.1}x, render {:.1}x, json {:.1}x, compare {:.1}x",
            last.copies,
            first.copies,
            last.ops as f64 / first.ops.max(1) as f64,
            ratio(first.load, last.load),
            ratio(first.inspect, last.inspect),
            ratio(first.render, last.render),
            ratio(first.json, last.json),
            ratio(first.compare, last.compare),
        )?;
    }
    Ok(())
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
    println!("  compare tflq::compare::compare of the model against itself");
    println!("  then the same on the replicas of scripts/replicate.py, when present\n");
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
    real_shapes(&args, started, &mut w).expect("stdout");
    writeln!(w, "total {:.1} s", started.elapsed().as_secs_f64()).expect("stdout");
}
