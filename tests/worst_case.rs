//! Worst cases for time, on generated models: every step must stay linear in
//! ops, tensors and uses however the graph is shaped. 100,000 ops that all
//! read one tensor (and, in the second variant, all write it too) took
//! minutes before float-island detection walked each tensor once (298 s
//! for `inspect` with the writers), and a table cell listing a 20,000-op
//! island took 19 s to lay out before cells were capped; the diff of two
//! 100,000-line snapshots that differ everywhere took a minute before it had
//! a deadline.
//!
//! In release builds (`cargo test --release --test worst_case`) each step
//! must finish within [`BOUND`]; debug builds run the same steps on smaller
//! models without a bound, so that `cargo test` stays quick.

mod common;

use std::time::{Duration, Instant};

use common::pipeline::Discard;
use tflq::report::inspect::View;
use tflq::report::{Format, Style};
use tflq::synth::{Sharing, shared_tensor};

/// Longest any one step may take in a release build: a generous bound, ten
/// times and more what the steps take, that a quadratic walk of 100,000 ops
/// cannot meet.
const BOUND: Duration = Duration::from_secs(2);

fn ops() -> usize {
    if cfg!(debug_assertions) {
        10_000
    } else {
        100_000
    }
}

/// Run `f`, print how long it took, and in release builds check the bound.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    let took = start.elapsed();
    eprintln!("{what}: {took:.2?}");
    if !cfg!(debug_assertions) {
        assert!(took < BOUND, "{what} took {took:?}");
    }
    value
}

fn inspect_formats(model: &tflq::Model, what: &str) -> usize {
    let insp = timed(&format!("{what}: analysis"), || {
        tflq::analysis::inspect(model)
    });
    let mut written = 0;
    for format in [Format::Table, Format::Text, Format::Json] {
        written += timed(&format!("{what}: inspect {format:?}"), || {
            let mut out = Discard::default();
            tflq::report::inspect::render(
                model,
                &insp,
                "m.tflite",
                format,
                View::default(),
                Style::default(),
                &mut out,
            )
            .unwrap();
            out.len
        });
    }
    written
}

fn compare_formats(ptq: &tflq::Model, qat: &tflq::Model, what: &str) -> tflq::compare::Comparison {
    let c = timed(&format!("{what}: compare"), || {
        tflq::compare::compare(ptq, qat, Default::default())
    });
    let pair = tflq::report::compare::Pair {
        ptq_label: "ptq.tflite",
        qat_label: "qat.tflite",
    };
    for format in [Format::Table, Format::Text, Format::Json, Format::Markdown] {
        timed(&format!("{what}: compare {format:?}"), || {
            tflq::report::compare::render(
                &pair,
                &c,
                format,
                Style::default(),
                &mut Discard::default(),
            )
            .unwrap()
        });
    }
    c
}

fn one_shared_tensor(sharing: Sharing) {
    let n = ops();
    let what = format!("{n} ops, {sharing:?}");
    let qat_bytes = shared_tensor(n, sharing, true);
    let ptq_bytes = shared_tensor(n, sharing, false);
    let qat = timed(&format!("{what}: load"), || tflq::load(&qat_bytes).unwrap());
    let ptq = tflq::load(&ptq_bytes).unwrap();
    assert_eq!(qat.subgraphs[0].operators.len(), n + 6);

    assert!(inspect_formats(&qat, &what) > 0);
    let insp = tflq::analysis::inspect(&qat);
    let island = insp.subgraphs[0]
        .findings
        .iter()
        .find(|f| f.kind.name() == "float-island")
        .expect("the float ops make one island");
    assert_eq!(island.ops.len(), n + 1);

    let text = timed(&format!("{what}: snapshot"), || {
        tflq::snapshot(
            &qat,
            tflq::SnapshotOptions {
                scale_digits: Some(4),
                ..Default::default()
            },
        )
    });
    // The snapshot names every op of the island (by kind and layer).
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("  placement: float-island "))
        .expect("the island's placement line");
    let ops = line.split(" entries=").next().unwrap_or("");
    assert_eq!(
        ops.split(',').count(),
        n + 1,
        "{}",
        &line[..line.len().min(200)]
    );

    // `snapshot --check` of one against the other's committed snapshot:
    // every op line differs.
    let other = tflq::snapshot(&ptq, tflq::SnapshotOptions::default());
    let diff = timed(&format!("{what}: snapshot diff"), || {
        tflq::report::snapshot::diff(&other, &text, "ptq.tflq-snapshot", "qat.tflite")
    });
    assert!(diff.is_some_and(|d| d.contains("+  placement: float-island")));

    let itself = compare_formats(&qat, &qat, &format!("{what}, against itself"));
    assert!(itself.placement_matches());
    let c = compare_formats(&ptq, &qat, &format!("{what}, int8 against float"));
    assert_eq!(c.count(tflq::compare::Kind::AddQuantizer), 1);
}

#[test]
fn many_ops_reading_one_tensor() {
    one_shared_tensor(Sharing::Readers);
}

