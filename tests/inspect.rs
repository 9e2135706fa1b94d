//! `tflq inspect` on every real fixture: snapshots of the three formats, the
//! JSON against TensorFlow's own reading, and the findings known to be there.

mod common;

use serde_json::Value;
use tflq::analysis::{FindingKind, SchemeKind};
use tflq::model::{BuiltinCode, DType, OpId};
use tflq::report::inspect::{Section, View, render};
use tflq::report::{Format, Style};

fn rendered(path: &std::path::Path, format: Format) -> String {
    let file = tflq::ModelFile::open(path).unwrap();
    let insp = tflq::analysis::inspect(file.model());
    let label = format!("testdata/{}", path.file_name().unwrap().to_string_lossy());
    let mut out = Vec::new();
    render(
        file.model(),
        &insp,
        &label,
        format,
        View::default(),
        Style::default(),
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r#""tool": "tflq [^"]+""#, r#""tool": "tflq [VERSION]""#);
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn text_format_of_every_fixture() {
    settings().bind(|| {
        insta::glob!(
            concat!(env!("CARGO_MANIFEST_DIR"), "/testdata"),
            "*.tflite",
            |path| {
                insta::assert_snapshot!(rendered(path, Format::Text));
            }
        );
    });
}

#[test]
fn table_format_of_every_fixture() {
    settings().bind(|| {
        insta::glob!(
            concat!(env!("CARGO_MANIFEST_DIR"), "/testdata"),
            "*.tflite",
            |path| {
                let table = rendered(path, Format::Table);
                for line in table.lines() {
                    assert!(
                        line.chars().count() <= 100,
                        "wider than 100 columns: {line}"
                    );
                }
                insta::assert_snapshot!(table);
            }
        );
    });
}

#[test]
fn json_format_of_every_fixture() {
    settings().bind(|| {
        insta::glob!(
            concat!(env!("CARGO_MANIFEST_DIR"), "/testdata"),
            "*.tflite",
            |path| {
                insta::assert_snapshot!(rendered(path, Format::Json));
            }
        );
    });
}

/// The JSON report says of every tensor, operator and signature exactly what
/// TensorFlow's reader said.
#[test]
fn json_agrees_with_tensorflow_reference() {
    let fixtures = common::fixtures();
    assert!(fixtures.len() >= 15);
    for path in fixtures {
        let ours: Value = serde_json::from_str(&rendered(&path, Format::Json)).unwrap();
        let theirs: Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("ref.json")).unwrap(),
        )
        .unwrap();
        let name = path.display().to_string();
        assert_eq!(ours["schema_version"], 2);
        let (os, ts) = (
            ours["subgraphs"].as_array().unwrap(),
            theirs["subgraphs"].as_array().unwrap(),
        );
        assert_eq!(os.len(), ts.len(), "{name}");
        for (o, t) in os.iter().zip(ts) {
            for key in ["index", "name", "inputs", "outputs"] {
                assert_eq!(o[key], t[key], "{name} subgraph {key}");
            }
            let (ot, tt) = (
                o["tensors"].as_array().unwrap(),
                t["tensors"].as_array().unwrap(),
            );
            assert_eq!(ot.len(), tt.len(), "{name}");
            for (a, b) in ot.iter().zip(tt) {
                for key in [
                    "index",
                    "name",
                    "shape",
                    "shape_signature",
                    "dtype",
                    "buffer",
                    "buffer_bytes",
                    "is_variable",
                ] {
                    assert_eq!(a[key], b[key], "{name} tensor {} {key}", b["index"]);
                }
                match (&a["quantization"], &b["quantization"]) {
                    (Value::Null, Value::Null) => {}
                    (qa, qb) => {
                        assert_eq!(
                            qa["zero_point"], qb["zero_point"],
                            "{name} tensor {}",
                            b["index"]
                        );
                        assert_eq!(
                            qa["quantized_dimension"], qb["quantized_dimension"],
                            "{name} tensor {}",
                            b["index"]
                        );
                        // Scales compare as float32: JSON holds the shortest
                        // text that reads back to the stored value.
                        let f = |v: &Value| {
                            v.as_array()
                                .unwrap()
                                .iter()
                                .map(|x| (x.as_f64().unwrap() as f32).to_bits())
                                .collect::<Vec<_>>()
                        };
                        assert_eq!(
                            f(&qa["scale"]),
                            f(&qb["scale"]),
                            "{name} tensor {}",
                            b["index"]
                        );
                    }
                }
            }
            let (oo, to) = (
                o["operators"].as_array().unwrap(),
                t["operators"].as_array().unwrap(),
            );
            assert_eq!(oo.len(), to.len(), "{name}");
            for (a, b) in oo.iter().zip(to) {
                for key in ["index", "opcode", "version", "inputs", "outputs"] {
                    assert_eq!(a[key], b[key], "{name} operator {} {key}", b["index"]);
                }
            }
        }
        assert_eq!(ours["signatures"], theirs["signatures"], "{name}");
    }
}

