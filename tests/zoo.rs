//! The committed MobileNetV2, MobileNetV3Small and Conv1D keyword spotter of the Keras-applications
//! zoo (`testdata/zoo.py --fixtures`, see `testdata/zoo/RESULTS.md`): the
//! plan's actions and compare's culprits pinned by value, on networks this
//! repository did not design.

mod common;

use tflq::advice::{self, Action, QatConfig};
use tflq::analysis;
use tflq::compare::{Cause, Kind, Options, compare};

/// compare on the zoo fixtures `zoo_<net>_ptq.tflite` and `zoo_<net>_<qat>.tflite`.
fn compare_zoo(net: &str, qat: &str) -> tflq::compare::Comparison {
    compare(
        &common::fixture_model(&format!("zoo_{net}_ptq.tflite")),
        &common::fixture_model(&format!("zoo_{net}_{qat}.tflite")),
        Options::default(),
    )
}

/// The add- and remove-quantizer findings of a comparison.
fn placement(c: &tflq::compare::Comparison) -> Vec<&tflq::compare::Finding> {
    c.findings
        .iter()
        .filter(|f| f.kind.is_placement())
        .collect()
}

fn plan(name: &str) -> advice::Plan {
    let model = common::fixture_model(name);
    let insp = analysis::inspect(&model);
    advice::plan(&model, &insp)
}

#[test]
fn mobilenetv2_plan_is_the_registry_default_with_every_fold_named() {
    let p = plan("zoo_mobilenetv2_ptq.tflite");
    assert_eq!(p.layers.len(), 65);
    assert_eq!(p.count(Action::Default), 65);
    let entry = |name: &str| {
        p.layers
            .iter()
            .find(|l| l.layer.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no entry {name}"))
    };
    // The depthwise conv holds its weights; the padding PTQ folds into the
    // same op is folded into it, not the other way round.
    let dw = entry("block_1_depthwise");
    assert_eq!(
        dw.folded,
        [
            "block_1_pad",
            "block_1_depthwise_BN",
            "block_1_depthwise_relu"
        ]
    );
    assert_eq!(
        dw.fallback,
        Some(QatConfig {
            weights: Some("depthwise_kernel"),
            per_axis: true,
            output: true
        })
    );
    // A linear project conv: its BatchNorm folds in, and nothing else.
    assert_eq!(
        entry("expanded_conv_project").folded,
        ["expanded_conv_project_BN"]
    );
    assert_eq!(entry("Conv1").folded, ["bn_Conv1", "Conv1_relu"]);
    assert!(p.layers.iter().all(|l| l.config.is_none() && !l.calibrate));
}

/// The plan applied once (the module's quantize_model, a brief QAT
/// fine-tune, conversion) gives PTQ's placement.
#[test]
fn planned_qat_matches_ptq() {
    for net in ["mobilenetv2", "mobilenetv3small"] {
        let c = compare_zoo(net, "planned");
        assert!(c.placement_matches(), "{net}: {:?}", c.findings);
    }
}

/// Only Conv2D and Dense annotated, as many tutorials do: two findings, one
/// per set of causes, whose culprits name every layer to change.
#[test]
fn mobilenetv2_partial_annotation_rolls_up_by_cause() {
    let c = compare_zoo("mobilenetv2", "partial");
    assert!(c.same_network());
    let placement = placement(&c);
    assert_eq!(
        placement
            .iter()
            .map(|f| (f.kind, f.places.len(), f.causes.clone(), f.culprits.len()))
            .collect::<Vec<_>>(),
        [
            (
                Kind::AddQuantizer,
                17,
                vec![Cause::FoldLeftOut, Cause::Unannotated],
                72
            ),
            (Kind::AddQuantizer, 13, vec![Cause::FoldLeftOut], 19),
        ]
    );
    let culprits: Vec<&advice::Culprit> = placement.iter().flat_map(|f| &f.culprits).collect();
    assert!(
        culprits
            .iter()
            .all(|c| c.action == Action::Default && !c.annotated)
    );
    let named = |l: &str| culprits.iter().any(|c| c.layer == l);
    // Every depthwise conv (unannotated), every project BatchNorm (left out of
    // its linear conv) and the first conv's BatchNorm and ReLU.
    assert!((1..=16).all(|b| named(&format!("block_{b}_depthwise"))));
    assert!((1..=16).all(|b| named(&format!("block_{b}_project_BN"))));
    assert!(named("expanded_conv_depthwise") && named("bn_Conv1") && named("Conv1_relu"));
    let folded = culprits
        .iter()
        .filter(|c| c.folded_into.as_deref() == Some("block_5_project"))
        .count();
    assert_eq!(folded, 1);
    // A layer with weights (its op's, or a BatchNorm's folded into them) is
    // never merged with a twin; a ReLU fused into another layer's op may be.
    let twins = |l: &str| culprits.iter().find(|c| c.layer == l).map(|c| c.twins);
    assert_eq!(twins("block_1_depthwise"), Some(false));
    assert_eq!(twins("block_1_project_BN"), Some(false));
    assert_eq!(twins("Conv1_relu"), Some(true));
}

fn entry<'a>(p: &'a advice::Plan, name: &str) -> &'a advice::LayerPlan {
    p.layers
        .iter()
        .find(|l| l.layer.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no entry {name}"))
}

