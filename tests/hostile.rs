//! Hostile and unusual input: synthetic files from tflq's own builder, and
//! thousands of truncated and byte-mutated real fixtures. Every input must
//! give a model or a typed error: never a panic, never a hang.

mod common;

use std::time::{Duration, Instant};

use tflq::Error;
use tflq::model::{Buffer, BuiltinCode, DType, Granularity, OpKind, QuantDetails, TensorId};
use tflq::synth::{ModelBuilder, SynthOptions, SynthQuant};

/// A small valid model: input → CONV_2D (optional bias left out) → output.
fn small() -> (ModelBuilder, usize) {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let conv = m.builtin(BuiltinCode::CONV_2D);
    let x = m.tensor(
        sg,
        "x",
        &[1, 4, 4, 2],
        9,
        Some(SynthQuant::per_tensor(0.1, -3)),
    );
    let w = m.constant(
        sg,
        "w",
        &[3, 1, 1, 2],
        9,
        Some(SynthQuant::per_axis(vec![0.5, 0.25, 0.125], 0)),
        6,
    );
    let y = m.tensor(
        sg,
        "y",
        &[1, 4, 4, 3],
        9,
        Some(SynthQuant::per_tensor(0.2, -128)),
    );
    m.op(
        sg,
        conv,
        &[x, w, -1],
        &[y],
        SynthOptions::Conv2d { activation: 1 },
    );
    m.io(sg, &[x], &[y]);
    m.signature("serving_default", 0, &[("x", 0)], &[("y", 2)]);
    (m, sg)
}

#[test]
fn synthetic_model_reads_back() {
    let (m, _) = small();
    let bytes = m.finish();
    let model = tflq::load(&bytes).expect("valid");
    let sg = &model.subgraphs[0];
    assert_eq!(
        sg.operators[0].inputs[..],
        [Some(TensorId(0)), Some(TensorId(1)), None]
    );
    assert_eq!(sg.operators[0].kind.to_string(), "CONV_2D");
    assert_eq!(sg.tensors[1].data_len, 6);
    assert_eq!(
        sg.tensors[1].quantization.as_ref().unwrap().scale.to_vec(),
        [0.5, 0.25, 0.125]
    );
    assert_eq!(
        sg.operators[0].activation,
        Some(tflq::model::Activation::Relu)
    );
    assert_eq!(
        model.signatures[0].outputs,
        vec![("y".to_owned(), TensorId(2))]
    );
}

#[test]
fn unknown_op_codes_and_types_are_kept() {
    let (mut m, sg) = small();
    let newer = m.raw_opcode(127, 250, None, 1);
    let old_style = m.raw_opcode(4, 0, None, 1); // pre-3a file: code only in the old field
    let t = m.tensor(sg, "odd", &[2], 40, None);
    m.op(sg, newer, &[2], &[t], SynthOptions::None);
    let t2 = m.tensor(sg, "dw", &[2], 9, None);
    m.op(sg, old_style, &[t], &[t2], SynthOptions::None);
    let bytes = m.finish();
    let model = tflq::load(&bytes).expect("loads");
    let ops = &model.subgraphs[0].operators;
    assert_eq!(ops[1].kind, OpKind::Unknown(250));
    assert_eq!(ops[1].kind.to_string(), "UNKNOWN_OP_250");
    assert_eq!(ops[2].kind.to_string(), "DEPTHWISE_CONV_2D");
    assert_eq!(model.subgraphs[0].tensors[3].dtype, DType(40));
}

fn expect_err(bytes: &[u8], want: &str) {
    match tflq::load(bytes) {
        Ok(_) => panic!("expected an error containing {want:?}"),
        Err(e) => assert!(
            e.to_string().contains(want),
            "error {e} does not contain {want:?}"
        ),
    }
}