fn inspect(name: &str) -> (tflq::ModelFile, tflq::analysis::Inspection) {
    let file = tflq::ModelFile::open(common::fixture(name)).unwrap();
    let insp = tflq::analysis::inspect(file.model());
    (file, insp)
}

#[test]
fn schemes_of_the_fixtures() {
    for (name, scheme) in [
        ("float.tflite", SchemeKind::Float),
        ("float16.tflite", SchemeKind::Float16Weights),
        ("dynamic_range.tflite", SchemeKind::DynamicRange),
        ("ptq_int8.tflite", SchemeKind::FullInteger),
        ("ptq_int8_io.tflite", SchemeKind::FullInteger),
        ("ptq_int16x8.tflite", SchemeKind::Int16x8),
        ("qat_full.tflite", SchemeKind::FullInteger),
        ("qat_partial.tflite", SchemeKind::MixedInt8),
        ("lstm.tflite", SchemeKind::Float),
    ] {
        let (_, insp) = inspect(name);
        assert_eq!(insp.scheme.kind, scheme, "{name}");
    }
    assert!(inspect("qat_full.tflite").1.scheme.qat);
    assert!(!inspect("ptq_int8.tflite").1.scheme.qat);
}

#[test]
fn partially_annotated_qat_model_shows_its_float_island() {
    let (file, insp) = inspect("qat_partial.tflite");
    let sg = &file.model().subgraphs[0];
    let f = &insp.subgraphs[0].findings;
    let island = f
        .iter()
        .find(|f| matches!(f.kind, FindingKind::FloatIsland { .. }))
        .expect("a float island");
    let FindingKind::FloatIsland { entries, exits, .. } = &island.kind else {
        unreachable!()
    };
    // Every island op computes in float; its entry is a DEQUANTIZE and its exit a QUANTIZE.
    for op in &island.ops {
        assert!(
            insp.subgraphs[0].ops[op.index()].compute.is_float(),
            "op {op}"
        );
    }
    assert!(!entries.is_empty() && !exits.is_empty());
    for e in entries {
        assert!(sg.op(*e).kind.is(BuiltinCode::DEQUANTIZE));
    }
    for x in exits {
        assert!(sg.op(*x).kind.is(BuiltinCode::QUANTIZE));
    }
    // The Q/DQ ops at the island's edges are listed too.
    assert!(
        f.iter()
            .any(|f| matches!(f.kind, FindingKind::Dequantize { .. }) && f.ops == vec![entries[0]])
    );
    assert!(
        f.iter()
            .any(|f| matches!(f.kind, FindingKind::Quantize { .. }) && f.ops == vec![exits[0]])
    );
    // And the model's I/O boundary.
    assert!(
        f.iter()
            .any(|f| matches!(f.kind, FindingKind::QuantizeInput { .. }) && f.ops == vec![OpId(0)])
    );
    assert!(
        f.iter()
            .any(|f| matches!(f.kind, FindingKind::DequantizeOutput { .. }))
    );
    // The float island is where the unannotated BatchNorm lives.
    assert!(
        island
            .ops
            .iter()
            .any(|o| sg.op(*o).kind.is(BuiltinCode::MUL))
    );
}

#[test]
fn float16_model_dequantizes_its_weights() {
    let (file, insp) = inspect("float16.tflite");
    let sg = &file.model().subgraphs[0];
    let dq: Vec<_> = insp.subgraphs[0]
        .findings
        .iter()
        .filter_map(|f| match f.kind {
            FindingKind::ConstantDequantize { from, tensor } => Some((f.ops[0], from, tensor)),
            _ => None,
        })
        .collect();
    assert!(dq.len() >= 4, "{dq:?}");
    for (op, from, tensor) in dq {
        assert_eq!(from, DType::FLOAT16);
        assert!(sg.tensor(tensor).is_constant());
        assert_eq!(sg.op(op).version, 3);
    }
    // No float island in a float model: islands are about integer graphs.
    assert!(
        !insp.subgraphs[0]
            .findings
            .iter()
            .any(|f| matches!(f.kind, FindingKind::FloatIsland { .. }))
    );
}

