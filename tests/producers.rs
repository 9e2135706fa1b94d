//! Files from producers other than the TF converter's Keras path, read as
//! their producer writes them: litert-torch (PT2E), MediaPipe's models
//! (old keras2tflite exporter, nested scopes, sparse float16 weights) and
//! onnx2tf (its own writer and its TF-converter backend). Each fixture has
//! TensorFlow's reading beside it (tests/reference.rs checks tflq against it).

mod common;

use tflq::analysis::{Compute, FindingKind, SchemeKind};

struct Read {
    producer: &'static str,
    scheme: SchemeKind,
    /// (opcode, layer) of every op but QUANTIZE/DEQUANTIZE, subgraph 0.
    ops: Vec<(String, Option<String>)>,
    /// Every layer any op names (a fused op names several).
    all_layers: Vec<String>,
    findings: Vec<&'static str>,
}

fn read(name: &str) -> Read {
    let model = common::fixture_model(name);
    let insp = tflq::analysis::inspect(&model);
    let sg = &model.subgraphs[0];
    let ops = insp.subgraphs[0]
        .ops
        .iter()
        .filter(|o| o.compute != Compute::Convert)
        .map(|o| (sg.op(o.op).kind.to_string(), o.layer.clone()))
        .collect();
    let all_layers = insp.subgraphs[0]
        .ops
        .iter()
        .flat_map(|o| o.layers.iter().cloned())
        .collect();
    Read {
        all_layers,
        producer: insp.producer.name(),
        scheme: insp.scheme.kind,
        ops,
        findings: insp
            .subgraphs
            .iter()
            .flat_map(|s| s.findings.iter().map(|f| f.kind.name()))
            .collect(),
    }
}

/// At most this share (in percent) of compute ops without a layer.
fn assert_named(r: &Read, name: &str, max_percent: usize) {
    let unnamed = r.ops.iter().filter(|(_, l)| l.is_none()).count();
    assert!(
        unnamed * 100 <= r.ops.len() * max_percent,
        "{name}: {unnamed} of {} ops without a layer: {:?}",
        r.ops.len(),
        r.ops
    );
}

fn layers(r: &Read) -> Vec<&str> {
    r.all_layers.iter().map(String::as_str).collect()
}

#[test]
fn litert_torch_module_paths() {
    for name in ["torch_float.tflite", "torch_ptq.tflite", "torch_qat.tflite"] {
        let r = read(name);
        assert_eq!(r.producer, "litert-torch", "{name}");
        assert_named(&r, name, 5);
        let l = layers(&r);
        for module in [
            "stem.0",
            "blocks.0.conv",
            "blocks.1.conv",
            "pool",
            "norm",
            "head",
        ] {
            assert!(l.contains(&module), "{name}: no {module} in {l:?}");
        }
    }
    // PT2E leaves the LayerNorm in float: one island, named after it.
    let model = common::fixture_model("torch_ptq.tflite");
    let insp = tflq::analysis::inspect(&model);
    let island = insp.subgraphs[0]
        .findings
        .iter()
        .find(|f| matches!(f.kind, FindingKind::FloatIsland { .. }))
        .expect("the float LayerNorm");
    assert_eq!(island.layer.as_deref(), Some("norm"));
    assert_eq!(insp.scheme.kind, SchemeKind::MixedInt8);
}

/// The PTQ/QAT pair from litert-torch is one network, compared by module
/// name, and matches.
#[test]
fn litert_torch_pair_is_compared_by_module() {
    let (p, q) = (
        common::fixture_model("torch_ptq.tflite"),
        common::fixture_model("torch_qat.tflite"),
    );
    let c = tflq::compare::compare(&p, &q, tflq::compare::Options::default());
    assert_eq!(c.problem, None);
    assert!(c.placement_matches());
    let by_name = c.alignment[0]
        .matches
        .iter()
        .filter(|m| m.evidence == tflq::compare::Evidence::LayerName)
        .count();
    assert!(by_name >= 10, "only {by_name} ops aligned by module name");
}

