//! Advice as data: what to change in the QAT annotation, decided here and
//! only worded by [`crate::report`].
//!
//! Two things share this vocabulary. [`Action`] is what a layer's
//! annotation should be so that QAT reproduces PTQ (the per-layer decision
//! `tflq plan` makes). [`Suggestion`] is what `tflq compare` tells the user
//! to change for one finding; it is chosen from the finding's facts by
//! [`suggest`], never by a renderer.

use crate::compare::{Detail, Removal, Side};
use crate::model::{Granularity, OpKind};

/// What a layer's QAT annotation should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// tfmot's default 8-bit registry gives PTQ's placement:
    /// `quantize_annotate_layer(layer)`.
    Default,
    /// PTQ computes it in integer with its own output scale, and the registry
    /// lacks it or quantizes it otherwise: a QuantizeConfig with an output
    /// quantizer (and weight quantizers matching PTQ's).
    Output,
    /// PTQ keeps its input's scale on its output: a QuantizeConfig with no
    /// quantizers, so QAT adds no requantize.
    NoQuantizer,
    /// Weights quantized as PTQ has them, no output quantizer: its output
    /// joins a scale that another layer's quantizer decides.
    WeightsOnly,
    /// PTQ leaves it in float: leave it unannotated.
    Float,
    /// No tfmot annotation reproduces PTQ here.
    Unsupported,
}

impl Action {
    /// All actions, in report order.
    pub const ALL: [Action; 6] = [
        Action::Default,
        Action::Output,
        Action::NoQuantizer,
        Action::WeightsOnly,
        Action::Float,
        Action::Unsupported,
    ];

    /// The kebab-case name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Action::Default => "default",
            Action::Output => "output",
            Action::NoQuantizer => "no-quantizer",
            Action::WeightsOnly => "weights-only",
            Action::Float => "float",
            Action::Unsupported => "unsupported",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the input of a float region gets its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSide {
    /// The float model input, with no `quantize_layer` in front.
    GraphInput,
    /// A DEQUANTIZE in front: the input already has a range.
    Dequantize,
    /// Other float ops, which need quantizers too.
    FloatOps,
}

/// Where the output of a float region gets its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputSide {
    /// A QUANTIZE after it: the output already has a range.
    Quantize,
    /// Nothing: the annotated layer needs an output quantizer.
    Missing,
}

/// What `tflq compare` tells the user to change for one finding.
#[derive(Debug, Clone, PartialEq)]
pub enum Suggestion {
    /// A requantize caused by a same-scale op's own output quantizer: give
    /// `layer` no output quantizer.
    NoOutputQuantizer {
        /// The layer to change.
        layer: Option<String>,
        /// The same-scale op.
        op: OpKind,
    },
    /// A requantize between two layers: keep only the consumer's range.
    KeepOneQuantizer {
        /// The layer whose output quantizer goes.
        producer: Option<String>,
        /// The layer whose range stays.
        consumer: Option<String>,
    },
    /// A QUANTIZE/DEQUANTIZE round trip around a value consumed in float.
    RemoveRoundTrip {
        /// The layer carrying the fake-quant.
        layer: Option<String>,
    },
    /// A single extra QUANTIZE or DEQUANTIZE.
    RemoveBoundary {
        /// The layer carrying the fake-quant.
        layer: Option<String>,
    },
    /// Nothing in the QAT model is integer: quantize the whole model.
    QuantizeWholeModel,
    /// Annotate the float region's layers.
    Annotate {
        /// Layers the default registry supports.
        layers: Vec<String>,
        /// A BatchNorm there was left unfolded: annotate it with its conv.
        fold_batchnorm: bool,
        /// Layers the registry does not support, with their op.
        unsupported: Vec<(String, OpKind)>,
        /// Where the region's input gets its range.
        input: InputSide,
        /// Where its output gets its range.
        output: OutputSide,
        /// The region's ops carry no layer names: the QAT file was probably
        /// not converted from a quantize_apply'd model.
        unnamed: bool,
    },
    /// The quantizer kept tfmot's initial [-6, 6].
    RetrainUntrainedRange {
        /// The layer.
        layer: Option<String>,
    },
    /// The learned range is far from the calibrated one.
    CheckRange {
        /// The layer.
        layer: Option<String>,
    },
    /// tfmot quantizes these weights per-tensor, PTQ per-channel.
    PerChannelWeights {
        /// The layer.
        layer: Option<String>,
    },
    /// PTQ used per-tensor weights.
    PtqPerTensor {
        /// The layer.
        layer: Option<String>,
    },
    /// A fake-quant blocks the fusion of an activation.
    UnblockFusion {
        /// The activation.
        activation: OpKind,
    },
    /// QAT fused an activation PTQ kept separate.
    FusedOnlyInQat,
    /// Ops of an unfolded BatchNorm.
    FoldBatchnorm,
    /// Ops in one model only.
    CheckSameModel,
    /// Model I/O types differ.
    MatchIoTypes,
}

