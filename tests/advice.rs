//! Every advice branch that a real converter or tfmot fixture reaches, with
//! its culprit layers and actions asserted (not only a snapshot). The
//! fixtures come from testdata/generate.py (pinned TF 2.21 and tfmot 0.8.1).

mod common;

use tflq::advice::{Action, InputSide, Suggestion};
use tflq::compare::{Comparison, Finding, Kind, Options, Severity, compare};

fn pair(ptq: &str, qat: &str) -> Comparison {
    let c = compare(
        &common::fixture_model(&format!("{ptq}.tflite")),
        &common::fixture_model(&format!("{qat}.tflite")),
        Options::default(),
    );
    assert_eq!(c.problem, None, "{ptq} {qat}");
    c
}

fn only(c: &Comparison, kind: Kind) -> &Finding {
    let v: Vec<&Finding> = c.findings.iter().filter(|f| f.kind == kind).collect();
    assert_eq!(v.len(), 1, "{kind:?}: {:?}", c.findings);
    v[0]
}

fn culprits(f: &Finding) -> Vec<(&str, Action, bool)> {
    f.culprits
        .iter()
        .map(|c| (c.layer.as_str(), c.action, c.annotated))
        .collect()
}

/// An unsupported element-wise layer left unannotated: the plan's actions
/// for the scale the Maximum/Minimum share (the recipe the closed loop on
/// this network converges with).
#[test]
fn unsupported_layers_left_float() {
    let c = pair("plan_eltwise_ptq", "advice_unsupported_float_qat");
    let f = only(&c, Kind::AddQuantizer);
    assert_eq!(f.severity, Severity::FloatCompute);
    assert_eq!(
        culprits(f),
        [
            ("mul", Action::NoQuantizer, false),
            ("sub", Action::NoQuantizer, false),
            ("max", Action::Output, false),
            ("min", Action::Output, false),
        ]
    );
    assert!(matches!(f.suggestion, Suggestion::Annotate { .. }));
}

/// The first layers left unannotated: no quantize_layer in front.
#[test]
fn float_from_the_graph_input() {
    let c = pair("ptq_int8", "advice_float_input_qat");
    let f = only(&c, Kind::AddQuantizer);
    assert_eq!(
        culprits(f),
        [
            ("conv1", Action::Default, false),
            ("bn1", Action::Default, false)
        ]
    );
    // The layer reading the model input comes first, with why.
    assert_eq!(
        f.culprits[0].reasons,
        [tflq::advice::Reason::QuantizesModelInput]
    );
    let Suggestion::Annotate { input, .. } = &f.suggestion else {
        panic!("{:?}", f.suggestion)
    };
    assert_eq!(*input, InputSide::GraphInput);
}

/// A BatchNormalization left out of its conv's annotation.
#[test]
fn batchnorm_not_folded() {
    let c = pair("ptq_int8", "advice_bn_unfolded_qat");
    let f = only(&c, Kind::AddQuantizer);
    assert_eq!(f.culprits.len(), 1);
    assert_eq!(f.culprits[0].layer, "bn1");
    assert_eq!(f.culprits[0].action, Action::Default);
    assert_eq!(f.culprits[0].folded_into.as_deref(), Some("conv1"));
    let Suggestion::Annotate { fold_batchnorm, .. } = &f.suggestion else {
        panic!("{:?}", f.suggestion)
    };
    assert!(fold_batchnorm);
}

/// A requantize forced by a concatenation whose inputs PTQ gives one
/// scale: the culprit is the conv feeding it (weights only), not the
/// concatenation (whose default config the QAT model already has).
#[test]
fn concat_forced_requantize() {
    let c = pair("plan_residual_ptq", "advice_concat_requantize_qat");
    let f = only(&c, Kind::RemoveQuantizer);
    assert_eq!(f.layer.as_deref(), Some("skip_concat"));
    assert_eq!(
        culprits(f),
        [
            ("stem", Action::WeightsOnly, true),
            ("res_relu", Action::NoQuantizer, true),
            ("res_add", Action::NoQuantizer, true)
        ]
    );
    let Suggestion::Requantize { constraint, .. } = &f.suggestion else {
        panic!("{:?}", f.suggestion)
    };
    assert!(
        constraint
            .as_ref()
            .is_some_and(|k| k.to_string() == "CONCATENATION")
    );
    let words = tflq::report::compare::suggestion(f);
    assert!(words.contains("it is annotated already"), "{words}");
}

/// tfmot's own quantize_model on the residual and upsampling networks: a
/// requantize whose scales differ by under 1% is rated near-free.
#[test]
fn near_free_requantizes_of_tfmot_defaults() {
    for (net, layer, culprit) in [
        ("residual", "skip_concat", "stem"),
        ("upsample", "up_bilinear", "up_bilinear"),
    ] {
        let c = pair(
            &format!("plan_{net}_ptq"),
            &format!("plan_{net}_qat_default"),
        );
        let f = only(&c, Kind::RemoveQuantizer);
        assert_eq!(f.layer.as_deref(), Some(layer), "{net}");
        assert_eq!(f.severity, Severity::NearFree, "{net}");
        assert!(f.culprits.iter().any(|c| c.layer == culprit), "{net}");
    }
}