#[test]
fn mediapipe_models() {
    // The old keras2tflite exporter names every output after its layer.
    let r = read("mediapipe_hand_recrop.tflite");
    assert_eq!(r.producer, "tf-keras");
    assert_eq!(r.scheme, SchemeKind::Float);
    assert_named(&r, "hand_recrop", 0);
    assert_eq!(r.ops[0], ("CONV_2D".to_owned(), Some("conv2d".to_owned())));
    assert!(layers(&r).contains(&"p_re_lu_1"));

    // Dense float16 weights: constants dequantized, not activations.
    let r = read("mediapipe_face_detection_short_range.tflite");
    assert_eq!(r.scheme, SchemeKind::Float16Weights);
    assert_named(&r, "short_range", 0);
    assert!(
        r.findings.iter().all(|k| *k == "constant-dequantize"),
        "{:?}",
        r.findings
    );

    // The same exporter without its name in the description (the file says
    // `facemesh-lite.tflite.no_meta`): its weights, `conv2d_1/Kernel`, tell
    // it, so the PRELU, ADD and MAX_POOL_2D outputs named `p_re_lu_1`,
    // `add_1`, `max_pooling2d_1` are layers like the convs.
    let r = read("mediapipe_face_landmark.tflite");
    assert_eq!(r.producer, "tf-keras");
    assert_eq!(r.scheme, SchemeKind::Float16Weights);
    assert_named(&r, "face_landmark", 0);
    assert_eq!(r.ops.len(), 97);
    for l in ["p_re_lu_1", "add_1", "max_pooling2d_1", "conv2d_1"] {
        assert!(layers(&r).contains(&l), "{l}");
    }

    // Nested model scopes and sparse float16 weights through DENSIFY.
    let r = read("mediapipe_face_detection_full_range_sparse.tflite");
    assert_eq!(r.producer, "tf-keras");
    assert_eq!(r.scheme, SchemeKind::Float16Weights);
    assert_named(&r, "full_range_sparse", 2);
    assert!(
        !layers(&r).contains(&"model"),
        "the innermost layer, not the model scope"
    );
    assert!(layers(&r).contains(&"zero_padding2d"));
    assert_eq!(
        r.findings
            .iter()
            .filter(|k| **k == "constant-dequantize")
            .count(),
        182,
        "every DEQUANTIZE, densified or not, is of a constant"
    );
    assert!(!r.findings.contains(&"dequantize"));
    assert!(!r.findings.contains(&"float-island"));
}

#[test]
fn onnx2tf_models() {
    let r = read("onnx2tf_float32.tflite");
    assert_eq!(r.producer, "onnx2tf");
    assert_eq!(r.scheme, SchemeKind::Float);
    assert_named(&r, "onnx2tf_float32", 6);
    let l = layers(&r);
    for node in [
        "stem.0",
        "blocks.0.conv",
        "blocks.1.conv",
        "pool",
        "norm",
        "head",
    ] {
        assert!(l.contains(&node), "no {node} in {l:?}");
    }
    // The conv that writes `blocks.0.conv/Conv_input_nhwc` is the stem's: its
    // weights say so.
    let convs: Vec<_> = r
        .ops
        .iter()
        .filter(|(k, _)| k == "CONV_2D")
        .map(|(_, l)| l.as_deref())
        .collect();
    assert_eq!(convs.first().copied().flatten(), Some("stem.0"));

    // float16 activations end to end: its own scheme.
    assert_eq!(read("onnx2tf_float16.tflite").scheme, SchemeKind::Float16);
    assert_eq!(read("onnx2tf_int8.tflite").scheme, SchemeKind::FullInteger);

    // The TF-converter backend writes a Keras model of TF-op layers.
    let r = read("onnx2tf_tfconv_int8.tflite");
    assert_eq!(r.producer, "onnx2tf");
    assert_eq!(r.scheme, SchemeKind::FullInteger);
}

/// Advice on a non-Keras pair speaks no tfmot.
#[test]
fn onnx2tf_against_litert_torch_has_no_keras_words() {
    let (p, q) = (
        common::fixture_model("onnx2tf_tfconv_int8.tflite"),
        common::fixture_model("torch_qat.tflite"),
    );
    let c = tflq::compare::compare(&p, &q, tflq::compare::Options::default());
    // The float LayerNorm of the PyTorch QAT model is one place to add
    // quantizers: there is advice to check.
    assert_eq!(
        c.count(tflq::compare::Kind::AddQuantizer),
        1,
        "{:?}",
        c.findings
    );
    assert!(
        c.findings
            .iter()
            .all(|f| f.vocabulary == tflq::producer::Vocabulary::Pt2e)
    );
    for f in &c.findings {
        let s = tflq::report::compare::suggestion(f);
        for word in ["tfmot", "QuantizeConfig", "Keras", "quantize_annotate"] {
            assert!(!s.contains(word), "{word} in: {s}");
        }
    }
}