#[test]
fn dynamic_range_model_has_hybrid_ops() {
    let (_, insp) = inspect("dynamic_range.tflite");
    assert!(insp.subgraphs[0].findings.iter().any(|f| matches!(
        f.kind,
        FindingKind::HybridOp {
            weight_dtype: DType::INT8,
            ..
        }
    )));
}

#[test]
fn requantize_in_the_maximum_output_model() {
    let (file, insp) = inspect("qat_maximum_output.tflite");
    let req: Vec<_> = insp.subgraphs[0]
        .findings
        .iter()
        .filter(|f| matches!(f.kind, FindingKind::Requantize { .. }))
        .collect();
    assert_eq!(req.len(), 1);
    assert!(
        file.model().subgraphs[0]
            .op(req[0].ops[0])
            .kind
            .is(BuiltinCode::QUANTIZE)
    );
    let FindingKind::Requantize {
        scale_ratio: Some(r),
        ..
    } = req[0].kind
    else {
        panic!()
    };
    assert!(r > 0.0 && r != 1.0);
}

#[test]
fn converter_output_keeps_the_spec() {
    // Real converter output obeys the basic int8 rules; a finding here would
    // be a bug in the checks.
    for name in [
        "ptq_int8.tflite",
        "ptq_int8_io.tflite",
        "qat_full.tflite",
        "ptq_maximum.tflite",
        "qat_maximum_noop.tflite",
        "ptq_int16x8.tflite",
    ] {
        let (_, insp) = inspect(name);
        let breaks: Vec<_> = insp
            .subgraphs
            .iter()
            .flat_map(|s| &s.findings)
            .filter(|f| f.kind.is_spec_break())
            .collect();
        assert!(breaks.is_empty(), "{name}: {breaks:?}");
    }
}

#[test]
fn spec_breaks_are_found_in_a_broken_model() {
    use tflq::synth::{ModelBuilder, SynthOptions, SynthQuant};
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let conv = m.builtin(BuiltinCode::CONV_2D);
    let pool = m.builtin(BuiltinCode::MAX_POOL_2D);
    let soft = m.builtin(BuiltinCode::SOFTMAX);
    let x = m.tensor(
        sg,
        "x",
        &[1, 4, 4, 2],
        9,
        Some(SynthQuant::per_tensor(0.5, 0)),
    );
    // Weights with a non-zero zero point, bias scale 10x too big.
    let w = m.constant(
        sg,
        "w",
        &[2, 1, 1, 2],
        9,
        Some(SynthQuant {
            scale: vec![0.1, 0.2],
            zero_point: vec![0, 3],
            quantized_dimension: 0,
        }),
        4,
    );
    let b = m.constant(
        sg,
        "b",
        &[2],
        2,
        Some(SynthQuant::per_axis(vec![0.5, 1.0], 0)),
        8,
    );
    let y = m.tensor(
        sg,
        "model/conv/Conv2D",
        &[1, 4, 4, 2],
        9,
        Some(SynthQuant::per_tensor(0.25, -10)),
    );
    m.op(
        sg,
        conv,
        &[x, w, b],
        &[y],
        SynthOptions::Conv2d { activation: 0 },
    );
    // A max pool that changes the scale.
    let p = m.tensor(
        sg,
        "model/pool/MaxPool",
        &[1, 2, 2, 2],
        9,
        Some(SynthQuant::per_tensor(0.3, -10)),
    );
    m.op(sg, pool, &[y], &[p], SynthOptions::Pool2d { activation: 0 });
    // A softmax with the wrong output parameters.
    let s = m.tensor(
        sg,
        "model/softmax/Softmax",
        &[1, 2, 2, 2],
        9,
        Some(SynthQuant::per_tensor(0.01, 0)),
    );
    m.op(sg, soft, &[p], &[s], SynthOptions::None);
    m.io(sg, &[x], &[s]);
    let bytes = m.finish();
    let model = tflq::load(&bytes).unwrap();
    let insp = tflq::analysis::inspect(&model);
    let kinds: Vec<&str> = insp.subgraphs[0]
        .findings
        .iter()
        .map(|f| f.kind.name())
        .collect();
    assert_eq!(
        kinds,
        [
            "bias-scale",
            "weight-zero-point",
            "same-scale-mismatch",
            "fixed-output"
        ]
    );
}