#[test]
fn many_ops_reading_and_writing_one_tensor() {
    one_shared_tensor(Sharing::ReadersAndWriters);
}

#[test]
fn a_long_op_list_in_a_table_cell() {
    // 20,000 float ops in one island: the findings table lists 20 of them.
    let model = common::leak_load(shared_tensor(20_000, Sharing::Readers, true));
    let insp = tflq::analysis::inspect(&model);
    let mut out = Vec::new();
    timed("20,000-op island: findings table", || {
        tflq::report::inspect::render(
            &model,
            &insp,
            "m.tflite",
            Format::Table,
            View {
                subgraph: None,
                section: tflq::report::inspect::Section::Findings,
            },
            Style::default(),
            &mut out,
        )
        .unwrap()
    });
    let table = String::from_utf8(out).unwrap();
    assert!(table.contains("… and 19,981 more"), "{table}");
    // The text format keeps the whole list.
    let mut out = Vec::new();
    tflq::report::inspect::render(
        &model,
        &insp,
        "m.tflite",
        Format::Text,
        View::default(),
        Style::default(),
        &mut out,
    )
    .unwrap();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains(",#20002,#20003 layer=relu")
    );
}

use tflq::model::BuiltinCode;
use tflq::synth::{ModelBuilder, SynthOptions, SynthQuant};

/// `n` graph inputs, each read by an ADD of its own: wires from graph
/// inputs are mapped to the other model's inputs by position.
fn many_inputs(n: usize) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let add = m.builtin(BuiltinCode::ADD);
    let q = || Some(SynthQuant::per_tensor(0.05, -128));
    let mut inputs = Vec::with_capacity(n);
    for i in 0..n {
        let x = m.tensor(sg, &format!("serving_default_x{i}:0"), &[1], 9, q());
        let y = m.tensor(sg, &format!("model/add{i}/add"), &[1], 9, q());
        m.op(sg, add, &[x, x], &[y], SynthOptions::Add { activation: 0 });
        inputs.push(x);
    }
    m.io(sg, &inputs, &[]);
    m.finish()
}

#[test]
fn many_graph_inputs() {
    let n = ops();
    let model = common::leak_load(many_inputs(n));
    compare_formats(&model, &model, &format!("{n} graph inputs, against itself"));
}

/// One op reading the outputs of `n` quantizer ops that all quantize the
/// same tensor: `n` wires between the same two ops. `dequantize` picks the
/// quantizer kind, so that the two variants' quantizers never pair up.
fn many_quantizers_on_one_wire(n: usize, dequantize: bool) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let relu = m.builtin(BuiltinCode::RELU);
    let concat = m.builtin(BuiltinCode::CONCATENATION);
    let quantizer = m.builtin(if dequantize {
        BuiltinCode::DEQUANTIZE
    } else {
        BuiltinCode::QUANTIZE
    });
    let q = || Some(SynthQuant::per_tensor(0.05, -128));
    let x = m.tensor(sg, "serving_default_x:0", &[1], 9, q());
    let t = m.tensor(sg, "model/relu/Relu", &[1], 9, q());
    m.op(sg, relu, &[x], &[t], SynthOptions::None);
    let mut outs = Vec::with_capacity(n);
    for i in 0..n {
        let u = m.tensor(sg, &format!("model/q{i}"), &[1], 9, q());
        m.op(sg, quantizer, &[t], &[u], SynthOptions::None);
        outs.push(u);
    }
    let y = m.tensor(sg, "model/concat/concat", &[n as i32], 9, q());
    m.op(sg, concat, &outs, &[y], SynthOptions::None);
    m.io(sg, &[x], &[y]);
    m.finish()
}

#[test]
fn many_quantizers_between_two_ops() {
    // Each QAT quantizer is a finding of its own, a table row of wrapped
    // sentences (20 µs each): 20,000 keep the table well inside the bound,
    // while pairing them up by scanning took 9 s (233 s for 100,000).
    let n = ops() / 5;
    let a = common::leak_load(many_quantizers_on_one_wire(n, false));
    let b = common::leak_load(many_quantizers_on_one_wire(n, true));
    let c = compare_formats(&a, &b, &format!("{n} quantizers on one wire"));
    assert_eq!(c.count(tflq::compare::Kind::RemoveQuantizer), n);
}

/// `n` MULs whose output names join `parts` distinct layers with `;`, all
/// starting with the same layer so that no name anchors the alignment, and
/// sharing none with the other `tag`.
fn long_fused_names(n: usize, parts: usize, tag: &str) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let mul = m.builtin(BuiltinCode::MUL);
    let mut x = m.tensor(sg, "serving_default_x:0", &[1], 0, None);
    let input = x;
    for i in 0..n {
        let mut name = format!("model/first_{tag}/mul");
        for p in 0..parts {
            name.push_str(&format!(";model/{tag}{i}_{p}/mul"));
        }
        let y = m.tensor(sg, &name, &[1], 0, None);
        m.op(sg, mul, &[x, x], &[y], SynthOptions::None);
        x = y;
    }
    m.io(sg, &[input], &[x]);
    m.finish()
}

