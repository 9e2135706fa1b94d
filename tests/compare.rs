//! `tflq compare` on real PTQ/QAT pairs made by the converter and tfmot, with
//! the findings a careful reader of both graphs writes down, no more and no
//! fewer; synthetic pairs for the cases the fixtures do not cover; and
//! snapshots of every output format.

mod common;

use tflq::compare::{
    Comparison, Detail, Kind, Options, RangeVerdict, Removal, RollUp, Side, Wording, compare,
};
use tflq::model::{BuiltinCode, Model};
use tflq::pair_view::finding_views;
use tflq::report::compare::{Pair, render_with_diagrams};
use tflq::report::graph::where_diagrams;
use tflq::report::{Format, Style};
use tflq::synth::{ModelBuilder, SynthOptions, SynthQuant};

fn model(name: &str) -> Model<'static> {
    common::fixture_model(name)
}

/// (kind, QAT ops, PTQ ops) of every finding, in report order.
fn summary(c: &Comparison) -> Vec<(&'static str, Vec<u32>, Vec<u32>)> {
    c.findings
        .iter()
        .map(|f| {
            (
                f.kind.name(),
                f.qat_ops.iter().map(|o| o.0).collect(),
                f.ptq_ops.iter().map(|o| o.0).collect(),
            )
        })
        .collect()
}

fn pair(ptq: &str, qat: &str) -> Comparison {
    compare(&model(ptq), &model(qat), Options::default())
}

#[test]
fn whole_model_qat_matches_ptq_placement() {
    let c = pair("ptq_int8.tflite", "qat_full.tflite");
    assert!(c.placement_matches());
    // Every op of one model has its counterpart in the other.
    let a = &c.alignment[0];
    assert!(
        a.unmatched_ptq.is_empty() && a.unmatched_qat.is_empty(),
        "{a:?}"
    );
    assert_eq!(a.matches.len(), 9);
    assert_eq!(
        summary(&c),
        vec![
            // Brief fine-tuning leaves the EMA ranges wide of the calibrated
            // ones: one root cause, three places.
            ("range-wide", vec![3, 5, 6], vec![3, 5, 6]),
            // tfmot quantizes Dense kernels per-tensor; PTQ per output channel.
            ("granularity-mismatch", vec![5, 6], vec![5, 6]),
        ]
    );
}

#[test]
fn partially_annotated_qat_needs_quantizers_around_its_float_ops() {
    let c = pair("ptq_int8.tflite", "qat_partial.tflite");
    assert!(!c.placement_matches());
    let s = summary(&c);
    assert_eq!(s[0], ("add-quantizer", vec![3, 4, 5, 6], vec![1, 2, 3]));
    assert_eq!(c.count(Kind::AddQuantizer), 1);
    assert_eq!(c.count(Kind::RemoveQuantizer), 0);
    let f = &c.findings[0];
    let Detail::Add {
        layers,
        batchnorm_unfolded,
        entries,
        exits,
        ..
    } = &f.detail
    else {
        panic!("{f:?}")
    };
    assert_eq!(layers, &["bn1", "relu1", "pool1", "conv2"]);
    assert!(
        batchnorm_unfolded,
        "the unannotated BatchNorm stays as MUL/ADD"
    );
    assert_eq!(entries.iter().map(|o| o.0).collect::<Vec<_>>(), [2]);
    assert_eq!(exits.iter().map(|o| o.0).collect::<Vec<_>>(), [7]);
    assert_eq!(f.layer.as_deref(), Some("bn1"));
    // The culprits are the BatchNorm and ReLU left out of conv1's
    // annotation (pool1 and conv2 are wrapped already).
    let culprits: Vec<_> = f
        .culprits
        .iter()
        .map(|c| (c.layer.as_str(), c.folded_into.as_deref()))
        .collect();
    assert_eq!(culprits, [("bn1", Some("conv1")), ("relu1", Some("conv1"))]);
    assert_eq!(f.severity, tflq::compare::Severity::FloatCompute);
    // The rest is informational: the two Dense layers' per-tensor weights,
    // one root cause with two places.
    assert_eq!(c.count(Kind::GranularityMismatch), 1);
    let g = c
        .findings
        .iter()
        .find(|f| f.kind == Kind::GranularityMismatch)
        .unwrap();
    let layers: Vec<_> = g.places.iter().map(|p| p.layer.as_deref()).collect();
    assert_eq!(layers, [Some("fc1"), Some("fc2")]);
    assert_eq!(g.severity, tflq::compare::Severity::Info);
    assert_eq!(c.count(Kind::StructureMismatch), 0);
    assert_eq!(c.count(Kind::FusionMismatch), 0);
}

