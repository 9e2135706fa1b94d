//! Every committed fixture, made by the real TensorFlow converter, must read
//! exactly as TensorFlow's own flatbuffer reader read it (`<name>.ref.json`,
//! written by `testdata/generate.py`): tensors, operators and signatures,
//! field by field.

mod common;

use serde_json::Value;
use tflq::model::{Buffer, Model};

fn as_i64s(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("integer"))
        .collect()
}

fn check(name: &str, model: &Model, reference: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut eq = |what: String, ours: String, theirs: String| {
        if ours != theirs {
            errs.push(format!(
                "{name}: {what}: tflq {ours} != tensorflow {theirs}"
            ));
        }
    };
    eq(
        "version".into(),
        model.version.to_string(),
        reference["version"].to_string(),
    );
    eq(
        "description".into(),
        format!("{:?}", model.description.as_deref().unwrap_or("")),
        format!("{:?}", reference["description"].as_str().unwrap_or("")),
    );
    let subgraphs = reference["subgraphs"].as_array().expect("subgraphs");
    eq(
        "subgraph count".into(),
        model.subgraphs.len().to_string(),
        subgraphs.len().to_string(),
    );
    for (s, (sg, rsg)) in model.subgraphs.iter().zip(subgraphs).enumerate() {
        eq(
            format!("sg{s} name"),
            sg.name.clone(),
            rsg["name"].as_str().unwrap_or("").into(),
        );
        let ids = |v: &[tflq::model::TensorId]| {
            format!("{:?}", v.iter().map(|t| t.0 as i64).collect::<Vec<_>>())
        };
        eq(
            format!("sg{s} inputs"),
            ids(&sg.inputs),
            format!("{:?}", as_i64s(&rsg["inputs"])),
        );
        eq(
            format!("sg{s} outputs"),
            ids(&sg.outputs),
            format!("{:?}", as_i64s(&rsg["outputs"])),
        );
        let tensors = rsg["tensors"].as_array().expect("tensors");
        eq(
            format!("sg{s} tensor count"),
            sg.tensors.len().to_string(),
            tensors.len().to_string(),
        );
        for (t, (tensor, rt)) in sg.tensors.iter().zip(tensors).enumerate() {
            let at = |f: &str| format!("sg{s} tensor {t} {f}");
            eq(
                at("name"),
                tensor.name.to_owned(),
                rt["name"].as_str().unwrap_or("").into(),
            );
            eq(
                at("shape"),
                format!("{:?}", tensor.shape),
                format!("{:?}", as_i64s(&rt["shape"])),
            );
            let sig = match &rt["shape_signature"] {
                Value::Null => None,
                v => Some(as_i64s(v)),
            };
            eq(
                at("shape_signature"),
                format!(
                    "{:?}",
                    tensor
                        .shape_signature
                        .as_ref()
                        .map(|s| s.iter().map(|&d| i64::from(d)).collect::<Vec<_>>())
                ),
                format!("{sig:?}"),
            );
            eq(
                at("dtype"),
                tensor.dtype.to_string(),
                rt["dtype"].as_str().unwrap_or("?").into(),
            );
            eq(
                at("buffer"),
                tensor.buffer.0.to_string(),
                rt["buffer"].to_string(),
            );
            eq(
                at("buffer_bytes"),
                tensor.data_len.to_string(),
                rt["buffer_bytes"].to_string(),
            );
            eq(
                at("is_variable"),
                tensor.is_variable.to_string(),
                rt["is_variable"].to_string(),
            );
            let ours = tensor.quantization.as_ref().filter(|q| !q.scale.is_empty());
            match (ours, &rt["quantization"]) {
                (None, Value::Null) => {}
                (Some(q), Value::Object(r)) => {
                    let scales: Vec<f32> = r["scale"]
                        .as_array()
                        .expect("scale")
                        .iter()
                        .map(|x| x.as_f64().expect("float") as f32)
                        .collect();
                    // Bit-exact: the reference holds the stored float32 values.
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    eq(
                        at("scale"),
                        format!("{:?}", bits(&q.scale.to_vec())),
                        format!("{:?}", bits(&scales)),
                    );
                    eq(
                        at("zero_point"),
                        format!("{:?}", q.zero_point),
                        format!("{:?}", as_i64s(&r["zero_point"])),
                    );
                    eq(
                        at("quantized_dimension"),
                        q.quantized_dimension.to_string(),
                        r["quantized_dimension"].to_string(),
                    );
                }
                (o, r) => eq(at("quantization"), format!("{o:?}"), r.to_string()),
            }
        }
        let ops = rsg["operators"].as_array().expect("operators");
        eq(
            format!("sg{s} op count"),
            sg.operators.len().to_string(),
            ops.len().to_string(),
        );
        for (o, (op, rop)) in sg.operators.iter().zip(ops).enumerate() {
            let at = |f: &str| format!("sg{s} op {o} {f}");
            eq(
                at("opcode"),
                op.kind.to_string(),
                rop["opcode"].as_str().unwrap_or("?").into(),
            );
            eq(
                at("version"),
                op.version.to_string(),
                rop["version"].to_string(),
            );
            let ins: Vec<i64> = op
                .inputs
                .iter()
                .map(|t| t.map_or(-1, |t| i64::from(t.0)))
                .collect();
            eq(
                at("inputs"),
                format!("{ins:?}"),
                format!("{:?}", as_i64s(&rop["inputs"])),
            );
            let outs: Vec<i64> = op.outputs.iter().map(|t| i64::from(t.0)).collect();
            eq(
                at("outputs"),
                format!("{outs:?}"),
                format!("{:?}", as_i64s(&rop["outputs"])),
            );
        }
    }
    let sigs = reference["signatures"].as_array().expect("signatures");
    eq(
        "signature count".into(),
        model.signatures.len().to_string(),
        sigs.len().to_string(),
    );
    for (sig, rs) in model.signatures.iter().zip(sigs) {
        eq(
            "signature key".into(),
            sig.key.clone(),
            rs["key"].as_str().unwrap_or("").into(),
        );
        eq(
            format!("signature {} subgraph", sig.key),
            sig.subgraph.0.to_string(),
            rs["subgraph"].to_string(),
        );
        for (field, ours) in [("inputs", &sig.inputs), ("outputs", &sig.outputs)] {
            let theirs: Vec<(String, i64)> = rs[field]
                .as_array()
                .expect("signature io")
                .iter()
                .map(|m| {
                    (
                        m["name"].as_str().unwrap_or("").to_owned(),
                        m["tensor"].as_i64().expect("tensor"),
                    )
                })
                .collect();
            let ours: Vec<(String, i64)> = ours
                .iter()
                .map(|(n, t)| (n.clone(), i64::from(t.0)))
                .collect();
            eq(
                format!("signature {} {field}", sig.key),
                format!("{ours:?}"),
                format!("{theirs:?}"),
            );
        }
    }
    let meta: Vec<String> = model.metadata.iter().map(|m| m.name.clone()).collect();
    let rmeta: Vec<String> = reference["metadata"]
        .as_array()
        .expect("metadata")
        .iter()
        .map(|m| m.as_str().unwrap_or("").to_owned())
        .collect();
    eq(
        "metadata names".into(),
        format!("{meta:?}"),
        format!("{rmeta:?}"),
    );
    errs
}

