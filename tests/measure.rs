//! `tflq::measure` without an interpreter: what it pairs, how it cuts, how it
//! sums. The runs themselves are tested in python/tests/test_measure.py.

use tflq::ModelFile;
use tflq::measure::{Accumulator, Input, Plan, Role, RunModel, Source};

fn open(name: &str) -> (ModelFile, Vec<u8>) {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    (
        ModelFile::open(&path).unwrap(),
        std::fs::read(&path).unwrap(),
    )
}

fn plan(float: &str, ptq: &str, qat: Option<&str>) -> Plan {
    let (f, fb) = open(float);
    let (p, pb) = open(ptq);
    let q = qat.map(open);
    let qi = q.as_ref().map(|(m, b)| Input {
        model: m.model(),
        bytes: b,
    });
    Plan::new(
        Input {
            model: f.model(),
            bytes: &fb,
        },
        None,
        Input {
            model: p.model(),
            bytes: &pb,
        },
        qi,
    )
    .unwrap()
}

#[test]
fn ptq_values_pair_with_the_float_model_one_op_each() {
    let plan = plan("float.tflite", "ptq_int8.tflite", None);
    let side = &plan.sides[0];
    assert_eq!(side.role, Role::Ptq);
    // QUANTIZE, then the seven compute ops; the DEQUANTIZE at the end writes
    // the value it reads.
    assert_eq!(side.pairing.probes.len(), 8);
    assert_eq!(side.ops.len(), 7);
    assert_eq!(side.pairing.outputs.len(), 1);
    // Every op but the DEQUANTIZE is a segment of its own.
    for p in &side.pairing.probes {
        let s = &side.pairing.segments[p.segment.unwrap()];
        assert_eq!(s.ops, vec![p.op.unwrap()]);
    }
    // Runs: float, PTQ, its local cut, the float model's layer-wise cut.
    let names: Vec<&str> = plan.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["float", "ptq", "ptq-local", "ptq-layerwise"]);
    let local = &plan.runs[2];
    assert!(
        local
            .inputs
            .iter()
            .all(|(_, s)| matches!(s, Source::Tensor { run: 0, .. }))
    );
    let layerwise = &plan.runs[3];
    assert!(
        layerwise
            .inputs
            .iter()
            .all(|(_, s)| matches!(s, Source::Tensor { run: 1, .. }))
    );
}

#[test]
fn cuts_are_models_tflq_reads_with_one_input_per_feed() {
    let plan = plan("float.tflite", "ptq_int8.tflite", None);
    for run in &plan.runs {
        let RunModel::Cut(bytes) = &run.model else {
            continue;
        };
        let m = tflq::load(bytes).unwrap();
        let sg = &m.subgraphs[0];
        assert_eq!(sg.inputs.len(), run.inputs.len(), "{}", run.name);
        assert_eq!(sg.outputs.len(), run.reads.len(), "{}", run.name);
        // The fed values are converted by the interpreter's own ops.
        let converts = sg
            .operators
            .iter()
            .filter(|o| {
                matches!(
                    o.kind,
                    tflq::model::OpKind::Builtin(
                        tflq::model::BuiltinCode::QUANTIZE | tflq::model::BuiltinCode::DEQUANTIZE
                    )
                )
            })
            .count();
        assert!(converts >= 1, "{}", run.name);
        assert!(m.signatures.is_empty());
    }
}

#[test]
fn an_unfolded_batchnorm_runs_with_its_conv_as_one_segment() {
    let plan = plan(
        "float.tflite",
        "ptq_int8.tflite",
        Some("advice_bn_unfolded_qat.tflite"),
    );
    let qat = &plan.sides[1];
    assert_eq!(qat.role, Role::Qat);
    assert!(plan.comparison.is_some());
    let (_, qb) = open("advice_bn_unfolded_qat.tflite");
    let q = tflq::load(&qb).unwrap();
    let add = qat
        .pairing
        .probes
        .iter()
        .find(|p| {
            p.op.is_some_and(|o| q.subgraphs[0].op(o).kind.to_string() == "ADD")
        })
        .unwrap();
    let seg = &qat.pairing.segments[add.segment.unwrap()];
    let kinds: Vec<String> = seg
        .ops
        .iter()
        .map(|&o| q.subgraphs[0].op(o).kind.to_string())
        .collect();
    assert_eq!(kinds, ["CONV_2D", "DEQUANTIZE", "MUL", "ADD"]);
}

