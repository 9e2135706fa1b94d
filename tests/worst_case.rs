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

use common::Discard;
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
        ptq,
        ptq_label: "ptq.tflite",
        qat,
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
            },
        )
    });
    assert!(text.contains("placement: float-island #3,#4,"));

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