#[test]
fn long_fused_tensor_names() {
    // 1,000 ops whose names each join 200 layers: the alignment's LCS
    // compares every pair of ops.
    let (n, parts) = if cfg!(debug_assertions) {
        (300, 100)
    } else {
        (1_000, 200)
    };
    let a = common::leak_load(long_fused_names(n, parts, "a"));
    let b = common::leak_load(long_fused_names(n, parts, "b"));
    let what = format!("{n} ops with {parts}-layer names");
    inspect_formats(&a, &what);
    compare_formats(&a, &b, &what);
}

/// `tflq graph` of a 6,701-op int8 chain (2,233 blocks of 3 ops, the large
/// model of docs/performance.md) as SVG and HTML, with its integer runs
/// collapsed (the default) and with every op drawn. In release builds the
/// SVG must take under a second either way.
#[test]
fn graph_of_a_6700_op_model() {
    use tflq::analysis::graph_view::{ViewOptions, build, finding_ops};
    use tflq::report::graph::{GraphFormat, Panel, render};
    let model = common::leak_load(tflq::synth::int8_chain(2_233, 64));
    assert_eq!(model.subgraphs[0].operators.len(), 6_701);
    let start = Instant::now();
    let insp = tflq::analysis::inspect(&model);
    let quant = &insp.subgraphs[0];
    for collapse in [true, false] {
        let mut options = ViewOptions::new(quant.subgraph);
        options.keep = finding_ops(quant);
        if !collapse {
            options.min_run = 0;
        }
        let view = timed(&format!("6,701 ops, collapse={collapse}: view"), || {
            build(&model, quant, &options)
        });
        if collapse {
            assert!(view.nodes.len() < 20, "{} nodes", view.nodes.len());
        } else {
            assert!(view.nodes.len() > 6_701);
        }
        let panel = Panel {
            model: &model,
            quant,
            view: &view,
            label: "m.tflite",
            sqnr: None,
        };
        for format in [GraphFormat::Svg, GraphFormat::Html] {
            let begin = Instant::now();
            let mut out = Discard::default();
            timed(
                &format!("6,701 ops, collapse={collapse}: {format:?}"),
                || render(&panel, format, &mut out).unwrap(),
            );
            let took = begin.elapsed();
            eprintln!("  {} bytes", out.len);
            if format == GraphFormat::Svg && !cfg!(debug_assertions) {
                assert!(took < Duration::from_secs(1), "SVG took {took:?}");
            }
        }
    }
    eprintln!("6,701 ops: everything {:.2?}", start.elapsed());
}

/// `n` ReLUs reading one tensor, concatenated. PTQ gives every ReLU output
/// the concatenation's scale (one scale group of `n` layers); `requantize`
/// gives each ReLU a scale of its own and a QUANTIZE to the concatenation's,
/// as a QAT model whose layers keep their own output quantizers.
fn relus_into_one_concat(n: usize, requantize: bool) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let relu = m.builtin(BuiltinCode::RELU);
    let concat = m.builtin(BuiltinCode::CONCATENATION);
    let quantize = m.builtin(BuiltinCode::QUANTIZE);
    let q = |s: f32| Some(SynthQuant::per_tensor(s, -128));
    let x = m.tensor(sg, "serving_default_x:0", &[1], 9, q(0.05));
    let mut outs = Vec::with_capacity(n);
    for i in 0..n {
        let own = if requantize {
            0.01 + i as f32 * 1e-4
        } else {
            0.05
        };
        let r = m.tensor(sg, &format!("model/r{i}/Relu"), &[1], 9, q(own));
        m.op(sg, relu, &[x], &[r], SynthOptions::None);
        if requantize {
            let u = m.tensor(sg, &format!("model/r{i}/requant"), &[1], 9, q(0.05));
            m.op(sg, quantize, &[r], &[u], SynthOptions::None);
            outs.push(u);
        } else {
            outs.push(r);
        }
    }
    let y = m.tensor(sg, "model/concat/concat", &[n as i32], 9, q(0.05));
    m.op(sg, concat, &outs, &[y], SynthOptions::None);
    m.io(sg, &[x], &[y]);
    m.finish()
}

#[test]
fn a_concatenation_of_many_requantized_layers() {
    // Before the requantizes of one group rolled up, each named the whole
    // group: 10,000 layers ran out of memory (10^8 culprits).
    let n = ops() / 10;
    let ptq = common::leak_load(relus_into_one_concat(n, false));
    let qat = common::leak_load(relus_into_one_concat(n, true));
    let c = compare_formats(
        &ptq,
        &qat,
        &format!("{n} requantized layers into one concatenation"),
    );
    // One finding for the group, every requantize a place of it, and each
    // layer of the group (the ReLUs and the concatenation) named once.
    let requantizes: Vec<_> = c
        .findings
        .iter()
        .filter(|f| f.kind == tflq::compare::Kind::RemoveQuantizer)
        .collect();
    assert_eq!(requantizes.len(), 1);
    assert_eq!(requantizes[0].places.len(), n);
    assert_eq!(requantizes[0].culprits.len(), n + 1);
}