/// Quantizers converted right after quantize_apply: one root cause listing
/// every untrained range.
#[test]
fn untrained_quantizers_roll_up() {
    let c = pair("ptq_int8", "advice_untrained_qat");
    assert!(c.placement_matches());
    let f = only(&c, Kind::RangeUntrained);
    assert_eq!(f.places.len(), 4);
    assert_eq!(f.checked, Some(4));
    assert!(matches!(
        f.suggestion,
        Suggestion::RetrainUntrainedRange { .. }
    ));
    let words = tflq::report::compare::message(f);
    assert!(
        words.contains("4 of 4 QAT output ranges are still tfmot's initial [-6, 6]"),
        "{words}"
    );
}

/// Per-tensor weights in QAT against per-channel PTQ: informational, one
/// root cause over every conv of the network.
#[test]
fn per_tensor_weights_roll_up() {
    let c = pair("plan_twoout_ptq", "advice_per_tensor_qat");
    assert!(c.placement_matches());
    let f = only(&c, Kind::GranularityMismatch);
    assert_eq!(f.severity, Severity::Info);
    let layers: Vec<_> = f.places.iter().filter_map(|p| p.layer.as_deref()).collect();
    assert_eq!(
        layers,
        ["conv1", "branch_a", "branch_b_dw", "branch_b_pw", "fc"]
    );
    assert!(matches!(f.suggestion, Suggestion::PerChannelWeights { .. }));
}

/// Different I/O types: reported once, placement still matches.
#[test]
fn io_types() {
    let c = pair("ptq_int8", "advice_io_int8_qat");
    assert!(c.placement_matches());
    let f = only(&c, Kind::StructureMismatch);
    assert!(matches!(f.suggestion, Suggestion::MatchIoTypes));
}

/// A QAT file with no integer op at all.
#[test]
fn whole_model_not_quantized() {
    let c = pair("ptq_int8", "float");
    let f = only(&c, Kind::AddQuantizer);
    assert!(matches!(f.suggestion, Suggestion::QuantizeWholeModel));
}

/// Following compare's advice once: generate.py took the culprits of each
/// partially annotated QAT fixture, changed the annotation exactly as the
/// actions say, fine-tuned and converted again. Every one reproduces PTQ's
/// placement.
#[test]
fn following_the_advice_once_converges() {
    for (ptq, fixed) in [
        ("ptq_int8", "qat_partial_fixed"),
        ("plan_eltwise_ptq", "advice_unsupported_float_fixed_qat"),
        ("ptq_int8", "advice_float_input_fixed_qat"),
        ("ptq_int8", "advice_bn_unfolded_fixed_qat"),
        ("plan_residual_ptq", "advice_concat_requantize_fixed_qat"),
        ("ptq_int8", "advice_round_trip_fixed_qat"),
    ] {
        let c = pair(ptq, fixed);
        assert!(c.placement_matches(), "{fixed}: {:?}", c.findings);
    }
}

/// A QAT range narrower than calibration is clipping, not the harmless
/// wider case.
#[test]
fn clipping_is_its_own_kind() {
    let c = pair("ptq_int8", "advice_clipping_qat");
    assert!(c.placement_matches());
    let f = only(&c, Kind::RangeClipping);
    assert_eq!(f.severity, Severity::Clipping);
    let layers: Vec<_> = f.places.iter().filter_map(|p| p.layer.as_deref()).collect();
    assert!(layers.contains(&"relu1"), "{layers:?}");
    assert!(f.places.iter().all(|p| p.ratio.is_some_and(|r| r < 0.25)));
}

/// MobileNetV3 with every BatchNormalization left unannotated: judged one
/// network (the unfolded MUL/ADD count as explained), with the float regions
/// rolled up by cause: a handful of findings, every BatchNorm named under
/// the cause "left out of its conv's annotation".
#[test]
fn unannotated_batchnorms_are_one_network_and_one_root_cause() {
    use tflq::compare::Cause;
    let c = pair("plan_mobilenet_ptq", "advice_mobilenet_bn_qat");
    assert!(c.same_network());
    assert!(!c.placement_matches());
    let add: Vec<&Finding> = c
        .findings
        .iter()
        .filter(|f| f.kind == Kind::AddQuantizer)
        .collect();
    assert_eq!(
        add.iter()
            .map(|f| (f.places.len(), f.causes.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, vec![Cause::Unsupported]),
            (18, vec![Cause::FoldLeftOut, Cause::NeedsConfig]),
            (13, vec![Cause::FoldLeftOut]),
            (9, vec![Cause::NeedsConfig, Cause::Unsupported]),
        ]
    );
    let folded: Vec<&str> = add
        .iter()
        .flat_map(|f| &f.culprits)
        .filter(|c| Cause::of(c) == Cause::FoldLeftOut)
        .map(|c| c.layer.as_str())
        .collect();
    assert_eq!(folded.len(), 34, "{folded:?}");
    assert!(
        folded.iter().all(|l| l.ends_with("BatchNorm")),
        "{folded:?}"
    );
    assert!(folded.contains(&"expanded_conv/depthwise/BatchNorm"));
    // A TFOpLambda is never named: it cannot be annotated.
    assert!(
        add.iter()
            .flat_map(|f| &f.culprits)
            .all(|c| !c.layer.starts_with("tf.") || c.action == Action::Unsupported)
    );
    let words = tflq::report::compare::message(add[2]);
    assert!(
        words.starts_with(
            "16 BatchNormalization or activation layers are left out of the annotation"
        ),
        "{words}"
    );
}