#[test]
fn out_of_range_indices_are_errors_with_a_path() {
    let (mut m, sg) = small();
    m.op(sg, 0, &[0, 99], &[2], SynthOptions::None);
    expect_err(
        &m.finish(),
        "subgraphs[0].operators[1].inputs[1]: tensor index 99 is out of range (there are 3)",
    );

    let (mut m, sg) = small();
    m.op(sg, 7, &[0], &[2], SynthOptions::None);
    expect_err(
        &m.finish(),
        "operators[1].opcode_index: operator code index 7",
    );

    let (mut m, sg) = small();
    m.tensor_with_buffer(sg, "bad", &[1], 0, None, 55);
    expect_err(
        &m.finish(),
        "subgraphs[0].tensors[3].buffer: buffer index 55",
    );

    let (mut m, sg) = small();
    let w = m.builtin(BuiltinCode::WHILE);
    m.op(sg, w, &[0], &[2], SynthOptions::While { cond: 0, body: 9 });
    expect_err(
        &m.finish(),
        "builtin_options.body_subgraph_index: subgraph index 9",
    );

    let (mut m, _) = small();
    m.signature("other", 0, &[("x", 12)], &[]);
    expect_err(
        &m.finish(),
        "signature_defs[1].inputs[0].tensor_index: tensor index 12",
    );

    let (mut m, _) = small();
    m.signature("other", 3, &[], &[]);
    expect_err(
        &m.finish(),
        "signature_defs[1].subgraph_index: subgraph index 3",
    );

    let (mut m, sg) = small();
    m.io(sg, &[-2], &[2]);
    expect_err(&m.finish(), "subgraphs[0].inputs[0]: tensor index -2");
}

#[test]
fn header_checks() {
    expect_err(b"", "too short");
    expect_err(b"\x10\0\0\0TFL", "too short");
    expect_err(b"\x10\0\0\0ABCDxxxxxxxx", "expected \"TFL3\"");
    // Quotes, backslashes and non-ASCII bytes are escaped once, not twice.
    let mut bytes = small().0.finish();
    bytes[4..8].copy_from_slice(b"\"\xe9\\x");
    let err = tflq::load(&bytes).unwrap_err().to_string();
    assert!(
        err.starts_with(r#"not a TFLite model: bytes 4..8 are "\"\xe9\\x", expected "TFL3""#),
        "{err}"
    );
    let (mut m, _) = small();
    m.version(2);
    expect_err(&m.finish(), "unsupported TFLite schema version 2");
    let mut bytes = small().0.finish();
    bytes[0] = 0xff;
    bytes[1] = 0xff;
    expect_err(&bytes, "malformed model");
}

#[test]
fn truncated_files_are_called_truncated() {
    for path in common::fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        // Some models carry an empty ZIP archive after the flatbuffer (its
        // 22-byte end record, `PK\x05\x06`); bytes after the model are
        // allowed, so the cuts go into the model itself.
        let zip = bytes.len() >= 22 && bytes[bytes.len() - 22..].starts_with(b"PK\x05\x06");
        let end = if zip { bytes.len() - 22 } else { bytes.len() };
        for cut in [8, 100, end / 2, end - 1] {
            let err = tflq::load(&bytes[..cut]).unwrap_err().to_string();
            let want = format!(
                "beyond the end of the {}-byte file: the file looks truncated",
                tflq::report::thousands(cut as u64)
            );
            assert!(err.ends_with(&want), "{}[..{cut}]: {err}", path.display());
        }
    }
}

#[test]
fn trailing_bytes_are_allowed() {
    let bytes = small().0.finish();
    let plain = tflq::load(&bytes).unwrap();
    let mut padded_bytes = bytes.clone();
    padded_bytes.extend(std::iter::repeat_n(0xA5, 100_000)); // e.g. an appended ZIP
    let padded = tflq::load(&padded_bytes).unwrap();
    assert_eq!(plain.subgraphs[0].tensors, padded.subgraphs[0].tensors);
    assert_eq!(padded.file_len, plain.file_len + 100_000);
}

#[test]
fn self_calling_control_flow_is_read_and_walked() {
    // A WHILE whose body is its own subgraph: malformed for the runtime, but
    // nothing in tflq may recurse forever on it.
    let (mut m, sg) = small();
    let w = m.builtin(BuiltinCode::WHILE);
    let t = m.tensor(sg, "loop", &[1], 2, None);
    m.op(sg, w, &[2], &[t], SynthOptions::While { cond: 0, body: 0 });
    let bytes = m.finish();
    let model = tflq::load(&bytes).unwrap();
    let reach = tflq::graph::reachable_subgraphs(&model);
    assert_eq!(reach.len(), 1);
    assert_eq!(tflq::graph::calls(&model).len(), 2);
}