#[test]
fn every_fixture_matches_tensorflow_reading() {
    let fixtures = common::fixtures();
    assert!(
        fixtures.len() >= 15,
        "expected the committed fixtures, found {}",
        fixtures.len()
    );
    let mut errors = Vec::new();
    for path in &fixtures {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file = tflq::ModelFile::open(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reference: Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("ref.json")).expect("reference reading"),
        )
        .expect("reference JSON");
        errors.extend(check(&name, file.model(), &reference));
    }
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn known_fixture_facts() {
    let open = |n: &str| tflq::ModelFile::open(common::fixture(n)).expect(n);
    // min_runtime_version and CONVERSION_METADATA are decoded.
    let ptq = open("ptq_int8.tflite");
    let m = ptq.model();
    assert!(
        m.min_runtime_version
            .as_deref()
            .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    );
    let conv = m.conversion.as_ref().expect("CONVERSION_METADATA");
    assert!(
        conv.optimization_modes
            .iter()
            .any(|m| m == "PTQ_FULL_INTEGER"),
        "{conv:?}"
    );
    let qat = open("qat_full.tflite");
    let conv = qat
        .model()
        .conversion
        .as_ref()
        .expect("CONVERSION_METADATA");
    assert!(
        conv.optimization_modes
            .iter()
            .any(|m| m == "QUANTIZATION_AWARE_TRAINING"),
        "{conv:?}"
    );
    // Control flow ops link to their subgraphs.
    let cf = open("control_flow.tflite");
    let calls = tflq::graph::calls(cf.model());
    assert!(
        calls.iter().any(|c| c.role == tflq::model::CallRole::Body),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.role == tflq::model::CallRole::Then),
        "{calls:?}"
    );
    assert_eq!(cf.model().signatures.len(), 2);
    // Weight bytes are recorded by position and can be read on request.
    let f = open("float.tflite");
    let sg = &f.model().subgraphs[0];
    let weight = sg
        .tensors
        .iter()
        .find(|t| t.is_constant() && t.shape.len() == 4)
        .expect("a conv kernel");
    let data = f.tensor_data(weight).expect("inline data");
    assert_eq!(data.len() as u64, weight.element_count().unwrap() * 4);
    assert!(
        f.model()
            .buffers
            .iter()
            .all(|b| !matches!(b, Buffer::Appended(_)))
    );
}

#[test]
fn tensor_names_are_read_in_place() {
    // The loader borrows names from the file's bytes instead of copying
    // them (most of the metadata of a big model is names).
    for path in common::fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        let model = tflq::load(&bytes).unwrap();
        let file = bytes.as_ptr_range();
        for sg in &model.subgraphs {
            for t in sg.tensors.iter().filter(|t| !t.name.is_empty()) {
                assert!(
                    file.contains(&t.name.as_ptr()),
                    "{}: {:?} is a copy",
                    path.display(),
                    t.name
                );
            }
        }
    }
}

#[test]
fn graphs_of_fixtures_are_consistent() {
    for path in common::fixtures() {
        let file = tflq::ModelFile::open(&path).unwrap();
        for sg in &file.model().subgraphs {
            let g = tflq::graph::Graph::new(sg);
            assert!(g.file_order_is_topological(), "{}", path.display());
            let order = g.topo_order().expect("acyclic");
            assert_eq!(order.len(), sg.operators.len());
            for op in sg.op_ids() {
                for p in g.predecessors(op) {
                    assert!(g.successors(p).any(|s| s == op));
                }
                for t in &sg.op(op).outputs {
                    assert_eq!(g.producer(*t), Some(op));
                }
                for t in sg.op(op).present_inputs() {
                    assert!(g.consumers(t).contains(&op));
                    if g.is_activation(t) && !g.is_graph_input(t) && !sg.tensor(t).is_variable {
                        assert!(
                            g.producer(t).is_some(),
                            "{}: tensor {} has no producer",
                            path.display(),
                            t
                        );
                    }
                }
            }
        }
    }
}