/// Choose the suggestion for a finding from its facts. `layer` is the
/// finding's layer.
pub fn suggest(detail: &Detail, layer: Option<&str>) -> Suggestion {
    let layer = layer.map(str::to_owned);
    match detail {
        Detail::Remove(Removal::Requantize {
            same_scale_op,
            producer_layer,
            consumer_layer,
            ..
        }) => match same_scale_op {
            Some((_, k)) => Suggestion::NoOutputQuantizer {
                layer,
                op: k.clone(),
            },
            None => Suggestion::KeepOneQuantizer {
                producer: producer_layer.clone(),
                consumer: consumer_layer.clone(),
            },
        },
        Detail::Remove(Removal::RoundTrip) => Suggestion::RemoveRoundTrip { layer },
        Detail::Remove(Removal::Boundary { .. }) => Suggestion::RemoveBoundary { layer },
        Detail::Add {
            layers,
            unsupported,
            batchnorm_unfolded,
            entries,
            exits,
            reads_graph_input,
            whole_model,
            ..
        } => {
            if *whole_model {
                return Suggestion::QuantizeWholeModel;
            }
            let supported = layers
                .iter()
                .filter(|l| !unsupported.iter().any(|(u, _)| u == *l))
                .cloned()
                .collect();
            Suggestion::Annotate {
                layers: supported,
                fold_batchnorm: *batchnorm_unfolded,
                unsupported: unsupported.clone(),
                input: if *reads_graph_input {
                    InputSide::GraphInput
                } else if !entries.is_empty() {
                    InputSide::Dequantize
                } else {
                    InputSide::FloatOps
                },
                output: if exits.is_empty() {
                    OutputSide::Missing
                } else {
                    OutputSide::Quantize
                },
                unnamed: layers.is_empty() && unsupported.is_empty(),
            }
        }
        Detail::Range { initial: true, .. } => Suggestion::RetrainUntrainedRange { layer },
        Detail::Range { .. } => Suggestion::CheckRange { layer },
        Detail::Granularity { qat, .. } => {
            if matches!(qat, Granularity::PerTensor) {
                Suggestion::PerChannelWeights { layer }
            } else {
                Suggestion::PtqPerTensor { layer }
            }
        }
        Detail::Fusion {
            separate_in: Side::Qat,
            activation,
        } => Suggestion::UnblockFusion {
            activation: activation.clone(),
        },
        Detail::Fusion {
            separate_in: Side::Ptq,
            ..
        } => Suggestion::FusedOnlyInQat,
        Detail::Structure {
            batchnorm_unfolded: true,
            ..
        } => Suggestion::FoldBatchnorm,
        Detail::Structure { .. } => Suggestion::CheckSameModel,
        Detail::Io { .. } => Suggestion::MatchIoTypes,
    }
}