#[test]
fn cycles_between_ops_are_reported_not_looped() {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let add = m.builtin(BuiltinCode::ADD);
    let a = m.tensor(sg, "a", &[1], 0, None);
    let b = m.tensor(sg, "b", &[1], 0, None);
    m.op(sg, add, &[b], &[a], SynthOptions::None);
    m.op(sg, add, &[a], &[b], SynthOptions::None);
    let bytes = m.finish();
    let model = tflq::load(&bytes).unwrap();
    let g = tflq::graph::Graph::new(&model.subgraphs[0]);
    assert!(g.topo_order().is_err());
    assert!(!g.file_order_is_topological());
}

#[test]
fn ops_out_of_file_order_are_put_in_dependency_order() {
    // Acyclic, but op 0 reads what op 1 writes: the file order is not an
    // execution order, and topo_order finds the one that is.
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let relu = m.builtin(BuiltinCode::RELU);
    let x = m.tensor(sg, "x", &[1], 0, None);
    let y = m.tensor(sg, "y", &[1], 0, None);
    let z = m.tensor(sg, "z", &[1], 0, None);
    m.op(sg, relu, &[y], &[z], SynthOptions::None);
    m.op(sg, relu, &[x], &[y], SynthOptions::None);
    m.io(sg, &[x], &[z]);
    let bytes = m.finish();
    let model = tflq::load(&bytes).unwrap();
    let g = tflq::graph::Graph::new(&model.subgraphs[0]);
    assert!(!g.file_order_is_topological());
    assert_eq!(
        g.topo_order().unwrap(),
        [tflq::model::OpId(1), tflq::model::OpId(0)]
    );
    assert_eq!(g.dag().edge_count(), 1);
}