#[test]
fn output_quantizer_on_a_same_scale_layer_must_go() {
    let c = pair("ptq_maximum.tflite", "qat_maximum_output.tflite");
    assert_eq!(c.count(Kind::RemoveQuantizer), 1);
    assert_eq!(c.count(Kind::AddQuantizer), 0);
    let f = c
        .findings
        .iter()
        .find(|f| f.kind == Kind::RemoveQuantizer)
        .unwrap();
    assert_eq!(f.qat_ops.iter().map(|o| o.0).collect::<Vec<_>>(), [3]);
    assert_eq!(f.layer.as_deref(), Some("maximum"));
    let Detail::Remove(Removal::Requantize {
        same_scale_op,
        from,
        to,
        ..
    }) = &f.detail
    else {
        panic!("{f:?}")
    };
    let (op, kind) = same_scale_op.as_ref().expect("the MAXIMUM next to it");
    assert!(kind.is(BuiltinCode::MAXIMUM));
    assert_eq!(op.0, 5);
    assert_ne!(from, to);
    // The fix, in the plan's terms: the Maximum carries the shared scale's
    // one quantizer, the two convs that meet in it keep their weights only
    // (the recipe the closed loop on net B converges with).
    use tflq::advice::{Action, Suggestion};
    let culprits: Vec<(&str, Action, bool)> = f
        .culprits
        .iter()
        .map(|c| (c.layer.as_str(), c.action, c.annotated))
        .collect();
    assert_eq!(
        culprits,
        [
            ("maximum", Action::Output, true),
            ("branch1", Action::WeightsOnly, true),
            ("branch2", Action::WeightsOnly, true),
        ]
    );
    let Suggestion::Requantize {
        constraint,
        near_free,
        ..
    } = &f.suggestion
    else {
        panic!("{:?}", f.suggestion)
    };
    assert!(
        constraint
            .as_ref()
            .is_some_and(|k| k.is(BuiltinCode::MAXIMUM))
    );
    assert!(!near_free, "the scales differ by 4%");
    let s = tflq::report::compare::suggestion(f);
    assert!(
        s.contains("same-scale") && s.contains("'maximum' -> output"),
        "{s}"
    );
}

#[test]
fn no_op_config_on_the_same_scale_layer_is_right() {
    let c = pair("ptq_maximum.tflite", "qat_maximum_noop.tflite");
    assert!(c.placement_matches());
    assert_eq!(
        summary(&c),
        vec![
            ("range-wide", vec![8], vec![8]),
            ("granularity-mismatch", vec![8], vec![8])
        ]
    );
}

#[test]
fn identical_and_retrained_models_have_no_placement_findings() {
    let c = pair("ptq_int8.tflite", "ptq_int8.tflite");
    assert!(c.findings.is_empty(), "{:?}", c.findings);
    let c = pair("ptq_int8.tflite", "ptq_int8_retrained.tflite");
    assert!(c.placement_matches());
    assert!(
        c.findings.iter().all(|f| f.kind.is_range()),
        "{:?}",
        c.findings
    );
}

#[test]
fn io_types_differ_but_placement_matches() {
    let c = pair("ptq_int8.tflite", "ptq_int8_io.tflite");
    assert!(c.placement_matches());
    assert_eq!(summary(&c), vec![("structure-mismatch", vec![], vec![])]);
    assert!(matches!(c.findings[0].detail, Detail::Io { .. }));
}

#[test]
fn an_unquantized_model_needs_quantizers_everywhere() {
    let c = pair("ptq_int8.tflite", "float.tflite");
    assert_eq!(c.count(Kind::AddQuantizer), 1);
    assert!(matches!(
        c.findings[0].detail,
        Detail::Add {
            whole_model: true,
            ..
        }
    ));
}

#[test]
fn control_flow_subgraphs_align_by_position() {
    let c = pair("control_flow.tflite", "control_flow.tflite");
    assert_eq!(c.alignment.len(), 6);
    assert!(c.findings.is_empty());
    assert!(
        c.alignment
            .iter()
            .all(|a| a.unmatched_ptq.is_empty() && a.unmatched_qat.is_empty())
    );
}

// ------------------------------------------------------------ synthetic pairs

const I8: i8 = 9;
const F32: i8 = 0;

fn q(s: f32, z: i64) -> Option<SynthQuant> {
    Some(SynthQuant::per_tensor(s, z))
}

/// input -Q-> conv [act] -> (extra) -> pool -> DQ -> output, int8.
struct Net {
    m: ModelBuilder,
    sg: usize,
}

impl Net {
    fn new() -> Net {
        let mut m = ModelBuilder::new();
        let sg = m.subgraph("main");
        Net { m, sg }
    }

    fn conv(&mut self, x: i32, name: &str, activation: i8, out_dtype: i8) -> i32 {
        self.conv_to(x, name, activation, out_dtype, q(0.05, -128))
    }

    /// [`Net::conv`] with the output quantization `out` (when int8).
    fn conv_to(
        &mut self,
        x: i32,
        name: &str,
        activation: i8,
        out_dtype: i8,
        out: Option<SynthQuant>,
    ) -> i32 {
        let kernel = format!("model/{name}/Conv2D");
        self.conv_named(x, name, &kernel, activation, out_dtype, out)
    }

    /// [`Net::conv_to`] with its kernel named `kernel`.
    fn conv_named(
        &mut self,
        x: i32,
        name: &str,
        kernel: &str,
        activation: i8,
        out_dtype: i8,
        out: Option<SynthQuant>,
    ) -> i32 {
        let conv = self.m.builtin(BuiltinCode::CONV_2D);
        let (wq, bq, oq) = if out_dtype == I8 {
            (
                Some(SynthQuant::per_axis(vec![0.01; 4], 0)),
                Some(SynthQuant::per_axis(vec![0.0001; 4], 0)),
                out,
            )
        } else {
            (None, None, None)
        };
        let wt = if out_dtype == I8 { I8 } else { F32 };
        let w = self.m.constant(self.sg, kernel, &[4, 1, 1, 4], wt, wq, 16);
        let b = self.m.constant(
            self.sg,
            &format!("model/{name}/BiasAdd/ReadVariableOp"),
            &[4],
            if out_dtype == I8 { 2 } else { F32 },
            bq,
            16,
        );
        let y = self.m.tensor(
            self.sg,
            &format!("model/{name}/BiasAdd;model/{name}/Conv2D"),
            &[1, 4, 4, 4],
            out_dtype,
            oq,
        );
        self.m.op(
            self.sg,
            conv,
            &[x, w, b],
            &[y],
            SynthOptions::Conv2d { activation },
        );
        y
    }

