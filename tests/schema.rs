//! The generated bindings must come from the committed schema.

mod common;

use std::process::Command;

/// With planus-cli 1.3.0 on the PATH, regenerate and compare byte for byte;
/// without it, check that every table and union of the schema, with its
/// line, is in the generated file, so an edit without regeneration fails.
#[test]
fn schema_is_fresh() {
    let dir = common::root().join("schema");
    let fbs = std::fs::read_to_string(dir.join("tflite.fbs")).unwrap();
    let generated = std::fs::read_to_string(dir.join("src/generated.rs")).unwrap();
    let planus = Command::new("planus").arg("--version").output();
    if let Ok(out) = planus
        && String::from_utf8_lossy(&out.stdout).contains("1.3.0")
    {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("generated.rs");
        let status = Command::new("planus")
            .current_dir(&dir)
            .args(["rust", "-o"])
            .arg(&target)
            .arg("tflite.fbs")
            .status()
            .unwrap();
        assert!(status.success());
        let fresh = std::fs::read_to_string(&target).unwrap();
        assert!(
            fresh == generated,
            "schema/src/generated.rs is stale: regenerate it (schema/README.md)"
        );
        return;
    }
    let mut declared = 0;
    for (n, line) in fbs.lines().enumerate() {
        let mut words = line.split_whitespace();
        let (Some(kind @ ("table" | "union")), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let name = name.trim_end_matches('{');
        let kind = if kind == "table" { "Table" } else { "Union" };
        let needle = format!("/// * {kind} `{name}` in the file `tflite.fbs:{}`", n + 1);
        assert!(
            generated.contains(&needle),
            "generated.rs lacks {kind} {name} at line {}: regenerate it",
            n + 1
        );
        declared += 1;
    }
    assert!(declared > 150, "only {declared} declarations found");
}
