//! `--format model-explorer`: the documents are Model Explorer node data
//! (field names and types of its `node_data_builder.py`), keyed so that the
//! web app finds each op of the .tflite file, one entry per op, with the
//! value tflq's own analyses give.
//!
//! That Model Explorer itself accepts them is checked outside CI by
//! `scripts/check-model-explorer.py`, which needs its pip package.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;
use tflq::analysis::{Compute, FindingKind};
use tflq::compare::{Comparison, Options, Severity};
use tflq::model::{BuiltinCode, Model, SubgraphId};
use tflq::report::inspect::{Section, View};
use tflq::report::model_explorer::{self, COMPUTE_LEGEND, SEVERITY_LEGEND, Side};
use tflq::report::{Format, Style};
use tflq::synth::{ModelBuilder, SynthOptions, SynthQuant};

/// Check `doc` against Model Explorer's node data format: an object from
/// graph id to graph node data (`GraphNodeData`), whose `results` map node
/// keys to `NodeDataResult`s. Only the fields of those classes, with their
/// types; colours are `#rrggbb`. And tflq's own choice: every graph hides
/// the aggregated stats table, whose min, max, sum and average mean nothing
/// for category names.
fn check_schema(doc: &Value) {
    let graphs = doc.as_object().expect("top level is an object of graphs");
    assert!(!graphs.is_empty(), "no graph");
    for (gid, g) in graphs {
        let g = g
            .as_object()
            .unwrap_or_else(|| panic!("{gid}: not an object"));
        assert_eq!(
            g.get("hideInAggregatedStatsTable"),
            Some(&Value::Bool(true)),
            "{gid}: the aggregated stats table is not hidden"
        );
        for (k, v) in g {
            match k.as_str() {
                "results" => {}
                "name" => assert!(v.is_string(), "{gid}.name"),
                "thresholds" => {
                    for t in v.as_array().expect("thresholds is a list") {
                        fields(t, &["value", "bgColor"], &["textColor"]);
                        assert!(t["value"].is_number());
                    }
                }
                "gradient" => {
                    for t in v.as_array().expect("gradient is a list") {
                        fields(t, &["stop"], &["bgColor", "textColor"]);
                        assert!(t["stop"].is_number());
                    }
                }
                "hideInAggregatedStatsTable"
                | "hideInChildrenStatsTable"
                | "showExpandedSummaryOnGroupNode"
                | "showLabelCountColumnsInChildrenStatsTable" => {
                    assert!(v.is_boolean(), "{gid}.{k}")
                }
                "hideAggregatedStats" => {
                    for s in v.as_array().expect("a list") {
                        assert!(
                            ["min", "max", "sum", "avg"].contains(&s.as_str().unwrap_or("")),
                            "{s}"
                        );
                    }
                }
                other => panic!("{gid}: {other} is not a field of GraphNodeData"),
            }
        }
        let results = g["results"].as_object().expect("results is an object");
        for (key, r) in results {
            fields(r, &["value"], &["bgColor", "textColor"]);
            assert!(
                r["value"].is_number() || r["value"].is_string(),
                "{gid}/{key}: value {}",
                r["value"]
            );
        }
    }
}

/// `v` is an object with the `required` fields and perhaps the `optional`
/// ones, colours among them being `#rrggbb`.
fn fields(v: &Value, required: &[&str], optional: &[&str]) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("{v} is not an object"));
    for r in required {
        assert!(o.contains_key(*r), "{v}: no {r}");
    }
    for (k, x) in o {
        assert!(
            required.contains(&k.as_str()) || optional.contains(&k.as_str()),
            "{v}: unknown field {k}"
        );
        if k.ends_with("Color") {
            let c = x.as_str().unwrap_or("");
            assert!(
                c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit()),
                "{k}: {x}"
            );
        }
    }
}

fn overlay(model: &Model, view: View) -> Value {
    let insp = tflq::analysis::inspect(model);
    let mut out = Vec::new();
    tflq::report::inspect::render(
        model,
        &insp,
        "m.tflite",
        Format::ModelExplorer,
        view,
        Style::default(),
        &mut out,
    )
    .unwrap();
    serde_json::from_slice(&out).unwrap()
}