    fn unary(
        &mut self,
        code: BuiltinCode,
        x: i32,
        name: &str,
        dtype: i8,
        quant: Option<SynthQuant>,
    ) -> i32 {
        let op = self.m.builtin(code);
        let y = self.m.tensor(self.sg, name, &[1, 4, 4, 4], dtype, quant);
        self.m.op(self.sg, op, &[x], &[y], SynthOptions::None);
        y
    }

    fn input(&mut self) -> (i32, i32) {
        let x = self
            .m
            .tensor(self.sg, "serving_default_x:0", &[1, 4, 4, 4], F32, None);
        let xq = self.unary(BuiltinCode::QUANTIZE, x, "tfl.quantize", I8, q(0.02, 0));
        (x, xq)
    }

    fn finish(mut self, x: i32, y: i32) -> Model<'static> {
        let out = self.unary(
            BuiltinCode::DEQUANTIZE,
            y,
            "StatefulPartitionedCall:0",
            F32,
            None,
        );
        self.m.io(self.sg, &[x], &[out]);
        common::leak_load(self.m.finish())
    }
}

#[test]
fn separate_activation_in_qat_is_a_fusion_mismatch() {
    // PTQ: conv with RELU fused. QAT: conv, then a RELU op (a fake-quant sat between).
    let mut p = Net::new();
    let (x, xq) = p.input();
    let c = p.conv(xq, "conv", 1, I8);
    let ptq = p.finish(x, c);

    let mut qn = Net::new();
    let (x, xq) = qn.input();
    let c = qn.conv(xq, "quant_conv", 0, I8);
    let r = qn.unary(
        BuiltinCode::RELU,
        c,
        "model/quant_re_lu/Relu",
        I8,
        q(0.03, -128),
    );
    let qat = qn.finish(x, r);

    let cmp = compare(&ptq, &qat, Options::default());
    assert_eq!(
        summary(&cmp),
        vec![("fusion-mismatch", vec![1, 2], vec![1])]
    );
    assert!(matches!(
        cmp.findings[0].detail,
        Detail::Fusion {
            separate_in: Side::Qat,
            ..
        }
    ));
    assert!(cmp.placement_matches());
}

/// PTQ: input -Q-> conv_a -> conv_b -DQ-> output.
fn two_convs() -> Model<'static> {
    let mut p = Net::new();
    let (x, xq) = p.input();
    let a = p.conv(xq, "conv_a", 0, I8);
    let b = p.conv(a, "conv_b", 0, I8);
    p.finish(x, b)
}

/// The same network with its operators written in reverse (a valid graph
/// whose file order is no execution order).
fn two_convs_reversed() -> Model<'static> {
    let mut p = Net::new();
    let (x, xq) = p.input();
    let a = p.conv(xq, "conv_a", 0, I8);
    let b = p.conv(a, "conv_b", 0, I8);
    let out = p.unary(
        BuiltinCode::DEQUANTIZE,
        b,
        "StatefulPartitionedCall:0",
        F32,
        None,
    );
    let sg = p.sg;
    p.m.io(sg, &[x], &[out]);
    p.m.reverse_ops(sg);
    common::leak_load(p.m.finish())
}

#[test]
fn ops_out_of_file_order_align_in_execution_order() {
    let ptq = two_convs();
    let qat = two_convs_reversed();
    let g = tflq::graph::Graph::new(&qat.subgraphs[0]);
    assert!(!g.file_order_is_topological());
    for (p, q) in [(&ptq, &qat), (&qat, &ptq)] {
        let cmp = compare(p, q, Options::default());
        assert!(cmp.same_network());
        assert!(cmp.findings.is_empty(), "{:?}", summary(&cmp));
        assert_eq!(cmp.alignment[0].compute.matched, 2);
    }
    // The plan walks the execution order too: conv_a before conv_b.
    let insp = tflq::analysis::inspect(&qat);
    let plan = tflq::advice::plan(&qat, &insp);
    let names: Vec<_> = plan
        .layers
        .iter()
        .filter_map(|l| l.layer.as_deref())
        .collect();
    assert_eq!(names, ["conv_a", "conv_b"]);
}

/// QAT: conv_a's own output quantizer disagrees with conv_b's input range,
/// so a requantize (op #2) sits between them.
fn two_convs_with_requantize() -> Model<'static> {
    let mut qn = Net::new();
    let (x, xq) = qn.input();
    let a = qn.conv(xq, "quant_conv_a", 0, I8);
    let r = qn.unary(
        BuiltinCode::QUANTIZE,
        a,
        "model/quant_conv_a/requant",
        I8,
        q(0.07, -5),
    );
    let b = qn.conv(r, "quant_conv_b", 0, I8);
    qn.finish(x, b)
}

#[test]
fn requantize_between_two_convs_names_both_layers() {
    let ptq = two_convs();

    let qat = two_convs_with_requantize();

    let cmp = compare(&ptq, &qat, Options::default());
    assert_eq!(
        summary(&cmp),
        vec![("remove-quantizer", vec![2], vec![1, 2])]
    );
    let Detail::Remove(Removal::Requantize {
        same_scale_op,
        producer_layer,
        consumer_layer,
        ..
    }) = &cmp.findings[0].detail
    else {
        panic!()
    };
    assert!(same_scale_op.is_none());
    assert_eq!(producer_layer.as_deref(), Some("conv_a"));
    assert_eq!(consumer_layer.as_deref(), Some("conv_b"));
}

