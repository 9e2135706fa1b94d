//! The `tflq` binary end to end: exit codes, error messages and the output of
//! each command, captured with insta-cmd.

mod common;

use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

fn tflq() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tflq"));
    c.current_dir(common::root())
        .env_clear()
        .env("NO_COLOR", "1");
    c
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(env!("CARGO_PKG_VERSION"), "[VERSION]");
    s.add_filter(r"/tmp/[^ \n:]*", "[TEMP]");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn missing_file() {
    settings()
        .bind(|| assert_cmd_snapshot!(tflq().args(["inspect", "testdata/no_such_model.tflite"])));
}

#[test]
fn not_a_tflite_file() {
    settings().bind(|| assert_cmd_snapshot!(tflq().args(["inspect", "testdata/README.md"])));
}

#[test]
fn truncated_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.tflite");
    let bytes = std::fs::read(common::fixture("ptq_int8.tflite")).unwrap();
    std::fs::write(&path, &bytes[..200]).unwrap();
    let out = tflq().arg("inspect").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("truncated.tflite: malformed model at"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    settings().bind(|| insta::assert_snapshot!(err));
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.tflite");
    std::fs::write(&path, b"").unwrap();
    let out = tflq().arg("inspect").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
}

#[test]
fn usage_errors_exit_2() {
    settings().bind(|| {
        assert_cmd_snapshot!(tflq().args(["inspect"]));
        assert_cmd_snapshot!(tflq().args([
            "compare",
            "testdata/ptq_int8.tflite",
            "testdata/qat_full.tflite",
            "--fail-on",
            "nonsense"
        ]));
        assert_cmd_snapshot!(tflq().args([
            "inspect",
            "testdata/ptq_int8.tflite",
            "--subgraph",
            "7"
        ]));
    });
}

