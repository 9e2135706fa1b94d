//! `tflq::snapshot` as a model repository uses it: one insta snapshot per
//! fixture, stable across retrains, and changed by a moved quantizer.

mod common;

use tflq::SnapshotOptions;

#[test]
fn snapshot_of_every_fixture() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!(
            concat!(env!("CARGO_MANIFEST_DIR"), "/testdata"),
            "*.tflite",
            |path| {
                let text = tflq::snapshot_file(path, SnapshotOptions::default()).unwrap();
                assert!(text.starts_with("tflq snapshot 2\n"));
                insta::assert_snapshot!(text);
            }
        );
    });
}

/// The example a Rust model repository copies (docs/ci-snapshots.md).
#[test]
fn model_repository_example() {
    let text = tflq::snapshot_file("testdata/ptq_int8.tflite", SnapshotOptions::default()).unwrap();
    insta::assert_snapshot!("ptq_int8_placement", text);
}

#[test]
fn retraining_and_recalibrating_leave_the_snapshot_unchanged() {
    let a = tflq::snapshot_file(
        common::fixture("ptq_int8.tflite"),
        SnapshotOptions::default(),
    )
    .unwrap();
    let b = tflq::snapshot_file(
        common::fixture("ptq_int8_retrained.tflite"),
        SnapshotOptions::default(),
    )
    .unwrap();
    assert_eq!(a, b);
    // The two models really differ in their numbers.
    let with = SnapshotOptions {
        scale_digits: Some(4),
        ..Default::default()
    };
    let (a4, b4) = (
        tflq::snapshot_file(common::fixture("ptq_int8.tflite"), with).unwrap(),
        tflq::snapshot_file(common::fixture("ptq_int8_retrained.tflite"), with).unwrap(),
    );
    assert_ne!(a4, b4);
    assert!(a4.contains(" s=") && a4.contains(" zp="));
}