/// PTQ's two convs, with the first run in float on the raw model input
/// (no QUANTIZE in front) and its output quantized; `first` names it and
/// `kernel` its float kernel.
fn first_conv_on_the_raw_input(first: &str, kernel: &str) -> Model<'static> {
    let mut qn = Net::new();
    let x =
        qn.m.tensor(qn.sg, "serving_default_x:0", &[1, 4, 4, 4], F32, None);
    let a = qn.conv_named(x, first, kernel, 0, F32, None);
    let aq = qn.unary(
        BuiltinCode::QUANTIZE,
        a,
        &format!("model/{first}/q"),
        I8,
        q(0.05, -128),
    );
    let b = qn.conv(aq, "quant_conv_b", 0, I8);
    qn.finish(x, b)
}

/// The culprit `layer` of `c`'s findings.
fn culprit_named<'a>(c: &'a Comparison, layer: &str) -> &'a tflq::advice::Culprit {
    c.findings
        .iter()
        .flat_map(|f| &f.culprits)
        .find(|c| c.layer == layer)
        .expect("a culprit of that name")
}

/// The first conv is annotated (its kernel fake-quantized in training), yet
/// runs in float, with float weights, on the raw model input: the converter
/// folded the layer before it (a Rescaling, left unannotated, so tfmot
/// quantized no input) into its kernel. Annotating the conv again cannot
/// help; the culprit says to convert with a representative dataset.
#[test]
fn an_annotated_first_conv_reading_the_input_in_float_asks_for_calibration() {
    let ptq = two_convs();
    let folded = first_conv_on_the_raw_input(
        "quant_conv_a",
        "model/quant_conv_a/Conv2D;model/quant_conv_a/LastValueQuant/FakeQuantWithMinMaxVarsPerChannel",
    );
    let cmp = compare(&ptq, &folded, Options::default());
    let c = culprit_named(&cmp, "conv_a");
    assert_eq!(c.action, tflq::advice::Action::Default);
    assert!(c.annotated && c.calibrate);
    assert_eq!(c.reasons, [tflq::advice::Reason::InputThroughUnnamedLayer]);
    // Without the fake-quant on its kernel (a layer tfmot names but does not
    // quantize), or unannotated, the conv is asked to quantize the input.
    for (name, kernel) in [
        ("quant_conv_a", "model/quant_conv_a/Conv2D"),
        ("conv_a", "model/conv_a/Conv2D"),
    ] {
        let cmp = compare(
            &ptq,
            &first_conv_on_the_raw_input(name, kernel),
            Options::default(),
        );
        let c = culprit_named(&cmp, "conv_a");
        assert!(!c.calibrate, "{name}");
        assert_eq!(c.reasons, [tflq::advice::Reason::QuantizesModelInput]);
    }
}

#[test]
fn dequantize_quantize_round_trip_is_removed() {
    let ptq = two_convs();

    let mut qn = Net::new();
    let (x, xq) = qn.input();
    let a = qn.conv(xq, "quant_conv_a", 0, I8);
    let f = qn.unary(
        BuiltinCode::DEQUANTIZE,
        a,
        "model/quant_conv_a/dq",
        F32,
        None,
    );
    let r = qn.unary(
        BuiltinCode::QUANTIZE,
        f,
        "model/quant_conv_a/q",
        I8,
        q(0.05, -128),
    );
    let b = qn.conv(r, "quant_conv_b", 0, I8);
    let qat = qn.finish(x, b);

    let cmp = compare(&ptq, &qat, Options::default());
    assert_eq!(
        summary(&cmp),
        vec![("remove-quantizer", vec![2, 3], vec![1, 2])]
    );
    assert!(matches!(
        cmp.findings[0].detail,
        Detail::Remove(Removal::RoundTrip)
    ));
}

#[test]
fn never_trained_range_is_flagged() {
    let mut p = Net::new();
    let (x, xq) = p.input();
    let a = p.conv(xq, "conv_a", 0, I8);
    let ptq = p.finish(x, a);
    let mut qn = Net::new();
    let (x, xq) = qn.input();
    // [-6, 6] in int8: scale 12/255, zero point 0 (-128 * s = -6.02, 127 * s = 5.98).
    let conv = qn.m.builtin(BuiltinCode::CONV_2D);
    let w = qn.m.constant(
        qn.sg,
        "model/quant_conv_a/Conv2D",
        &[4, 1, 1, 4],
        I8,
        Some(SynthQuant::per_axis(vec![0.01; 4], 0)),
        16,
    );
    let y = qn.m.tensor(
        qn.sg,
        "model/quant_conv_a/BiasAdd",
        &[1, 4, 4, 4],
        I8,
        q(12.0 / 255.0, 0),
    );
    qn.m.op(
        qn.sg,
        conv,
        &[xq, w, -1],
        &[y],
        SynthOptions::Conv2d { activation: 0 },
    );
    let qat = qn.finish(x, y);
    let cmp = compare(&ptq, &qat, Options::default());
    let f = cmp
        .findings
        .iter()
        .find(|f| f.kind == Kind::RangeUntrained)
        .expect("range finding");
    assert!(matches!(f.detail, Detail::Range { initial: true, .. }));
}