#[test]
fn help_shows_example_and_exit_codes() {
    for cmd in ["inspect", "compare", "snapshot"] {
        let out = tflq().args([cmd, "--help"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("Example:") && help.contains("Exit status:"),
            "{cmd}: {help}"
        );
    }
}

#[test]
fn inspect_findings_text() {
    settings().bind(|| {
        assert_cmd_snapshot!(tflq().args([
            "inspect",
            "testdata/qat_partial.tflite",
            "--findings",
            "--format",
            "text"
        ]))
    });
}

#[test]
fn inspect_json_is_valid() {
    let out = tflq()
        .args([
            "inspect",
            "testdata/control_flow.tflite",
            "--format",
            "json",
            "--subgraph",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["subgraphs"].as_array().unwrap().len(), 1);
    assert_eq!(v["subgraphs"][0]["index"], 1);
}

#[test]
fn colour_is_off_under_no_color_and_on_when_forced() {
    let out = tflq()
        .args(["inspect", "testdata/qat_partial.tflite", "--format", "text"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    let out = tflq()
        .args([
            "inspect",
            "testdata/qat_partial.tflite",
            "--format",
            "text",
            "--color",
            "always",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}

/// Run `tflq` with its standard output on a pipe whose reader is gone, as
/// `tflq ... | head -c 10` has once `head` exits: every write fails with
/// EPIPE (Rust ignores SIGPIPE).
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    tflq()
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_is_quiet_in_every_format() {
    // 332 ops: every output below is far larger than the 8 KiB that
    // standard output buffers, so writes fail inside the renderers (for JSON,
    // inside serde_json), not only at the final flush.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("chain.tflite");
    std::fs::write(&model, tflq::synth::int8_chain(110, 64)).unwrap();
    let m = model.to_str().unwrap();
    let mut runs: Vec<(Vec<&str>, i32)> = Vec::new();
    for format in ["table", "text", "json"] {
        for section in [None, Some("--ops"), Some("--tensors"), Some("--findings")] {
            let mut args = vec!["inspect", m, "--format", format];
            args.extend(section);
            runs.push((args, 0));
        }
    }
    for format in ["table", "text", "json", "markdown"] {
        runs.push((vec!["compare", m, m, "--format", format], 0));
        // A gate keeps its verdict when nobody reads the report.
        runs.push((
            vec![
                "compare",
                "testdata/ptq_int8.tflite",
                "testdata/qat_partial.tflite",
                "--format",
                format,
                "--fail-on",
                "add-quantizer",
            ],
            1,
        ));
    }
    runs.push((vec!["snapshot", m], 0));
    runs.push((vec!["snapshot", m, "--with-scales"], 0));
    runs.push((
        vec![
            "snapshot",
            "testdata/qat_partial.tflite",
            "--check",
            "tests/data/ptq_int8.tflq-snapshot",
        ],
        1,
    ));
    for (args, code) in runs {
        let out = with_closed_stdout(&args);
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).as_ref()
            ),
            (Some(code), ""),
            "{args:?}"
        );
    }
}

#[test]
fn compare_exit_codes_follow_fail_on() {
    let run = |args: &[&str]| {
        tflq()
            .arg("compare")
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    let partial = ["testdata/ptq_int8.tflite", "testdata/qat_partial.tflite"];
    let full = ["testdata/ptq_int8.tflite", "testdata/qat_full.tflite"];
    assert_eq!(run(&partial), Some(0));
    assert_eq!(
        run(&[&partial[..], &["--fail-on", "add-quantizer"]].concat()),
        Some(1)
    );
    assert_eq!(
        run(&[&partial[..], &["--fail-on", "remove-quantizer"]].concat()),
        Some(0)
    );
    assert_eq!(
        run(&[&full[..], &["--fail-on", "add-quantizer,remove-quantizer"]].concat()),
        Some(0)
    );
    assert_eq!(
        run(&[&full[..], &["--fail-on", "granularity-mismatch"]].concat()),
        Some(1)
    );
    assert_eq!(
        run(&["testdata/ptq_int8.tflite", "testdata/nope.tflite"]),
        Some(2)
    );
}

#[test]
fn compare_markdown() {
    settings().bind(|| {
        assert_cmd_snapshot!(tflq().args([
            "compare",
            "testdata/ptq_maximum.tflite",
            "testdata/qat_maximum_output.tflite",
            "--format",
            "markdown"
        ]))
    });
}

#[test]
fn snapshot_check_and_update() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("model.tflq-snapshot");
    let run = |args: &[&str]| {
        tflq()
            .arg("snapshot")
            .args(args)
            .arg(&snap)
            .output()
            .unwrap()
    };
    // No snapshot yet: an input error.
    let out = run(&["testdata/ptq_int8.tflite", "--check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("create it with --update"));
    // Write it, then check the same model and a retrained one: equal.
    assert_eq!(
        run(&["testdata/ptq_int8.tflite", "--update"]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["testdata/ptq_int8.tflite", "--check"]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["testdata/ptq_int8_retrained.tflite", "--check"])
            .status
            .code(),
        Some(0)
    );
    // The partially annotated QAT model differs, and the diff says how.
    let out = run(&["testdata/qat_partial.tflite", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(
        diff.contains("+  DEQUANTIZE [convert] layer=conv1"),
        "{diff}"
    );
    assert!(diff.contains("+  MUL [float] layer=bn1"), "{diff}");
    assert!(diff.contains("+  placement: float-island"), "{diff}");
    // With scales, a retrain is a change.
    assert_eq!(
        run(&["testdata/ptq_int8.tflite", "--with-scales=3", "--update"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&[
            "testdata/ptq_int8_retrained.tflite",
            "--with-scales=3",
            "--check"
        ])
        .status
        .code(),
        Some(1)
    );
    // A broken model is an input error, not a difference.
    assert_eq!(
        run(&["testdata/README.md", "--check"]).status.code(),
        Some(2)
    );
    settings().bind(|| {
        let out = tflq()
            .args([
                "snapshot",
                "testdata/qat_partial.tflite",
                "--check",
                "tests/data/ptq_int8.tflq-snapshot",
            ])
            .output()
            .unwrap();
        insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
    });
}

/// Run `tflq` with `stdin` written to a pipe on its standard input.
fn with_piped_stdin(cmd: &mut Command, stdin: Vec<u8>) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    // tflq may stop reading early (an error): a failed write is its business.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// The exit code and the one line of standard error of a failed run.
fn failure(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn a_directory_is_refused_by_name() {
    settings().bind(|| assert_cmd_snapshot!(tflq().args(["inspect", "testdata"])));
}

#[cfg(unix)]
#[test]
fn devices_are_refused_without_reading_them() {
    for dev in ["/dev/null", "/dev/zero"] {
        for cmd in [
            &["inspect", dev][..],
            &["snapshot", dev],
            &["compare", "testdata/ptq_int8.tflite", dev],
        ] {
            let err = failure(&tflq().args(cmd).output().unwrap());
            assert_eq!(
                err,
                format!("error: cannot read {dev}: it is a character device, not a regular file\n")
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.tflite");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Opening a FIFO for reading would wait for a writer that never comes.
    let mut child = tflq()
        .arg("inspect")
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("tflq blocked on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let err = failure(&child.wait_with_output().unwrap());
    assert_eq!(
        err,
        format!(
            "error: cannot read {}: it is a FIFO (named pipe), not a regular file \
             (to read a model from a pipe, pass - and pipe it to standard input)\n",
            fifo.display()
        )
    );
}

#[test]
fn a_model_piped_to_standard_input() {
    let path = "testdata/qat_partial.tflite";
    let bytes = std::fs::read(common::fixture("qat_partial.tflite")).unwrap();
    let run = |args: &[&str]| with_piped_stdin(tflq().args(args), bytes.clone());
    // The same output as from the file, under the label "-".
    for args in [
        &["inspect", "-", "--format", "text"][..],
        &["inspect", "-", "--format", "json"],
        &["snapshot", "-", "--with-scales"],
        &[
            "compare",
            "testdata/ptq_int8.tflite",
            "-",
            "--format",
            "text",
        ],
    ] {
        let from_pipe = run(args);
        assert_eq!(from_pipe.status.code(), Some(0), "{args:?}: {from_pipe:?}");
        let file_args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "-" { path } else { a })
            .collect();
        let from_file = tflq().args(&file_args).output().unwrap();
        let expected = String::from_utf8(from_file.stdout)
            .unwrap()
            .replace(&format!("\"{path}\""), "\"-\"")
            .replace(&format!(": {path}"), ": -")
            .replace(&format!("file: {path}"), "file: -");
        assert_eq!(
            String::from_utf8(from_pipe.stdout).unwrap(),
            expected,
            "{args:?}"
        );
    }
}

#[test]
fn bad_standard_input_is_one_error_line() {
    let err = failure(&with_piped_stdin(tflq().args(["inspect", "-"]), Vec::new()));
    assert!(
        err.starts_with("error: standard input: not a TFLite model"),
        "{err}"
    );
    let mut truncated = std::fs::read(common::fixture("ptq_int8.tflite")).unwrap();
    truncated.truncate(truncated.len() / 2);
    let err = failure(&with_piped_stdin(tflq().args(["snapshot", "-"]), truncated));
    assert!(
        err.starts_with("error: standard input: malformed model"),
        "{err}"
    );
    let err = failure(&with_piped_stdin(
        tflq().args(["compare", "-", "-"]),
        Vec::new(),
    ));
    assert_eq!(
        err,
        "error: only one of the two models can be read from standard input (-)\n"
    );
}

/// Pairs compare cannot judge are refused with exit 2 and one line naming
/// what each file is, even under --fail-on (which would otherwise pass them).
#[test]
fn compare_refuses_pairs_it_cannot_judge() {
    let cases: [(&str, &str, &[&str]); 6] = [
        // arguments swapped
        (
            "qat_full.tflite",
            "ptq_int8.tflite",
            &["is a QAT conversion", "is a PTQ conversion", "swap them"],
        ),
        // a float baseline
        (
            "float.tflite",
            "qat_full.tflite",
            &["is a float model", "needs a full-integer PTQ conversion"],
        ),
        // a float16 baseline
        (
            "float16.tflite",
            "qat_full.tflite",
            &["is a float16-weights model"],
        ),
        // a dynamic-range baseline
        (
            "dynamic_range.tflite",
            "qat_full.tflite",
            &["is a dynamic-range model"],
        ),
        // two networks
        (
            "ptq_int8.tflite",
            "ptq_maximum.tflite",
            &[
                "are not conversions of one network",
                "only 4 of 7 PTQ and 4 of 9 QAT compute ops align",
            ],
        ),
        // every PTQ compute op aligns, yet under half of QAT's do (two
        // converters): the message must not read "only 9 of 9"
        (
            "onnx2tf_int8.tflite",
            "onnx2tf_tfconv_int8.tflite",
            &[
                "are not conversions of one network",
                "all 9 PTQ compute ops align, but only 9 of 19 QAT ones",
            ],
        ),
    ];
    for (ptq, qat, needles) in cases {
        let out = tflq()
            .args(["compare", "--fail-on", "add-quantizer,remove-quantizer"])
            .arg(format!("testdata/{ptq}"))
            .arg(format!("testdata/{qat}"))
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{ptq} {qat}: {err}");
        assert!(out.stdout.is_empty(), "{ptq} {qat}");
        assert_eq!(err.lines().count(), 1, "{err}");
        for n in needles {
            assert!(err.contains(n), "{ptq} {qat}: missing {n:?} in {err}");
        }
    }
}

#[test]
fn a_snapshot_to_check_must_be_a_text_file() {
    let check = |file: &str| {
        failure(
            &tflq()
                .args(["snapshot", "testdata/ptq_int8.tflite", "--check", file])
                .output()
                .unwrap(),
        )
    };
    assert_eq!(
        check("testdata"),
        "error: cannot read snapshot testdata: it is not a regular file\n"
    );
    assert_eq!(
        check("testdata/ptq_int8.tflite"),
        "error: cannot read snapshot testdata/ptq_int8.tflite: it is not UTF-8 text\n"
    );
    // Read to the end, /dev/zero would take all memory.
    #[cfg(unix)]
    assert_eq!(
        check("/dev/zero"),
        "error: cannot read snapshot /dev/zero: it is not a regular file\n"
    );
}