#[test]
fn blockwise_details_are_read_and_their_tensors_checked() {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let w = m.tensor(sg, "w", &[4, 64], DType::INT4.0, None);
    let scales = m.tensor(sg, "w_scales", &[4, 2], DType::FLOAT16.0, None);
    m.blockwise(sg, w, scales, -1, 32);
    let bytes = m.finish();
    let model = tflq::load(&bytes).unwrap();
    let q = model.subgraphs[0].tensors[w as usize]
        .quantization
        .as_ref()
        .expect("details make a quantization");
    assert_eq!(q.granularity(), Granularity::Blockwise { block_size: 32 });
    assert_eq!(
        q.details.as_deref(),
        Some(&QuantDetails::Blockwise {
            scales: Some(TensorId(scales as u32)),
            zero_points: None,
            block_size: 32,
        })
    );
    common::pipeline::one(&model);

    // Scales said to be in a tensor past the end of the table.
    m.blockwise(sg, w, 7, -1, 32);
    let bytes = m.finish();
    match tflq::load(&bytes) {
        Err(Error::IndexOutOfRange {
            path,
            what: "tensor",
            index: 7,
            len: 2,
        }) => assert_eq!(path, "subgraphs[0].tensors[0].quantization.details.scales"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn appended_buffers_past_two_gigabytes_are_sized_not_read() {
    const GIB: u64 = 1 << 30;
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let fc = m.builtin(BuiltinCode::FULLY_CONNECTED);
    let b1 = m.appended_buffer(3 * GIB, GIB);
    let b2 = m.appended_buffer(4 * GIB, GIB + 7);
    let x = m.tensor(sg, "x", &[1, 16384], 0, None);
    let w = m.tensor_with_buffer(sg, "w", &[16384, 16384], 0, None, b1);
    let b = m.tensor_with_buffer(sg, "b", &[16384], 0, None, b2);
    let y = m.tensor(sg, "y", &[1, 16384], 0, None);
    m.op(
        sg,
        fc,
        &[x, w, b],
        &[y],
        SynthOptions::FullyConnected { activation: 0 },
    );
    m.io(sg, &[x], &[y]);
    m.metadata("buffer_location", b"outside flatbuffers".to_vec());
    let bytes = m.finish();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.tflite");
    std::fs::write(&path, &bytes).unwrap();
    // A sparse 5+ GiB file: the data region is never written, so reading it
    // would show up as gigabytes of resident memory and seconds of time.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(5 * GIB + 7)
        .unwrap();

    let before = peak_rss_kib();
    let start = Instant::now();
    let file = tflq::ModelFile::open(&path).expect("big model");
    let elapsed = start.elapsed();
    let model = file.model();
    assert_eq!(model.file_len, 5 * GIB + 7);
    assert!(model.uses_appended_buffers());
    assert_eq!(model.subgraphs[0].tensors[1].data_len, GIB);
    assert_eq!(model.subgraphs[0].tensors[2].data_len, GIB + 7);
    assert!(matches!(model.buffers[b1 as usize], Buffer::Appended(r) if r.offset == 3 * GIB));
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    if let (Some(a), Some(b)) = (before, peak_rss_kib()) {
        assert!(
            b.saturating_sub(a) < 64 * 1024,
            "peak memory grew by {} KiB",
            b - a
        );
    }

    // One byte short: the second buffer now ends past the end of the file.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(5 * GIB + 6)
        .unwrap();
    let err = tflq::ModelFile::open(&path).unwrap_err();
    assert!(matches!(err, Error::DataOutOfFile { .. }), "{err}");
    assert!(err.to_string().contains("buffers[2]"), "{err}");
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn shared_tables_cannot_expand_without_bound() {
    // 200,000 offsets to one tensor whose shape has 20,000 dims: ~800 KB of
    // file that would otherwise decode to 4·10⁹ integers.
    use planus::{Builder, Offset, WriteAsOffset};
    use tflq_schema as fb;
    let mut b = Builder::new();
    let tensor = fb::Tensor {
        shape: Some(vec![1; 20_000]),
        ..Default::default()
    };
    let t: Offset<fb::Tensor> = tensor.prepare(&mut b);
    let tensors = vec![t; 200_000];
    let tensors: Offset<[Offset<fb::Tensor>]> = tensors.as_slice().prepare(&mut b);
    let sg = fb::SubGraph::create(&mut b, tensors, (), (), (), (), -1);
    let sgs: Offset<[Offset<fb::SubGraph>]> = [sg].as_slice().prepare(&mut b);
    let model = fb::Model::create(&mut b, 3u32, (), sgs, (), (), (), (), (), (), ());
    let bytes = tflq::synth::finish_root(&mut b, model);
    let start = Instant::now();
    let err = tflq::load(&bytes).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_long_name_used_many_times_cannot_expand_without_bound() {
    // 2,000 ops that all write one tensor named by a megabyte, listed 2,000
    // times as a graph input and output: every use is copied or printed
    // with its name (a snapshot took 7.8 GB of memory for this 1 MB file).
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let mul = m.builtin(BuiltinCode::MUL);
    let name = format!("model/{}/mul", "x".repeat(1 << 20));
    let t = m.tensor(sg, &name, &[1], 0, None);
    for _ in 0..2_000 {
        m.op(sg, mul, &[t, t], &[t], SynthOptions::None);
    }
    m.io(sg, &[t; 2_000], &[t; 2_000]);
    let bytes = m.finish();
    let start = Instant::now();
    let err = tflq::load(&bytes).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));

    // The same with one use each loads.
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let mul = m.builtin(BuiltinCode::MUL);
    let x = m.tensor(sg, "x", &[1], 0, None);
    let y = m.tensor(sg, &name, &[1], 0, None);
    m.op(sg, mul, &[x, x], &[y], SynthOptions::None);
    m.io(sg, &[x], &[y]);
    let bytes = m.finish();
    let model = tflq::load(&bytes).expect("one use of a long name");
    common::pipeline::renderers(&model);
}

/// xorshift64*: a deterministic mutation source with no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Loads, and whatever loads goes through every renderer (with `full`, the
/// whole pipeline of views and styles) and is compared with its intact
/// original both ways; all under catch_unwind.
fn survive(bytes: &[u8], seed: &tflq::Model, full: bool) -> Result<bool, String> {
    std::panic::catch_unwind(|| match tflq::load(bytes) {
        Ok(model) => {
            if full {
                common::pipeline::one(&model);
            } else {
                common::pipeline::renderers(&model);
            }
            // The mutated model against its intact original, both ways.
            common::pipeline::pair(&model, seed);
            true
        }
        Err(e) => {
            // Errors must be one readable sentence.
            let s = e.to_string();
            assert!(!s.is_empty() && !s.contains('\n'));
            false
        }
    })
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// 64-bit values that break arithmetic on a zero point, an offset or a size.
const EXTREMES_64: [i64; 10] = [
    i64::MIN,
    i64::MAX,
    -1,
    i64::MIN + 1,
    i64::MAX - 127,
    1 << 32,
    -(1 << 32),
    (1 << 31) + 1,
    -(1 << 31) - 1,
    0,
];

/// 8-byte-aligned positions holding a small non-zero int64, where a model's
/// int64 zero points live (-128..=255 for int8 and uint8 activations).
fn zero_point_slots(bytes: &[u8]) -> Vec<usize> {
    (0..bytes.len().saturating_sub(7))
        .step_by(8)
        .filter(|&p| {
            let v = i64::from_le_bytes(bytes[p..p + 8].try_into().unwrap());
            v != 0 && (-128..=255).contains(&v)
        })
        .collect()
}

fn put_i64(m: &mut [u8], pos: usize, v: i64) {
    let end = (pos + 8).min(m.len());
    m[pos..end].copy_from_slice(&v.to_le_bytes()[..end - pos]);
}

/// One mutated model in this many goes through the pipeline in an
/// unoptimised build, where the sweep would take minutes; the optimised run
/// of `.ci/run` (or `TFLQ_FULL_SWEEP=1`) takes every one. The sample rotates
/// with the seed, so every kind of mutation of every fixture is drawn.
const DEBUG_SAMPLE: usize = 16;

/// Whether every mutated model runs: in optimised builds, or when
/// `TFLQ_FULL_SWEEP` is set (to anything but `0`).
fn full_sweep() -> bool {
    !cfg!(debug_assertions) || std::env::var_os("TFLQ_FULL_SWEEP").is_some_and(|v| v != "0")
}

#[test]
fn thousands_of_truncated_and_mutated_models_never_panic() {
    let stride = if full_sweep() { 1 } else { DEBUG_SAMPLE };
    let mut seeds: Vec<(String, Vec<u8>)> = common::fixtures()
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    seeds.push(("synthetic".into(), small().0.finish()));
    seeds.push(("chain".into(), tflq::synth::int8_chain(20, 64)));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut loaded, mut rejected, mut total, mut made) = (0usize, 0usize, 0usize, 0usize);
    let mut slowest = Duration::ZERO;
    for (k, (name, seed)) in seeds.iter().enumerate() {
        let intact = tflq::load(seed).unwrap();
        let mut cases: Vec<Vec<u8>> = Vec::new();
        // Truncations, denser near the start where the tables are, and into
        // the model itself, not into an empty ZIP archive appended after it.
        let zip = seed.len() >= 22 && seed[seed.len() - 22..].starts_with(b"PK\x05\x06");
        let model_len = if zip { seed.len() - 22 } else { seed.len() };
        for i in 0..150 {
            let cut = if i < 75 {
                rng.below(model_len.min(4096))
            } else {
                rng.below(model_len)
            };
            cases.push(seed[..cut].to_vec());
        }
        let truncations = cases.len();
        // Byte mutations: single bytes, runs, and 32-bit words set to extremes.
        for i in 0..300 {
            let mut m = seed.clone();
            let n = 1 + rng.below(8);
            for _ in 0..n {
                // Aim most mutations at the metadata, not the weight bytes.
                let pos = if i % 3 == 0 {
                    rng.below(m.len())
                } else {
                    rng.below(m.len().min(8192))
                };
                match rng.below(4) {
                    0 => m[pos] = rng.next() as u8,
                    1 => m[pos] ^= 1 << rng.below(8),
                    2 => {
                        let v = [0u32, 1, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000][rng.below(5)];
                        let end = (pos + 4).min(m.len());
                        m[pos..end].copy_from_slice(&v.to_le_bytes()[..end - pos]);
                    }
                    _ => {
                        let end = (pos + 1 + rng.below(16)).min(m.len());
                        m[pos..end].fill(0xff);
                    }
                }
            }
            cases.push(m);
        }
        // 64-bit extremes at 8-byte-aligned positions: first where the zero
        // points are, one slot at a time (a sample of at most 40) and all of
        // them at once, then anywhere in the metadata.
        let slots = zero_point_slots(seed);
        for k in 0..slots.len().min(40) {
            let mut m = seed.clone();
            let slot = slots[rng.below(slots.len())];
            put_i64(&mut m, slot, EXTREMES_64[k % EXTREMES_64.len()]);
            cases.push(m);
        }
        if !slots.is_empty() {
            for v in EXTREMES_64 {
                let mut m = seed.clone();
                for &slot in &slots {
                    put_i64(&mut m, slot, v);
                }
                cases.push(m);
            }
        }
        for _ in 0..60 {
            let mut m = seed.clone();
            let pos = rng.below(m.len().min(8192)) & !7;
            put_i64(&mut m, pos, EXTREMES_64[rng.below(EXTREMES_64.len())]);
            cases.push(m);
        }
        made += cases.len();
        for (i, case) in cases.into_iter().enumerate() {
            if i < truncations && case.len() >= 8 {
                // Every cut of a real model says what happened to it.
                let err = tflq::load(&case).expect_err("a cut model").to_string();
                assert!(err.contains("the file looks truncated"), "{name}: {err}");
            }
            if (i + k) % stride != 0 {
                continue;
            }
            let start = Instant::now();
            // A sample of the loaded mutants gets every view and style.
            let full = loaded % 16 == 0;
            match survive(&case, &intact, full) {
                Ok(true) => loaded += 1,
                Ok(false) => rejected += 1,
                Err(msg) => panic!(
                    "{name}: panic on mutated input {i} ({} bytes): {msg}",
                    case.len()
                ),
            }
            let t = start.elapsed();
            slowest = slowest.max(t);
            // A guard against hangs, not a benchmark: generous, since the
            // machine may be busy and this is an unoptimised build.
            assert!(t < Duration::from_secs(10), "{name}: one input took {t:?}");
            total += 1;
        }
    }
    eprintln!(
        "mutation test: {made} inputs made, {total} run (one in {stride}), {loaded} loaded, {rejected} rejected, slowest {slowest:?}"
    );
    assert!(made >= 5000, "only {made} inputs");
    // About one in `stride` (the sample rotates with the seed).
    assert!(
        total >= made / stride / 2,
        "only {total} of {made} inputs run"
    );
    assert!(loaded > 0 && rejected > 0);
}

#[test]
fn streams_are_read_up_to_a_limit() {
    let bytes = small().0.finish();
    let len = bytes.len() as u64;
    let file = tflq::ModelFile::read("stream", &bytes[..], len).expect("fits exactly");
    assert_eq!(file.model().file_len, len);
    assert_eq!(file.path(), std::path::Path::new("stream"));
    match tflq::ModelFile::read("stream", &bytes[..], len - 1) {
        Err(Error::InputTooLarge { limit, .. }) => assert_eq!(limit, len - 1),
        other => panic!("{other:?}"),
    }
    // An endless stream stops at the limit.
    let err = tflq::ModelFile::read("zeros", std::io::repeat(0), 1 << 20).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read zeros: it holds more than 1048576 bytes"
    );
}

#[test]
fn only_regular_files_are_opened() {
    let dir = tempfile::tempdir().unwrap();
    let err = tflq::ModelFile::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotAFile {
                what: "a directory",
                ..
            }
        ),
        "{err}"
    );
    #[cfg(unix)]
    {
        let err = tflq::ModelFile::open("/dev/zero").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read /dev/zero: it is a character device, not a regular file"
        );
    }
}