#[test]
fn large_models_align_in_linear_time() {
    let big_bytes = tflq::synth::int8_chain(17_000, 8);
    let big = tflq::load(&big_bytes).unwrap();
    assert!(big.subgraphs[0].operators.len() > 50_000);
    let start = std::time::Instant::now();
    let c = compare(&big, &big, Options::default());
    let t = start.elapsed();
    assert!(c.findings.is_empty());
    assert_eq!(c.alignment[0].unmatched_qat.len(), 0);
    // The figure is in docs/performance.md; this only guards against a
    // quadratic regression, generously for an unoptimised test build.
    assert!(t < std::time::Duration::from_secs(30), "{t:?}");
}

// ------------------------------------------------------------ formats

fn rendered(ptq: &str, qat: &str, format: Format) -> String {
    let (p, q) = (model(ptq), model(qat));
    let c = compare(&p, &q, Options::default());
    let (pl, ql) = (format!("testdata/{ptq}"), format!("testdata/{qat}"));
    let pair = Pair {
        ptq_label: &pl,
        qat_label: &ql,
    };
    // As the command line renders: markdown with a diagram of each
    // placement finding's neighbourhood, drawn from inspections made once.
    let (ip, iq) = (tflq::inspect(&p), tflq::inspect(&q));
    let views = finding_views((&p, &ip), (&q, &iq), &c);
    let diagrams = where_diagrams((&p, &ip), (&q, &iq), &c, &views).unwrap();
    let mut out = Vec::new();
    render_with_diagrams(
        &pair,
        &c,
        Some(&diagrams),
        format,
        Style::default(),
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

const PAIRS: [(&str, &str); 4] = [
    ("ptq_int8.tflite", "qat_full.tflite"),
    ("ptq_int8.tflite", "qat_partial.tflite"),
    ("ptq_maximum.tflite", "qat_maximum_output.tflite"),
    ("ptq_maximum.tflite", "qat_maximum_noop.tflite"),
];

#[test]
fn every_format_of_every_pair() {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r#""tool": "tflq [^"]+""#, r#""tool": "tflq [VERSION]""#);
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (ptq, qat) in PAIRS {
            let stem = format!(
                "{}__{}",
                ptq.trim_end_matches(".tflite"),
                qat.trim_end_matches(".tflite")
            );
            for (format, ext) in [
                (Format::Text, "text"),
                (Format::Table, "table"),
                (Format::Json, "json"),
                (Format::Markdown, "markdown"),
            ] {
                let out = rendered(ptq, qat, format);
                if format == Format::Table {
                    assert!(
                        out.lines().all(|l| l.chars().count() <= 100),
                        "{stem}: table wider than 100 columns"
                    );
                }
                if format == Format::Json {
                    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                    assert_eq!(v["schema_version"], 2);
                    for f in v["findings"].as_array().unwrap() {
                        for key in [
                            "kind",
                            "subgraph",
                            "qat_ops",
                            "ptq_ops",
                            "layer",
                            "message",
                            "suggestion",
                        ] {
                            assert!(f.get(key).is_some(), "{stem}: finding without {key}");
                        }
                    }
                    assert!(
                        v["alignment"]["subgraphs"][0]["matches"]
                            .as_array()
                            .is_some_and(|m| !m.is_empty())
                    );
                }
                insta::assert_snapshot!(format!("compare_{stem}_{ext}"), out);
            }
        }
    });
}

#[test]
fn different_networks_are_called_out() {
    let c = pair("ptq_int8.tflite", "ptq_maximum.tflite");
    assert!(!c.same_network());
    assert!(matches!(
        c.problem,
        Some(tflq::compare::PairProblem::NotOneNetwork { .. })
    ));
    let a = &c.alignment[0];
    assert_eq!((a.compute.ptq, a.compute.qat), (7, 9));
    assert!(a.compute.matched * 2 < 9);
    for (p, q) in PAIRS {
        let c = pair(p, q);
        assert!(c.same_network(), "{p} {q}");
        assert_eq!(c.problem, None, "{p} {q}");
    }
}

#[test]
fn a_dropped_zero_bias_still_aligns() {
    // PTQ: conv with a bias. QAT: the same conv without one (input 2 is -1).
    let ptq = two_convs();
    let mut qn = Net::new();
    let (x, xq) = qn.input();
    let a = qn.conv(xq, "quant_conv_a", 0, I8);
    let conv = qn.m.builtin(BuiltinCode::CONV_2D);
    let w = qn.m.constant(
        qn.sg,
        "model/quant_conv_b/Conv2D",
        &[4, 1, 1, 4],
        I8,
        Some(SynthQuant::per_axis(vec![0.01; 4], 0)),
        16,
    );
    let b = qn.m.tensor(
        qn.sg,
        "model/quant_conv_b/Conv2D1",
        &[1, 4, 4, 4],
        I8,
        q(0.05, -128),
    );
    qn.m.op(
        qn.sg,
        conv,
        &[a, w, -1],
        &[b],
        SynthOptions::Conv2d { activation: 0 },
    );
    let qat = qn.finish(x, b);
    let c = compare(&ptq, &qat, Options::default());
    assert!(c.findings.is_empty(), "{:?}", c.findings);
    let a = &c.alignment[0];
    assert!(a.unmatched_ptq.is_empty() && a.unmatched_qat.is_empty());
}