/// MobileNetV3Small, which tfmot's own quantize_model cannot take (its hard
/// swish is TF-op lambdas): the plan folds the hard sigmoid's `x + 3` into
/// the squeeze-excite conv, which therefore keeps no output quantizer.
#[test]
fn mobilenetv3small_plan_folds_the_hard_sigmoid_into_the_squeeze_excite_conv() {
    let p = plan("zoo_mobilenetv3small_ptq.tflite");
    assert_eq!(p.layers.len(), 132);
    assert_eq!(
        [
            Action::Default,
            Action::Output,
            Action::NoQuantizer,
            Action::Unsupported,
            Action::WeightsOnly
        ]
        .map(|a| p.count(a)),
        [68, 27, 18, 10, 9]
    );
    let conv = entry(&p, "expanded_conv/squeeze_excite/Conv_1");
    assert_eq!(conv.action, Action::WeightsOnly);
    assert_eq!(
        conv.config,
        Some(QatConfig {
            weights: Some("kernel"),
            per_axis: true,
            output: false
        })
    );
    let relu = entry(&p, "re_lu_2");
    assert_eq!(relu.action, Action::Default);
    assert_eq!(relu.folded, ["tf.__operators__.add_1"]);
    // The hard swish's Multiply layer carries the output its lambdas fold into.
    let multiply = entry(&p, "multiply");
    assert_eq!(multiply.action, Action::Output);
    assert_eq!(
        multiply.folded,
        ["tf.__operators__.add", "tf.math.multiply"]
    );
    // Rescaling's MUL and ADD each have a scale: one QuantizeConfig cannot
    // give both, so the converter calibrates it.
    let rescaling = entry(&p, "rescaling");
    assert_eq!(rescaling.action, Action::Unsupported);
    assert!(rescaling.calibrate);
    assert!(
        p.layers
            .iter()
            .filter(|l| l.action == Action::Unsupported)
            .all(|l| l.calibrate)
    );
}