#[test]
fn sums_need_both_sides_and_stay_the_size_of_the_model() {
    let plan = plan("float.tflite", "float.tflite", None);
    let (f, _) = open("float.tflite");
    let mut acc = Accumulator::new(&plan, &[f.model()], &[f.model()]);
    let side = &plan.sides[0];
    let probe = &side.pairing.probes[0];
    let n = f.model().subgraphs[0]
        .tensor(probe.q_tensor)
        .element_count()
        .unwrap() as usize;
    let bytes: Vec<u8> = (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect();
    for _ in 0..3 {
        acc.put(0, probe.f_tensor.0, &bytes).unwrap();
        acc.put(side.run, probe.q_tensor.0, &bytes).unwrap();
        acc.end_sample(&plan);
    }
    assert_eq!(acc.samples, 3);
    let sums = acc.sums[0].probes[0][0];
    assert_eq!(sums.count, 3 * n as u64);
    assert_eq!(sums.sum_diff2, 0.0);
    // A tensor the wrong size is refused with a message, not a panic.
    assert!(acc.put(0, probe.f_tensor.0, &bytes[..4]).is_err());
}

/// Every measure step on models with bytes changed at random: an error or a
/// result, never a panic.
#[test]
fn mutated_models_never_panic() {
    use tflq::measure::result::{Measurement, Options};
    use tflq::report::measure::{MeasureFormat, Settings, render};
    let (_, fb) = open("float.tflite");
    let (_, pb) = open("ptq_int8.tflite");
    let (_, qb) = open("advice_bn_unfolded_qat.tflite");
    // A fixed xorshift: the same cases on every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut planned = 0;
    for case in 0..600 {
        let mut bytes = [fb.clone(), pb.clone(), qb.clone()];
        let which = (case % 3) as usize;
        for _ in 0..1 + next() % 4 {
            let b = &mut bytes[which];
            let at = (next() % b.len() as u64) as usize;
            b[at] ^= (next() % 255 + 1) as u8;
        }
        let Ok(f) = tflq::load(&bytes[0]) else {
            continue;
        };
        let Ok(p) = tflq::load(&bytes[1]) else {
            continue;
        };
        let Ok(q) = tflq::load(&bytes[2]) else {
            continue;
        };
        let input = |m, b| Input { model: m, bytes: b };
        let Ok(plan) = Plan::new(
            input(&f, &bytes[0]),
            None,
            input(&p, &bytes[1]),
            Some(input(&q, &bytes[2])),
        ) else {
            continue;
        };
        planned += 1;
        let acc = Accumulator::new(&plan, &[&f], &[&p, &q]);
        let m = Measurement::new(&plan, &acc, &[&f], &[&p, &q], &Options::default());
        let keep_float =
            tflq::measure::pick_side(&m, "qat").map(|(_, s)| tflq::measure::keep_float_plan(&p, s));
        for format in ["table", "text", "json", "model-explorer", "python"] {
            let mut out = Vec::new();
            let _ = render(
                &m,
                &f,
                &[&p, &q],
                &["f", "p", "q", ""],
                MeasureFormat::parse(format).unwrap(),
                Settings {
                    width: 100,
                    side: "qat",
                    plan: keep_float.as_ref(),
                },
                &mut out,
            );
        }
    }
    assert!(
        planned > 100,
        "only {planned} mutated cases got as far as a plan"
    );
}

#[test]
fn op_values_read_back_from_a_measure_document() {
    use tflq::measure::View;
    use tflq::measure::ops::{JsonSide, op_sqnr};
    use tflq::model::OpId;
    let path = format!(
        "{}/testdata/measure/bn_unfolded_measure.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let sides = JsonSide::read(&doc).unwrap();
    let (side,) = match sides.as_slice() {
        [s] => (s,),
        _ => panic!("one side"),
    };
    assert_eq!(side.role, "qat");
    let (m, _) = open("measure/bn_unfolded_qat.tflite");
    let sg = &m.model().subgraphs[0];
    side.check(sg).unwrap();
    let ops = op_sqnr(sg, &side.rows);
    // Every op has a value: the segment's ops its worst row's, a DEQUANTIZE
    // the value it reads.
    assert_eq!(ops.len(), sg.operators.len());
    for o in 1..=4 {
        let v = ops[&OpId(o)];
        assert_eq!((v.db, v.view, v.row_op), (21.5, View::Local, Some(OpId(4))));
    }
    assert_eq!(ops[&OpId(12)].db, ops[&OpId(11)].db);
    assert_eq!(ops[&OpId(12)].row_op, Some(OpId(11)));
    // Another model is refused: ptq_int8 has CONV_2D where this has DEQUANTIZE.
    let (other, _) = open("ptq_int8.tflite");
    let err = side.check(&other.model().subgraphs[0]).unwrap_err();
    assert!(err.contains("measured on another model"), "{err}");
}

#[test]
fn the_gate_holds_each_model_output_to_the_bound() {
    use tflq::measure::result::{Measurement, Options};
    let plan = plan("float.tflite", "float.tflite", None);
    let (f, _) = open("float.tflite");
    let mut acc = Accumulator::new(&plan, &[f.model()], &[f.model()]);
    let measure = |acc: &Accumulator| {
        Measurement::new(&plan, acc, &[f.model()], &[f.model()], &Options::default())
    };
    assert_eq!(
        measure(&acc).below(30.0),
        ["the ptq model's output was not measured, so it cannot be held to 30 dB"]
    );
    // The quantized output 10% off everywhere: 20 dB.
    let side = &plan.sides[0];
    let (fo, qo) = side.pairing.outputs[0];
    let n = f.model().subgraphs[0].tensor(fo).element_count().unwrap() as usize;
    let value = |v: f32| -> Vec<u8> { (0..n).flat_map(|_| v.to_le_bytes()).collect() };
    acc.put(side.float_run, fo.0, &value(1.0)).unwrap();
    acc.put(side.run, qo.0, &value(1.1)).unwrap();
    acc.end_sample(&plan);
    let m = measure(&acc);
    assert_eq!(
        m.below(20.5),
        ["the ptq model's output SQNR is 20.00 dB, below 20.5 dB"]
    );
    assert!(m.below(19.5).is_empty());
}