/// Alignment on two hand-built graphs: compute ops by name and order, the
/// QUANTIZE/DEQUANTIZE on the wires between them by role, and the extra
/// requantize left unmatched.
#[test]
fn alignment_of_hand_built_graphs() {
    use tflq::compare::Evidence;
    use tflq::compare::align::align_subgraphs;
    use tflq::graph::Graph;
    use tflq::model::{OpId, SubgraphId};
    let ptq = two_convs();
    let qat = two_convs_with_requantize();
    let (gp, gq) = (Graph::new(&ptq.subgraphs[0]), Graph::new(&qat.subgraphs[0]));
    let (ip, iq) = (tflq::analysis::inspect(&ptq), tflq::analysis::inspect(&qat));
    let (al, _, _) = align_subgraphs(
        (&gp, SubgraphId(0), &ip.subgraphs[0].ops),
        (&gq, SubgraphId(0), &iq.subgraphs[0].ops),
    );
    let pairs: Vec<(u32, u32, Evidence)> = al
        .matches
        .iter()
        .map(|m| (m.ptq.0, m.qat.0, m.evidence))
        .collect();
    assert_eq!(
        pairs,
        vec![
            (0, 0, Evidence::Wire),      // input QUANTIZE
            (1, 1, Evidence::LayerName), // conv_a
            (2, 3, Evidence::LayerName), // conv_b
            (3, 4, Evidence::Wire),      // output DEQUANTIZE
        ]
    );
    assert_eq!(al.unmatched_qat, vec![OpId(2)]);
    assert!(al.unmatched_ptq.is_empty());
    assert_eq!(
        (al.compute.matched, al.compute.ptq, al.compute.qat),
        (2, 2, 2)
    );
}

/// int16x8 PTQ against int8 QAT: reported as a width difference, never as
/// "placement matches".
#[test]
fn int8_against_int16_activations_is_a_width_mismatch() {
    let c = pair("ptq_int16x8.tflite", "qat_full.tflite");
    assert!(!c.placement_matches());
    assert_eq!(c.count(Kind::WidthMismatch), 1);
    let f = &c.findings[0];
    assert_eq!(f.kind, Kind::WidthMismatch);
    assert_eq!(f.severity, tflq::compare::Severity::Precision);
    assert_eq!(
        f.places.len(),
        7,
        "every compute op, rolled into one finding"
    );
    let msg = tflq::report::compare::message(f);
    assert!(
        msg.contains("QAT computes 7 ops in int8 where PTQ computes them in int16"),
        "{msg}"
    );
}

/// A pair whose names come from litert-torch: the advice is in PT2E terms,
/// names the module, and says nothing of Keras or tfmot.
#[test]
fn pytorch_pairs_get_pt2e_advice() {
    let conv_model = |float_conv: bool| {
        let mut m = ModelBuilder::new();
        let sg = m.subgraph("main");
        let quant = m.builtin(BuiltinCode::QUANTIZE);
        let deq = m.builtin(BuiltinCode::DEQUANTIZE);
        let conv = m.builtin(BuiltinCode::CONV_2D);
        let x = m.tensor(sg, "serving_default_args_0:0", &[1, 4, 4, 4], F32, None);
        let xq = m.tensor(sg, "tfl.quantize", &[1, 4, 4, 4], I8, q(0.02, 0));
        m.op(sg, quant, &[x], &[xq], SynthOptions::None);
        let name = "torch.nn.modules.conv.Conv2d_stem";
        let (conv_in, wt, wq, out_t, oq) = if float_conv {
            let xd = m.tensor(sg, "tfl.dequantize", &[1, 4, 4, 4], F32, None);
            m.op(sg, deq, &[xq], &[xd], SynthOptions::None);
            (xd, F32, None, F32, None)
        } else {
            (
                xq,
                I8,
                Some(SynthQuant::per_axis(vec![0.01; 4], 0)),
                I8,
                q(0.05, -128),
            )
        };
        let w = m.constant(sg, "stem.weight", &[4, 1, 1, 4], wt, wq, 16);
        let y = m.tensor(sg, name, &[1, 4, 4, 4], out_t, oq);
        m.op(
            sg,
            conv,
            &[conv_in, w, -1],
            &[y],
            SynthOptions::Conv2d { activation: 0 },
        );
        let yq = if float_conv {
            let yq = m.tensor(sg, "tfl.quantize1", &[1, 4, 4, 4], I8, q(0.05, -128));
            m.op(sg, quant, &[y], &[yq], SynthOptions::None);
            yq
        } else {
            y
        };
        // An integer op after it, as in any partially quantized model.
        let pool = m.builtin(BuiltinCode::MAX_POOL_2D);
        let p = m.tensor(
            sg,
            "torch.nn.modules.pooling.MaxPool2d_pool",
            &[1, 4, 4, 4],
            I8,
            q(0.05, -128),
        );
        m.op(sg, pool, &[yq], &[p], SynthOptions::None);
        let out = m.tensor(sg, "StatefulPartitionedCall:0", &[1, 4, 4, 4], F32, None);
        m.op(sg, deq, &[p], &[out], SynthOptions::None);
        m.io(sg, &[x], &[out]);
        common::leak_load(m.finish())
    };
    let (ptq, qat) = (conv_model(false), conv_model(true));
    let c = compare(&ptq, &qat, Options::default());
    assert_eq!(c.problem, None);
    let f = c
        .findings
        .iter()
        .find(|f| f.kind == Kind::AddQuantizer)
        .expect("the float conv");
    assert_eq!(f.layer.as_deref(), Some("stem"));
    assert_eq!(f.vocabulary, tflq::producer::Vocabulary::Pt2e);
    let s = tflq::report::compare::suggestion(f);
    assert!(s.contains("'stem'") && s.contains("set_module_name"), "{s}");
    for keras_word in [
        "tfmot",
        "QuantizeConfig",
        "Keras",
        "quantize_annotate",
        "the layer'",
    ] {
        assert!(!s.contains(keras_word), "{keras_word} in: {s}");
    }
}