fn compare_overlay(ptq: &Model, qat: &Model, c: &Comparison, side: Side) -> Value {
    let mut out = Vec::new();
    model_explorer::compare(ptq, qat, c, side)
        .write(&mut out)
        .unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// The graph id Model Explorer's TFLite adapter gives each subgraph, from
/// `GetSubgraphName` in its `direct_flatbuffer_to_json_graph_convert.cc`.
fn expected_graph_ids(model: &Model) -> Vec<String> {
    (0..model.subgraphs.len())
        .map(|i| {
            let sg = &model.subgraphs[i];
            let sig = model
                .signatures
                .iter()
                .find(|s| s.subgraph.index() == i)
                .map(|s| s.key.as_str())
                .unwrap_or("");
            if !sg.name.is_empty() {
                sg.name.clone()
            } else if !sig.is_empty() {
                sig.to_owned()
            } else if i == 0 {
                "main".to_owned()
            } else {
                format!("subgraph_{i}")
            }
        })
        .collect()
}

/// Every op's first output tensor name, per subgraph; none is shared in
/// the fixtures.
fn output_names(model: &Model) -> Vec<Vec<String>> {
    model
        .subgraphs
        .iter()
        .map(|sg| {
            let mut count: HashMap<&str, usize> = HashMap::new();
            for t in &sg.tensors {
                *count.entry(t.name).or_default() += 1;
            }
            sg.op_ids()
                .map(|op| {
                    let t = sg.tensor(sg.op(op).outputs[0]);
                    assert!(!t.name.is_empty() && count[t.name] == 1, "{}", t.name);
                    t.name.to_owned()
                })
                .collect()
        })
        .collect()
}

/// A graph's results: key → (value, colour). (`Value` sorts keys; the
/// document's own order, op order, is checked on [`model_explorer::NodeData`].)
fn results(doc: &Value, gid: &str) -> HashMap<String, (String, String)> {
    doc[gid]["results"]
        .as_object()
        .unwrap_or_else(|| panic!("no graph {gid}"))
        .iter()
        .map(|(k, r)| {
            (
                k.clone(),
                (
                    r["value"].as_str().unwrap().to_owned(),
                    r["bgColor"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

/// The values of `names`' entries, in that order; each name must have one,
/// and nothing else may.
fn values_of(doc: &Value, gid: &str, names: &[String], what: &str) -> Vec<(String, String)> {
    let got = results(doc, gid);
    assert_eq!(got.len(), names.len(), "{what}: one entry per op");
    names
        .iter()
        .map(|n| {
            got.get(n)
                .unwrap_or_else(|| panic!("{what}: no entry for {n}"))
                .clone()
        })
        .collect()
}

fn colour(legend: &[(&str, &str)], value: &str) -> String {
    legend
        .iter()
        .find(|(n, _)| *n == value)
        .unwrap_or_else(|| panic!("{value} is not in the legend"))
        .1
        .to_owned()
}

#[test]
fn inspect_overlay_of_every_fixture_has_one_entry_per_op_keyed_by_its_output() {
    for path in common::fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let model = common::fixture_model(&name);
        let insp = tflq::analysis::inspect(&model);
        let doc = overlay(&model, View::default());
        check_schema(&doc);
        let ids = expected_graph_ids(&model);
        assert_eq!(
            doc.as_object().unwrap().keys().collect::<BTreeSet<_>>(),
            ids.iter().collect::<BTreeSet<_>>(),
            "{name}"
        );
        for (s, names) in output_names(&model).into_iter().enumerate() {
            let got = values_of(&doc, &ids[s], &names, &format!("{name} subgraph {s}"));
            let sq = &insp.subgraphs[s];
            for (i, (value, bg)) in got.iter().enumerate() {
                assert_eq!(*bg, colour(&COMPUTE_LEGEND, value), "{name} op {i}");
                let compute = sq.ops[i].compute;
                match compute {
                    Compute::Convert => {
                        let kind = &model.subgraphs[s].operators[i].kind;
                        let finding = sq
                            .findings
                            .iter()
                            .find(|f| f.ops[0].index() == i)
                            .map(|f| &f.kind);
                        let want = match finding {
                            Some(FindingKind::Requantize { .. }) => "requantize",
                            Some(FindingKind::TypeConversion { .. }) => "type-conversion",
                            Some(FindingKind::ConstantDequantize { .. }) => "constant-dequantize",
                            _ if kind.is(BuiltinCode::QUANTIZE) => "quantize",
                            _ => "dequantize",
                        };
                        assert_eq!(value, want, "{name} op {i}");
                    }
                    c => assert_eq!(value, c.name(), "{name} op {i}"),
                }
            }
        }
    }
}

#[test]
fn inspect_overlay_of_one_subgraph() {
    let model = common::fixture_model("control_flow.tflite");
    let doc = overlay(
        &model,
        View {
            subgraph: Some(SubgraphId(1)),
            section: Section::Ops,
        },
    );
    let ids = expected_graph_ids(&model);
    assert_eq!(
        doc.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![&ids[1]]
    );
    // The tensors and findings sections have no overlay: a usage error.
    let insp = tflq::analysis::inspect(&model);
    for section in [Section::Tensors, Section::Findings] {
        let err = tflq::report::inspect::render(
            &model,
            &insp,
            "m.tflite",
            Format::ModelExplorer,
            View {
                subgraph: None,
                section,
            },
            Style::default(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    }
}

const PAIRS: [(&str, &str); 7] = [
    ("ptq_int8.tflite", "qat_full.tflite"),
    ("ptq_int8.tflite", "qat_partial.tflite"),
    ("ptq_maximum.tflite", "qat_maximum_output.tflite"),
    ("ptq_maximum.tflite", "qat_maximum_noop.tflite"),
    (
        "plan_eltwise_ptq.tflite",
        "advice_unsupported_float_qat.tflite",
    ),
    (
        "plan_residual_ptq.tflite",
        "advice_concat_requantize_qat.tflite",
    ),
    ("ptq_int8.tflite", "advice_float_input_qat.tflite"),
];

#[test]
fn compare_overlay_gives_each_op_its_most_severe_finding_on_either_side() {
    for (p, q) in PAIRS {
        let (ptq, qat) = (common::fixture_model(p), common::fixture_model(q));
        let c = tflq::compare::compare(&ptq, &qat, Options::default());
        assert_eq!(c.problem, None, "{p} {q}");
        for side in [Side::Qat, Side::Ptq] {
            let model = if side == Side::Qat { &qat } else { &ptq };
            let doc = compare_overlay(&ptq, &qat, &c, side);
            check_schema(&doc);
            let ids = expected_graph_ids(model);
            for (s, names) in output_names(model).into_iter().enumerate() {
                let got = values_of(&doc, &ids[s], &names, &format!("{q} {side:?} {s}"));
                // The most severe finding naming each op, straight from the findings.
                let mut worst: Vec<Option<Severity>> = vec![None; names.len()];
                for f in &c.findings {
                    let sg = match side {
                        Side::Qat => f.subgraph,
                        Side::Ptq => {
                            c.alignment
                                .iter()
                                .find(|a| a.qat == f.subgraph)
                                .unwrap()
                                .ptq
                        }
                    };
                    if sg.index() != s {
                        continue;
                    }
                    let mut ops = if side == Side::Qat {
                        f.qat_ops.clone()
                    } else {
                        f.ptq_ops.clone()
                    };
                    for pl in &f.places {
                        ops.extend(if side == Side::Qat {
                            &pl.qat_ops
                        } else {
                            &pl.ptq_ops
                        });
                    }
                    for op in ops {
                        let w = &mut worst[op.index()];
                        *w = Some(w.map_or(f.severity, |w| w.min(f.severity)));
                    }
                }
                for (i, (value, bg)) in got.iter().enumerate() {
                    let want = worst[i].map_or("no-finding", |s| s.name());
                    assert_eq!(value, want, "{p} {q} {side:?} op {i}");
                    assert_eq!(*bg, colour(&SEVERITY_LEGEND, value));
                }
            }
        }
    }
}

#[test]
fn float_island_of_the_partial_qat_model_is_float_compute() {
    let (ptq, qat) = (
        common::fixture_model("ptq_int8.tflite"),
        common::fixture_model("qat_partial.tflite"),
    );
    let c = tflq::compare::compare(&ptq, &qat, Options::default());
    let value = |model: &Model, doc: &Value, op: usize| {
        let sg = &model.subgraphs[0];
        let name = sg.tensor(sg.operators[op].outputs[0]).name;
        results(doc, "main")[name].0.clone()
    };
    let doc = compare_overlay(&ptq, &qat, &c, Side::Qat);
    let values: Vec<String> = (0..qat.subgraphs[0].operators.len())
        .map(|op| value(&qat, &doc, op))
        .collect();
    for op in [3, 4, 5, 6] {
        assert_eq!(values[op], "float-compute", "op {op}");
    }
    // The DEQUANTIZE and QUANTIZE around the island: its finding's message
    // mentions them, but they are not among its ops (docs/model-explorer.md: "lists the op").
    for op in [0, 2, 7] {
        assert_eq!(values[op], "no-finding", "op {op}");
    }
    let doc = compare_overlay(&ptq, &qat, &c, Side::Ptq);
    let values: Vec<String> = (0..ptq.subgraphs[0].operators.len())
        .map(|op| value(&ptq, &doc, op))
        .collect();
    // PTQ's conv1 (BN folded in), pool1 and conv2 are what QAT runs in float.
    for op in [1, 2, 3] {
        assert_eq!(values[op], "float-compute", "ptq op {op}");
    }
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn snapshots() {
    let model = common::fixture_model("qat_partial.tflite");
    let mut inspect = Vec::new();
    let insp = tflq::analysis::inspect(&model);
    model_explorer::inspect(&model, &insp, None)
        .write(&mut inspect)
        .unwrap();
    let ptq = common::fixture_model("ptq_int8.tflite");
    let c = tflq::compare::compare(&ptq, &model, Options::default());
    let mut compare = Vec::new();
    model_explorer::compare(&ptq, &model, &c, Side::Qat)
        .write(&mut compare)
        .unwrap();
    settings().bind(|| {
        insta::assert_snapshot!(
            "model_explorer_inspect_qat_partial",
            String::from_utf8(inspect).unwrap()
        );
        insta::assert_snapshot!(
            "model_explorer_compare_ptq_int8__qat_partial",
            String::from_utf8(compare).unwrap()
        );
    });
}

/// Subgraphs named and unnamed, with and without a signature; output names
/// that are empty, shared, or equal to an op's index.
fn awkward_names() -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let q = || Some(SynthQuant::per_tensor(0.1, 0));
    let relu = m.builtin(BuiltinCode::RELU);
    for (name, outs) in [
        ("", ["x", "", "x", "3"]),
        ("", ["a", "b", "c", "d"]),
        ("named", ["1", "a", "b", "c"]),
    ] {
        let sg = m.subgraph(name);
        let mut prev = m.tensor(sg, "in", &[1, 4], 9, q());
        let input = prev;
        for out in outs {
            let t = m.tensor(sg, out, &[1, 4], 9, q());
            m.op(sg, relu, &[prev], &[t], SynthOptions::None);
            prev = t;
        }
        m.io(sg, &[input], &[prev]);
    }
    m.signature("serving", 0, &[], &[]);
    m.finish()
}

#[test]
fn keys_and_graph_ids_follow_model_explorer_where_names_do_not_help() {
    let bytes = awkward_names();
    // For scripts/check-model-explorer.py.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("awkward_names.tflite"), &bytes).unwrap();
    let model = common::leak_load(bytes);
    let doc = overlay(&model, View::default());
    check_schema(&doc);
    std::fs::write(
        dir.join("awkward_names.json"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    // The document in its own order: graphs in subgraph order, ops in op order.
    let data = model_explorer::inspect(&model, &tflq::analysis::inspect(&model), None);
    let keys = |gid: &str| -> Vec<String> {
        let g = data.graphs.iter().find(|g| g.id == gid).unwrap();
        assert_eq!(
            results(&doc, gid).len(),
            g.results.len(),
            "the written document has what the data has"
        );
        g.results.iter().map(|r| r.key.clone()).collect()
    };
    // Subgraph 0 takes its signature's key. Op 0 and op 2 share "x", op 1
    // has no name: each is keyed by its node id. Op 3's "3" is a name.
    assert_eq!(keys("serving"), ["0", "1", "2", "3"]);
    assert_eq!(keys("subgraph_1"), ["a", "b", "c", "d"]);
    // Op 0's output is named "1", op 1's node id: the web app looks names
    // up first, so "1" is op 0's key, and op 1 keys by its own name.
    assert_eq!(keys("named"), ["1", "a", "b", "c"]);
    assert_eq!(
        data.graphs
            .iter()
            .map(|g| g.id.as_str())
            .collect::<Vec<_>>(),
        ["serving", "subgraph_1", "named"]
    );
}

#[test]
fn an_op_that_cannot_be_told_apart_is_left_out() {
    let mut m = ModelBuilder::new();
    let q = || Some(SynthQuant::per_tensor(0.1, 0));
    let relu = m.builtin(BuiltinCode::RELU);
    let sg = m.subgraph("g");
    let a = m.tensor(sg, "in", &[1, 4], 9, q());
    // Op 0's output is shared and op 1's is named "0": op 0 has no key.
    let b = m.tensor(sg, "dup", &[1, 4], 9, q());
    let c = m.tensor(sg, "0", &[1, 4], 9, q());
    m.tensor(sg, "dup", &[1, 4], 9, q());
    m.op(sg, relu, &[a], &[b], SynthOptions::None);
    m.op(sg, relu, &[b], &[c], SynthOptions::None);
    m.io(sg, &[a], &[c]);
    let model = common::leak_load(m.finish());
    let doc = overlay(&model, View::default());
    check_schema(&doc);
    assert_eq!(results(&doc, "g").keys().collect::<Vec<_>>(), ["0"]);
}

/// One RELU per subgraph, named `names`: int8 in the subgraphs `int8`
/// marks, float in the others, so each subgraph's data tells which one it
/// belongs to.
fn one_relu_per_subgraph(names: &[&str], int8: &[bool]) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let relu = m.builtin(BuiltinCode::RELU);
    for (name, &q) in names.iter().zip(int8) {
        let sg = m.subgraph(name);
        let (ty, quant) = if q {
            (9, Some(SynthQuant::per_tensor(0.1, 0)))
        } else {
            (0, None)
        };
        let a = m.tensor(sg, "in", &[1, 4], ty, quant.clone());
        let b = m.tensor(sg, "out", &[1, 4], ty, quant);
        m.op(sg, relu, &[a], &[b], SynthOptions::None);
        m.io(sg, &[a], &[b]);
    }
    m.finish()
}

/// The computes each graph of `doc` gives its one op.
fn one_value_per_graph(doc: &Value) -> Vec<(String, String)> {
    doc.as_object()
        .unwrap()
        .iter()
        .map(|(gid, g)| {
            let r = g["results"].as_object().unwrap();
            assert_eq!(r.len(), 1, "{gid}");
            (gid.clone(), r["out"]["value"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn subgraphs_sharing_a_graph_id_are_written_as_the_web_app_numbers_them() {
    // Model Explorer's web app looks node data up by graph id alone, and
    // shows the n-th subgraph of a repeated id as "<id> (n)".
    let bytes = one_relu_per_subgraph(
        &["twin", "other", "twin", "twin"],
        &[true, true, false, true],
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    // For scripts/check-model-explorer.py.
    std::fs::write(dir.join("twin_ids.tflite"), &bytes).unwrap();
    let model = common::leak_load(bytes);
    assert_eq!(
        model_explorer::graph_ids(&model),
        [
            Some("twin".to_owned()),
            Some("other".to_owned()),
            Some("twin (2)".to_owned()),
            Some("twin (3)".to_owned())
        ]
    );
    let doc = overlay(&model, View::default());
    check_schema(&doc);
    std::fs::write(
        dir.join("twin_ids.json"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    let mut got = one_value_per_graph(&doc);
    got.sort();
    assert_eq!(
        got,
        [
            ("other".to_owned(), "int8".to_owned()),
            ("twin".to_owned(), "int8".to_owned()),
            ("twin (2)".to_owned(), "float".to_owned()),
            ("twin (3)".to_owned(), "int8".to_owned()),
        ]
    );
    // One subgraph alone keeps the id the web app gives it among all.
    let doc = overlay(
        &model,
        View {
            subgraph: Some(SubgraphId(2)),
            section: Section::Ops,
        },
    );
    assert_eq!(
        one_value_per_graph(&doc),
        [("twin (2)".to_owned(), "float".to_owned())]
    );
    // And no note: every subgraph got its data.
    let out = tflq()
        .args(["inspect", "--format", "model-explorer"])
        .arg(dir.join("twin_ids.tflite"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "");
}

#[test]
fn subgraphs_the_web_app_cannot_tell_apart_get_no_data_and_a_note() {
    // The second "a" becomes "a (2)", the id the third subgraph has anyway:
    // the web app would paint both with one graph's data.
    let bytes = one_relu_per_subgraph(&["a", "a", "a (2)", "b"], &[true, false, true, false]);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("clashing_ids.tflite");
    std::fs::write(&path, &bytes).unwrap();
    let model = common::leak_load(bytes);
    assert_eq!(
        model_explorer::graph_ids(&model),
        [Some("a".to_owned()), None, None, Some("b".to_owned())]
    );
    let doc = overlay(&model, View::default());
    check_schema(&doc);
    assert_eq!(
        one_value_per_graph(&doc),
        [
            ("a".to_owned(), "int8".to_owned()),
            ("b".to_owned(), "float".to_owned())
        ]
    );
    let run = |extra: &[&str]| {
        let out = tflq()
            .args(["inspect", "--format", "model-explorer"])
            .arg(&path)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    // The note comes from the command line, for the subgraphs it writes.
    let note = run(&[]);
    assert!(
        note.starts_with("note: ")
            && note.contains("no node data for subgraph(s) 1, 2:")
            && note.lines().count() == 1,
        "{note}"
    );
    assert_eq!(run(&["--subgraph", "3"]), "");
    assert!(run(&["--subgraph", "2"]).contains("subgraph(s) 2:"));
}

fn tflq() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tflq"));
    c.current_dir(common::root()).env_clear();
    c
}

#[test]
fn command_line() {
    let out = tflq()
        .args([
            "inspect",
            "testdata/qat_partial.tflite",
            "--format",
            "model-explorer",
            "--color",
            "always",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let model = common::fixture_model("qat_partial.tflite");
    let insp = tflq::analysis::inspect(&model);
    let mut want = Vec::new();
    model_explorer::inspect(&model, &insp, None)
        .write(&mut want)
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(want).unwrap()
    );

    let args = [
        "compare",
        "testdata/ptq_int8.tflite",
        "testdata/qat_partial.tflite",
        "--format",
        "model-explorer",
    ];
    let qat = tflq().args(args).output().unwrap();
    let ptq = tflq().args(args).args(["--side", "ptq"]).output().unwrap();
    assert_eq!((qat.status.code(), ptq.status.code()), (Some(0), Some(0)));
    let qat: Value = serde_json::from_slice(&qat.stdout).unwrap();
    let ptq: Value = serde_json::from_slice(&ptq.stdout).unwrap();
    assert_eq!(qat["main"]["name"], "tflq finding severity (QAT)");
    assert_eq!(ptq["main"]["name"], "tflq finding severity (PTQ)");
    assert!(ptq["main"]["results"].get("net_a/pool1/MaxPool").is_some());

    for (args, message) in [
        (
            &[
                "compare",
                "testdata/ptq_int8.tflite",
                "testdata/qat_partial.tflite",
                "--side",
                "ptq",
            ][..],
            "error: --side chooses the model --format model-explorer colours\n",
        ),
        (
            &[
                "inspect",
                "testdata/ptq_int8.tflite",
                "--format",
                "model-explorer",
                "--tensors",
            ][..],
            "error: model-explorer output colours ops: it has no tensors or findings section\n",
        ),
    ] {
        let out = tflq().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert_eq!(String::from_utf8(out.stderr).unwrap(), message);
    }
}
