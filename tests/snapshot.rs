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
                assert!(text.starts_with("tflq snapshot 1\n"));
                insta::assert_snapshot!(text);
            }
        );
    });
}

/// The example a Rust model repository copies (README, "Snapshot tests").
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
            },
        )
        .unwrap();
        let b = tflq::snapshot_file(
            &path,
            SnapshotOptions {
                scale_digits: Some(6),
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