/// Only Conv2D and Dense annotated: five findings by cause; the squeeze-excite
/// convs, annotated already, are named in the first round because PTQ folds
/// the float `x + 3` after them into their op.
#[test]
fn mobilenetv3small_partial_annotation_names_the_convs_that_block_a_fold() {
    let c = compare_zoo("mobilenetv3small", "partial");
    let placement = placement(&c);
    assert_eq!(
        placement
            .iter()
            .map(|f| (f.places.len(), f.causes.clone(), f.culprits.len()))
            .collect::<Vec<_>>(),
        [
            (1, vec![Cause::Unsupported], 1),
            (
                9,
                vec![
                    Cause::FoldLeftOut,
                    Cause::Unannotated,
                    Cause::NeedsConfig,
                    Cause::Unsupported
                ],
                101
            ),
            (8, vec![Cause::FoldLeftOut], 11),
            (2, vec![Cause::FoldLeftOut, Cause::Unannotated], 9),
            (1, vec![Cause::FoldLeftOut, Cause::NeedsConfig], 3),
        ]
    );
    let culprits: Vec<&advice::Culprit> = placement.iter().flat_map(|f| &f.culprits).collect();
    let blocking: Vec<&str> = culprits
        .iter()
        .filter(|c| c.annotated)
        .map(|c| c.layer.as_str())
        .collect();
    assert_eq!(blocking.len(), 9);
    assert!(
        blocking
            .iter()
            .all(|l| l.ends_with("/squeeze_excite/Conv_1"))
    );
    assert!(
        culprits
            .iter()
            .filter(|c| c.annotated)
            .all(|c| c.action == Action::WeightsOnly)
    );
    // Every unsupported culprit is one the converter calibrates.
    assert!(
        culprits
            .iter()
            .filter(|c| c.action == Action::Unsupported)
            .all(|c| c.calibrate)
    );
}

/// The Conv1D keyword spotter: PTQ folds `bn2` into the CONV_2D of the
/// Conv1D `conv2` (between its EXPAND_DIMS and RESHAPE), which no tfmot
/// transform does for a Conv1D. The plan leaves `conv2` and what folds into
/// it to the converter (unsupported, calibrated), with the Conv2D
/// workaround, except the ReLU fused after them, whose default output
/// quantizer gives that op's output its range; compare names the same
/// layers after the partial annotation, and the planned model matches PTQ.
#[test]
fn kws_conv1d_batchnorm_is_left_to_the_converter() {
    let p = plan("zoo_kws_conv1d_ptq.tflite");
    let actions: Vec<(&str, Action)> = p
        .layers
        .iter()
        .map(|l| (l.layer.as_deref().unwrap_or("-"), l.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("conv1", Action::Default),
            ("pool1", Action::NoQuantizer),
            ("conv2", Action::Unsupported),
            ("gap", Action::Default),
            ("fc", Action::Default),
            ("softmax", Action::Default),
        ]
    );
    let conv = entry(&p, "conv2");
    assert_eq!(conv.folded, ["bn2", "relu2"]);
    assert_eq!(conv.folded_batchnorms, ["bn2"]);
    assert_eq!(
        conv.reasons,
        [advice::Reason::NoBatchNormFold {
            batchnorm: "bn2".into()
        }]
    );
    assert_eq!(conv.workaround, Some(advice::Workaround::CalibrateFold));
    assert!(conv.calibrate);
    // A rank-3 Conv1D kernel stays per-tensor where it is quantized.
    assert_eq!(
        entry(&p, "conv1").fallback,
        Some(QatConfig {
            weights: Some("kernel"),
            per_axis: false,
            output: true
        })
    );

    let culprits = |qat: &str| -> Vec<(String, Action, bool)> {
        placement(&compare_zoo("kws_conv1d", qat))
            .iter()
            .flat_map(|f| &f.culprits)
            .map(|c| (c.layer.clone(), c.action, c.calibrate))
            .collect()
    };
    assert_eq!(
        culprits("partial"),
        [
            ("conv1".to_owned(), Action::Default, false),
            ("pool1".to_owned(), Action::NoQuantizer, false),
            ("conv2".to_owned(), Action::Unsupported, true),
            ("relu2".to_owned(), Action::Default, true),
            ("bn2".to_owned(), Action::Unsupported, true),
        ]
    );
    assert!(compare_zoo("kws_conv1d", "planned").placement_matches());
}