/// Two conversions that emit a network's branches in different orders (both
/// valid execution orders) align completely: the alignment walks a
/// canonical order, not the file's.
#[test]
fn branches_emitted_in_another_order_align() {
    let build = |b_first: bool| {
        let mut n = Net::new();
        let (x, xq) = n.input();
        let (a, b) = if b_first {
            let b = n.conv(xq, "branch_b", 0, I8);
            let a = n.conv(xq, "branch_a", 0, I8);
            (a, b)
        } else {
            let a = n.conv(xq, "branch_a", 0, I8);
            let b = n.conv(xq, "branch_b", 0, I8);
            (a, b)
        };
        let add = n.m.builtin(BuiltinCode::ADD);
        let y =
            n.m.tensor(n.sg, "model/merge/add", &[1, 4, 4, 4], I8, q(0.1, 0));
        n.m.op(n.sg, add, &[a, b], &[y], SynthOptions::None);
        n.finish(x, y)
    };
    let (p, q) = (build(false), build(true));
    for (x, y) in [(&p, &q), (&q, &p)] {
        let c = compare(x, y, Options::default());
        assert_eq!(c.problem, None);
        assert!(c.findings.is_empty(), "{:?}", summary(&c));
        let a = &c.alignment[0];
        assert!(
            a.unmatched_ptq.is_empty() && a.unmatched_qat.is_empty(),
            "{a:?}"
        );
    }
}

/// Nested concatenations sharing one scale (Inception's mixed9: a
/// concatenation of concatenations): the outermost carries the quantizer,
/// since tfmot's concat transform leaves a concatenation that feeds another
/// without its own output quantizer.
#[test]
fn nested_concatenations_give_the_scale_to_the_outermost() {
    let mut n = Net::new();
    let (x, xq) = n.input();
    let a = n.conv(xq, "conv_a", 1, I8);
    let b = n.conv(xq, "conv_b", 1, I8);
    let c = n.conv(xq, "conv_c", 1, I8);
    let concat = |n: &mut Net, inputs: &[i32], name: &str, channels: i32| {
        let code = n.m.builtin(BuiltinCode::CONCATENATION);
        let t =
            n.m.tensor(n.sg, name, &[1, 4, 4, channels], I8, q(0.05, -128));
        n.m.op(n.sg, code, inputs, &[t], SynthOptions::None);
        t
    };
    let inner = concat(&mut n, &[a, b], "model/mixed_0/concat", 8);
    let outer = concat(&mut n, &[inner, c], "model/mixed/concat", 12);
    let model = n.finish(x, outer);
    let insp = tflq::analysis::inspect(&model);
    let plan = tflq::advice::plan(&model, &insp);
    let action = |layer: &str| {
        plan.layers
            .iter()
            .find(|l| l.layer.as_deref() == Some(layer))
            .map(|l| (l.action, l.reasons.first().cloned()))
    };
    assert_eq!(
        action("mixed"),
        Some((
            tflq::advice::Action::Default,
            Some(tflq::advice::Reason::CarriesSharedScale)
        ))
    );
    assert_eq!(
        action("mixed_0").map(|a| a.0),
        Some(tflq::advice::Action::NoQuantizer)
    );
    for conv in ["conv_a", "conv_b", "conv_c"] {
        assert_eq!(
            action(conv).map(|a| a.0),
            Some(tflq::advice::Action::WeightsOnly),
            "{conv}"
        );
    }
}

/// PTQ: two convs whose outputs are calibrated to [0, 12.75]; QAT: the same
/// two with the output quantization of each given.
fn ranged_pair(qat_outputs: [Option<SynthQuant>; 2]) -> Comparison {
    let mut qn = Net::new();
    let (x, xq) = qn.input();
    let [qa, qb] = qat_outputs;
    let a = qn.conv_to(xq, "quant_conv_a", 0, I8, qa);
    let b = qn.conv_to(a, "quant_conv_b", 0, I8, qb);
    let qat = qn.finish(x, b);
    compare(&two_convs(), &qat, Options::default())
}

fn range_findings(c: &Comparison) -> Vec<&tflq::compare::Finding> {
    c.findings.iter().filter(|f| f.kind.is_range()).collect()
}

#[test]
fn a_narrow_learned_range_is_worded_as_clipping() {
    // conv_b: [0, 1.275] against PTQ's [0, 12.75], a tenth of the width.
    let c = ranged_pair([q(0.05, -128), q(0.005, -128)]);
    let f = range_findings(&c);
    assert_eq!(f.len(), 1, "{:?}", summary(&c));
    assert_eq!(f[0].kind, Kind::RangeClipping);
    assert_eq!(
        f[0].wording,
        Wording {
            range: Some(RangeVerdict::Clipping),
            roll_up: None,
        }
    );
    let m = tflq::report::compare::message(f[0]);
    assert!(m.ends_with("values outside it clip"), "{m}");
}