#[test]
fn views_select_sections_and_subgraphs() {
    let file = tflq::ModelFile::open(common::fixture("control_flow.tflite")).unwrap();
    let insp = tflq::analysis::inspect(file.model());
    let mut out = Vec::new();
    let view = View {
        subgraph: Some(tflq::model::SubgraphId(1)),
        section: Section::Tensors,
    };
    render(
        file.model(),
        &insp,
        "cf",
        Format::Text,
        view,
        Style::default(),
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("subgraph 1 "));
    assert!(!text.contains("subgraph 0 "));
    assert!(text.contains("\ntensor t0 "));
    assert!(!text.contains("\nop "));
    // Colour only when asked.
    let mut out = Vec::new();
    render(
        file.model(),
        &insp,
        "cf",
        Format::Text,
        View::default(),
        Style {
            color: true,
            width: 100,
        },
        &mut out,
    )
    .unwrap();
    assert!(String::from_utf8(out).unwrap().contains("\x1b["));
}

#[test]
fn default_table_of_a_large_model_lists_only_non_integer_ops() {
    let bytes = tflq::synth::int8_chain(200, 8);
    let model = tflq::load(&bytes).unwrap();
    assert_eq!(model.subgraphs[0].operators.len(), 602);
    let insp = tflq::analysis::inspect(&model);
    let mut out = Vec::new();
    render(
        &model,
        &insp,
        "chain",
        Format::Table,
        View::default(),
        Style::default(),
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("602 operators; the 2 that are not integer compute (every op: --ops)"),
        "{text}"
    );
    assert!(text.contains("QUANTIZE v1") && text.contains("DEQUANTIZE v2"));
    assert!(!text.contains("CONV_2D v3"));
    // --ops still lists every one.
    let mut out = Vec::new();
    let ops = View {
        subgraph: None,
        section: Section::Ops,
    };
    render(
        &model,
        &insp,
        "chain",
        Format::Text,
        ops,
        Style::default(),
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let convs = text
        .lines()
        .filter(|l| l.starts_with("op ") && l.contains(" CONV_2D v3 "))
        .count();
    assert_eq!(convs, 200);
}

#[test]
fn uint8_io_and_weight_only_dequantize_are_named() {
    use tflq::synth::{ModelBuilder, SynthOptions, SynthQuant};
    // uint8 input -> QUANTIZE (to int8) -> ... -> QUANTIZE (to uint8) output,
    // as the converter writes for inference_input/output_type=tf.uint8.
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let q = m.builtin(BuiltinCode::QUANTIZE);
    let relu = m.builtin(BuiltinCode::RELU);
    let x = m.tensor(sg, "x", &[1, 4], 3, Some(SynthQuant::per_tensor(0.1, 128)));
    let xi = m.tensor(
        sg,
        "tfl.quantize",
        &[1, 4],
        9,
        Some(SynthQuant::per_tensor(0.1, 0)),
    );
    m.op(sg, q, &[x], &[xi], SynthOptions::None);
    let y = m.tensor(
        sg,
        "model/re_lu/Relu",
        &[1, 4],
        9,
        Some(SynthQuant::per_tensor(0.1, -128)),
    );
    m.op(sg, relu, &[xi], &[y], SynthOptions::None);
    let yu = m.tensor(
        sg,
        "Identity",
        &[1, 4],
        3,
        Some(SynthQuant::per_tensor(0.1, 0)),
    );
    m.op(sg, q, &[y], &[yu], SynthOptions::None);
    m.io(sg, &[x], &[yu]);
    let bytes = m.finish();
    let model = tflq::load(&bytes).unwrap();
    let insp = tflq::analysis::inspect(&model);
    let kinds: Vec<&FindingKind> = insp.subgraphs[0].findings.iter().map(|f| &f.kind).collect();
    assert_eq!(
        kinds,
        [
            &FindingKind::TypeConversion {
                from: DType::UINT8,
                to: DType::INT8
            },
            &FindingKind::TypeConversion {
                from: DType::INT8,
                to: DType::UINT8
            },
        ]
    );
    assert_eq!(insp.scheme.kind, SchemeKind::FullInteger);

    // Weight-only quantization: an INT8 constant dequantized for a float op.
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let dq = m.builtin(BuiltinCode::DEQUANTIZE);
    let tc = m.builtin(BuiltinCode::TRANSPOSE_CONV);
    let w8 = m.constant(
        sg,
        "w",
        &[4, 3, 3, 4],
        9,
        Some(SynthQuant::per_axis(vec![0.1; 4], 0)),
        144,
    );
    let wf = m.tensor(sg, "w_dq", &[4, 3, 3, 4], 0, None);
    m.op(sg, dq, &[w8], &[wf], SynthOptions::None);
    let shape = m.constant(sg, "shape", &[4], 2, None, 16);
    let x = m.tensor(sg, "x", &[1, 4, 4, 4], 0, None);
    let y = m.tensor(sg, "model/deconv/conv2d_transpose", &[1, 4, 4, 4], 0, None);
    m.op(sg, tc, &[shape, wf, x], &[y], SynthOptions::None);
    m.io(sg, &[x], &[y]);
    let bytes = m.finish();
    let model = tflq::load(&bytes).unwrap();
    let insp = tflq::analysis::inspect(&model);
    assert_eq!(insp.scheme.kind, SchemeKind::DynamicRange);
    assert!(matches!(
        insp.subgraphs[0].findings[0].kind,
        FindingKind::ConstantDequantize {
            from: DType::INT8,
            ..
        }
    ));
}

/// Sparse float16 weights reach the graph through DENSIFY then DEQUANTIZE:
/// still constants, not activations leaving an integer graph.
#[test]
fn densified_constants_stay_constants() {
    use tflq::synth::{ModelBuilder, SynthOptions};
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let densify = m.builtin(BuiltinCode::DENSIFY);
    let dq = m.builtin(BuiltinCode::DEQUANTIZE);
    let fc = m.builtin(BuiltinCode::FULLY_CONNECTED);
    let x = m.tensor(sg, "x", &[1, 8], 0, None);
    let w16 = m.constant(sg, "w_sparse", &[4, 8], 1, None, 16);
    let w16d = m.tensor(sg, "w_dense", &[4, 8], 1, None);
    let w = m.tensor(sg, "w", &[4, 8], 0, None);
    let y = m.tensor(sg, "model/fc/MatMul", &[1, 4], 0, None);
    m.op(sg, densify, &[w16], &[w16d], SynthOptions::None);
    m.op(sg, dq, &[w16d], &[w], SynthOptions::None);
    m.op(sg, fc, &[x, w, -1], &[y], SynthOptions::None);
    m.io(sg, &[x], &[y]);
    let model = common::leak_load(m.finish());
    let insp = tflq::analysis::inspect(&model);
    let sq = &insp.subgraphs[0];
    assert_eq!(sq.ops[0].compute, tflq::analysis::Compute::Other, "DENSIFY");
    let kinds: Vec<_> = sq.findings.iter().map(|f| f.kind.name()).collect();
    assert_eq!(kinds, ["constant-dequantize"]);
    assert_eq!(insp.scheme.kind, SchemeKind::Float16Weights);
}

/// A graph whose activations are float16 end to end is its own scheme, not
/// "float16 weights".
#[test]
fn a_float16_graph_is_float16_compute() {
    use tflq::synth::{ModelBuilder, SynthOptions};
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let fc = m.builtin(BuiltinCode::FULLY_CONNECTED);
    let relu = m.builtin(BuiltinCode::RELU);
    let x = m.tensor(sg, "x", &[1, 8], 1, None);
    let w = m.constant(sg, "w", &[4, 8], 1, None, 64);
    let y = m.tensor(sg, "y", &[1, 4], 1, None);
    let z = m.tensor(sg, "z", &[1, 4], 1, None);
    m.op(sg, fc, &[x, w, -1], &[y], SynthOptions::None);
    m.op(sg, relu, &[y], &[z], SynthOptions::None);
    m.io(sg, &[x], &[z]);
    let model = common::leak_load(m.finish());
    let insp = tflq::analysis::inspect(&model);
    assert_eq!(insp.scheme.kind, SchemeKind::Float16);
    assert_eq!(insp.scheme.kind.to_string(), "float16 compute");
}