#[test]
fn snapshots_are_byte_stable() {
    for path in common::fixtures() {
        let a = tflq::snapshot_file(
            &path,
            SnapshotOptions {
                scale_digits: Some(6),
                ..Default::default()
            },
        )
        .unwrap();
        let b = tflq::snapshot_file(
            &path,
            SnapshotOptions {
                scale_digits: Some(6),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(a, b);
        assert!(
            a.is_ascii() && !a.contains('\r') && a.ends_with('\n'),
            "{}",
            path.display()
        );
    }
}

#[test]
fn committed_example_snapshot_is_current() {
    // tests/data holds a snapshot the way a model repository commits it.
    let committed =
        std::fs::read_to_string(common::root().join("tests/data/ptq_int8.tflq-snapshot")).unwrap();
    let now = tflq::snapshot_file(
        common::fixture("ptq_int8.tflite"),
        SnapshotOptions::default(),
    )
    .unwrap();
    assert_eq!(
        tflq::report::snapshot::diff(&committed, &now, "committed", "now"),
        None
    );
}

#[test]
fn partial_qat_differs_from_its_ptq_snapshot() {
    let ptq = tflq::snapshot_file(
        common::fixture("ptq_int8.tflite"),
        SnapshotOptions::default(),
    )
    .unwrap();
    let qat = tflq::snapshot_file(
        common::fixture("qat_partial.tflite"),
        SnapshotOptions::default(),
    )
    .unwrap();
    let diff = tflq::report::snapshot::diff(&ptq, &qat, "ptq", "qat").expect("a difference");
    let added: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert!(
        added.iter().any(|l| l.contains("DEQUANTIZE [convert]")),
        "{diff}"
    );
    assert!(
        added.iter().filter(|l| l.contains("[float]")).count() >= 4,
        "{diff}"
    );
}

/// Replace every occurrence of `from` by `to` (same length) in a fixture's
/// bytes: the model a Keras session that numbered a layer differently would
/// have written.
fn renamed(name: &str, from: &str, to: &str) -> tflq::Model<'static> {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(common::fixture(name)).unwrap();
    let (f, t) = (from.as_bytes(), to.as_bytes());
    let mut i = 0;
    let mut hits = 0;
    while i + f.len() <= bytes.len() {
        if &bytes[i..i + f.len()] == f {
            bytes[i..i + f.len()].copy_from_slice(t);
            hits += 1;
            i += f.len();
        } else {
            i += 1;
        }
    }
    assert!(hits > 0, "{from} not in {name}");
    common::leak_load(bytes)
}

/// Keras numbers auto-named layers per Python session: the same network
/// built after two other models has `add_7` where a fresh session has
/// `add_1`. The snapshot canonicalises them, so a retrain in a new notebook
/// passes --check; --exact-names keeps the stored names.
#[test]
fn keras_session_numbers_do_not_change_the_snapshot() {
    let fresh = renamed("ptq_int8.tflite", "pool1", "add_1");
    let later = renamed("ptq_int8.tflite", "pool1", "add_7");
    let canonical = SnapshotOptions::default();
    let a = tflq::snapshot(&fresh, canonical);
    let b = tflq::snapshot(&later, canonical);
    assert_eq!(a, b);
    assert!(a.contains("layer=add:"), "{a}");
    let exact = SnapshotOptions {
        exact_names: true,
        ..Default::default()
    };
    assert_ne!(tflq::snapshot(&fresh, exact), tflq::snapshot(&later, exact));
}

/// One inserted op changes a few lines, not every line after it.
#[test]
fn one_inserted_op_gives_a_local_diff() {
    use tflq::model::BuiltinCode;
    use tflq::synth::{ModelBuilder, SynthOptions, SynthQuant};
    let build = |extra: bool| {
        let mut m = ModelBuilder::new();
        let sg = m.subgraph("main");
        let relu = m.builtin(BuiltinCode::RELU);
        let q = m.builtin(BuiltinCode::QUANTIZE);
        let quant = || Some(SynthQuant::per_tensor(0.05, -128));
        let mut x = m.tensor(sg, "x", &[1, 8], 9, quant());
        let input = x;
        for i in 0..40 {
            if extra && i == 20 {
                let y = m.tensor(
                    sg,
                    "net/requant/q",
                    &[1, 8],
                    9,
                    Some(SynthQuant::per_tensor(0.07, -100)),
                );
                m.op(sg, q, &[x], &[y], SynthOptions::None);
                x = y;
            }
            let y = m.tensor(sg, &format!("net/relu{i}/Relu"), &[1, 8], 9, quant());
            m.op(sg, relu, &[x], &[y], SynthOptions::None);
            x = y;
        }
        m.io(sg, &[input], &[x]);
        common::leak_load(m.finish())
    };
    let (a, b) = (build(false), build(true));
    let (sa, sb) = (
        tflq::snapshot(&a, SnapshotOptions::default()),
        tflq::snapshot(&b, SnapshotOptions::default()),
    );
    let diff = tflq::report::snapshot::diff(&sa, &sb, "a", "b").unwrap();
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert!(changed.len() <= 4, "{diff}");
    assert!(
        changed.iter().any(|l| l.starts_with("+  QUANTIZE")),
        "{diff}"
    );
}

/// The same Keras model built twice in one Python session (generate.py):
/// Keras numbered its auto-named layers differently (conv2d, conv2d_1 then
/// conv2d_2, conv2d_3; input_1 then input_2), and the snapshots are equal;
/// with --exact-names they differ.
#[test]
fn a_model_built_twice_in_one_session_has_one_snapshot() {
    let (a, b) = (
        common::fixture_model("session_first.tflite"),
        common::fixture_model("session_second.tflite"),
    );
    assert_eq!(
        tflq::snapshot(&a, SnapshotOptions::default()),
        tflq::snapshot(&b, SnapshotOptions::default())
    );
    let exact = SnapshotOptions {
        exact_names: true,
        ..Default::default()
    };
    let (ea, eb) = (tflq::snapshot(&a, exact), tflq::snapshot(&b, exact));
    assert_ne!(ea, eb);
    assert!(
        ea.contains("conv2d_1") && eb.contains("conv2d_3"),
        "{ea}\n{eb}"
    );
}