#[test]
fn wide_learned_ranges_roll_up_with_their_span() {
    // [0, 127.5] and [0, 63.75] against [0, 12.75]: 10x and 5x.
    let c = ranged_pair([q(0.5, -128), q(0.25, -128)]);
    let f = range_findings(&c);
    assert_eq!(f.len(), 1, "{:?}", summary(&c));
    assert_eq!(f[0].kind, Kind::RangeWide);
    assert_eq!(f[0].places.len(), 2);
    assert_eq!(f[0].wording.range, Some(RangeVerdict::Wide));
    let Some(RollUp::WideRanges { lo, hi }) = f[0].wording.roll_up else {
        panic!("{:?}", f[0].wording);
    };
    assert!(
        (lo - 5.0).abs() < 1e-4 && (hi - 10.0).abs() < 1e-4,
        "{lo} {hi}"
    );
}

#[test]
fn ordinary_ranges_have_no_range_wording() {
    // Nothing out of the ordinary: no range finding, no wording.
    let c = ranged_pair([q(0.05, -128), q(0.05, -128)]);
    assert!(range_findings(&c).is_empty(), "{:?}", summary(&c));
    for f in &c.findings {
        assert_eq!(f.wording.range, None);
    }
}

/// A layer PTQ folds part of into a conv while it owns an op of its own
/// (InceptionResNetV2's CustomScaleLayer: its multiply by a constant in the
/// conv's op, its add its own): the conv keeps only its weights and the
/// layer, with two scales of its own, is calibrated by the converter.
#[test]
fn a_layer_folded_into_a_conv_and_owning_an_op_is_calibrated() {
    let mut n = Net::new();
    let (x, xq) = n.input();
    // Named "model/scale/mul;model/block_conv/..." by the converter.
    let y = n.conv_to(xq, "scale/mul;model/block_conv", 0, I8, q(0.05, -128));
    let add = n.m.builtin(BuiltinCode::ADD);
    let z =
        n.m.tensor(n.sg, "model/scale/add", &[1, 4, 4, 4], I8, q(0.07, -128));
    n.m.op(
        n.sg,
        add,
        &[y, xq],
        &[z],
        SynthOptions::Add { activation: 0 },
    );
    let model = n.finish(x, z);
    let insp = tflq::analysis::inspect(&model);
    let plan = tflq::advice::plan(&model, &insp);
    let entry = |layer: &str| {
        plan.layers
            .iter()
            .find(|l| l.layer.as_deref() == Some(layer))
            .unwrap_or_else(|| panic!("no entry {layer}: {:?}", plan.layers))
    };
    let conv = entry("block_conv");
    assert_eq!(conv.action, tflq::advice::Action::WeightsOnly);
    assert_eq!(
        conv.reasons,
        [tflq::advice::Reason::PartlyFoldedInto {
            layer: "scale".into()
        }]
    );
    assert!(conv.folded.is_empty(), "{:?}", conv.folded);
    let scale = entry("scale");
    assert_eq!(scale.action, tflq::advice::Action::Unsupported);
    assert!(scale.calibrate);
}

/// An integer op QAT keeps after a conv where PTQ folds it into the conv's
/// op (a hard sigmoid's `x + 3` after a squeeze-excite conv): a structure
/// finding that names what PTQ's op holds, counts against placement and
/// names the conv whose output quantizer blocks the fold.
#[test]
fn an_op_ptq_folds_into_the_conv_before_it_names_the_conv() {
    let mut p = Net::new();
    let (x, xq) = p.input();
    // "model/re_lu/Relu;model/tf.__operators__.add/AddV2;model/se_conv/..."
    let y = p.conv_to(
        xq,
        "re_lu/Relu;model/tf.__operators__.add/AddV2;model/se_conv",
        3,
        I8,
        q(0.05, -128),
    );
    let ptq = p.finish(x, y);

    let mut n = Net::new();
    let (x, xq) = n.input();
    let c = n.conv_to(xq, "quant_se_conv", 0, I8, q(0.04, -128));
    let three = n.m.constant(
        n.sg,
        "model/tf.__operators__.add/y",
        &[],
        I8,
        q(0.04, -128),
        1,
    );
    let add = n.m.builtin(BuiltinCode::ADD);
    let z = n.m.tensor(
        n.sg,
        "model/quant_re_lu/Relu;model/tf.__operators__.add/AddV2",
        &[1, 4, 4, 4],
        I8,
        q(0.05, -128),
    );
    n.m.op(
        n.sg,
        add,
        &[c, three],
        &[z],
        SynthOptions::Add { activation: 3 },
    );
    let qat = n.finish(x, z);

    let cmp = compare(&ptq, &qat, Options::default());
    assert!(!cmp.placement_matches(), "{:?}", summary(&cmp));
    let fold = cmp
        .findings
        .iter()
        .find(|f| f.kind == Kind::StructureMismatch)
        .unwrap_or_else(|| panic!("{:?}", summary(&cmp)));
    let Detail::Structure {
        fold_into,
        batchnorm_unfolded,
        ..
    } = &fold.detail
    else {
        panic!("{:?}", fold.detail)
    };
    assert!(!batchnorm_unfolded);
    assert!(fold_into.iter().any(|l| l == "se_conv"), "{fold_into:?}");
    assert_eq!(
        fold.culprits
            .iter()
            .map(|c| (c.layer.as_str(), c.action))
            .collect::<Vec<_>>(),
        [("se_conv", tflq::advice::Action::WeightsOnly)]
    );
    assert_eq!(cmp.folds_to_unblock(), 1);
}
