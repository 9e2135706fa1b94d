//! What TFLite and its quantizer do with each builtin op, in one table.
//!
//! Every analysis asks [`rule`] instead of keeping its own list of op codes:
//! which operands must share one scale (the same-scale ops of the int8/int16
//! spec, variadic ones included), which outputs have parameters fixed by the
//! kernel, where weights and biases sit and along which axis they are
//! quantized, whether float activations with integer weights can run
//! (hybrid), which standalone activations the converter fuses, which ops a
//! BatchNormalization folds into, and what tfmot's default 8-bit registry does
//! with the Keras layer that usually becomes the op. [`int_range`] and
//! [`real_range`] give the integer range of a type and the real interval a
//! (scale, zero point) covers, with checked arithmetic for values read from
//! a file.

#![deny(clippy::arithmetic_side_effects)]

use crate::model::{BuiltinCode as C, DType, OpKind};

/// Operands that must carry one (scale, zero point) together with every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameScale {
    /// No constraint: the op requantizes to its own output parameters.
    No,
    /// These input positions and every output.
    Inputs(&'static [usize]),
    /// Every input (variadic ops: CONCATENATION, PACK, ADD_N, MAXIMUM...).
    AllInputs,
}

impl SameScale {
    /// Whether input position `i` is tied to the output's parameters.
    pub fn covers(self, i: usize) -> bool {
        match self {
            SameScale::No => false,
            SameScale::Inputs(v) => v.contains(&i),
            SameScale::AllInputs => true,
        }
    }

    /// Whether the op has the constraint at all.
    pub(crate) fn is_same_scale(self) -> bool {
        self != SameScale::No
    }
}

/// Output parameters the kernels require, per output type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedOutput {
    /// (scale, zero point) for int8 outputs.
    pub int8: Option<(f32, i64)>,
    /// (scale, zero point) for int16 outputs.
    pub int16: Option<(f32, i64)>,
}

/// Input positions of an op with weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightOperands {
    /// Activation input.
    pub input: usize,
    /// Weight tensor.
    pub weights: usize,
    /// Optional bias.
    pub bias: Option<usize>,
    /// The axis per-channel weights are quantized along (-1: per-tensor only).
    pub channel_axis: i32,
}

/// Whether an op can run on float activations with integer constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hybrid {
    /// No hybrid kernel.
    No,
    /// Hybrid when its weight operand is an integer constant.
    Weights,
    /// Hybrid when any of its constant inputs is int8 (tables, gate weights).
    AnyConstant,
}

/// What tfmot's default 8-bit registry does with the Keras layer that usually
/// becomes this op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tfmot {
    /// Registered with quantizers: its weights (if any) and its output.
    Quantized,
    /// Registered with no quantizers at all (pooling by max, reshapes, pads,
    /// crops): the output keeps the input's range.
    NoQuantizer,
    /// Not in the registry: `quantize_model` refuses the layer and it needs a
    /// QuantizeConfig of the user's.
    Unsupported,
    /// Not a layer (QUANTIZE, DEQUANTIZE, control flow).
    NotALayer,
}

/// Everything the quantizer rules say about one op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpRule {
    /// Same-scale operands.
    pub same_scale: SameScale,
    /// Fixed output parameters.
    pub fixed_output: Option<FixedOutput>,
    /// Weight and bias operands.
    pub weights: Option<WeightOperands>,
    /// Hybrid capability.
    pub hybrid: Hybrid,
    /// A standalone activation the converter fuses into the op before it.
    pub fusable_activation: bool,
    /// A linear op a following BatchNormalization folds into.
    pub conv_like: bool,
    /// tfmot's default registry.
    pub tfmot: Tfmot,
}

const BASE: OpRule = OpRule {
    same_scale: SameScale::No,
    fixed_output: None,
    weights: None,
    hybrid: Hybrid::No,
    fusable_activation: false,
    conv_like: false,
    tfmot: Tfmot::Unsupported,
};

const fn weights(input: usize, w: usize, bias: Option<usize>, channel_axis: i32) -> OpRule {
    OpRule {
        weights: Some(WeightOperands {
            input,
            weights: w,
            bias,
            channel_axis,
        }),
        hybrid: Hybrid::Weights,
        conv_like: true,
        tfmot: Tfmot::Quantized,
        ..BASE
    }
}

const fn same(inputs: &'static [usize], tfmot: Tfmot) -> OpRule {
    OpRule {
        same_scale: SameScale::Inputs(inputs),
        tfmot,
        ..BASE
    }
}

const fn fixed(int8: Option<(f32, i64)>, int16: Option<(f32, i64)>) -> OpRule {
    OpRule {
        fixed_output: Some(FixedOutput { int8, int16 }),
        tfmot: Tfmot::Quantized,
        ..BASE
    }
}

const fn activation(tfmot: Tfmot) -> OpRule {
    OpRule {
        fusable_activation: true,
        tfmot,
        ..BASE
    }
}

const fn output(tfmot: Tfmot) -> OpRule {
    OpRule { tfmot, ..BASE }
}

const Q16: Option<(f32, i64)> = Some((1.0 / 32768.0, 0));

/// The rule of `kind`. Custom and unknown ops get the empty rule.
pub(crate) fn rule(kind: &OpKind) -> OpRule {
    let OpKind::Builtin(code) = kind else {
        return BASE;
    };
    use Tfmot::{NoQuantizer, NotALayer, Quantized, Unsupported};
    match *code {
        C::CONV_2D | C::FULLY_CONNECTED => weights(0, 1, Some(2), 0),
        C::DEPTHWISE_CONV_2D => weights(0, 1, Some(2), 3),
        C::TRANSPOSE_CONV => weights(2, 1, Some(3), 0),
        C::CONV_3D => OpRule {
            tfmot: Unsupported,
            ..weights(0, 1, Some(2), 4)
        },
        C::BATCH_MATMUL => OpRule {
            conv_like: false,
            tfmot: Unsupported,
            ..weights(0, 1, None, -1)
        },
        C::EMBEDDING_LOOKUP
        | C::LSTM
        | C::UNIDIRECTIONAL_SEQUENCE_LSTM
        | C::BIDIRECTIONAL_SEQUENCE_LSTM
        | C::RNN
        | C::UNIDIRECTIONAL_SEQUENCE_RNN
        | C::BIDIRECTIONAL_SEQUENCE_RNN
        | C::SVDF => OpRule {
            hybrid: Hybrid::AnyConstant,
            ..BASE
        },
        // Pools, reshapes and selections: the output is the input's values.
        C::MAX_POOL_2D | C::RESHAPE | C::PAD | C::TRANSPOSE | C::SLICE | C::STRIDED_SLICE => {
            same(&[0], NoQuantizer)
        }
        C::RESIZE_BILINEAR | C::RESIZE_NEAREST_NEIGHBOR => same(&[0], Quantized),
        C::AVERAGE_POOL_2D => same(&[0], Quantized),
        C::SQUEEZE
        | C::EXPAND_DIMS
        | C::MIRROR_PAD
        | C::GATHER
        | C::GATHER_ND
        | C::SPACE_TO_DEPTH
        | C::DEPTH_TO_SPACE
        | C::SPACE_TO_BATCH_ND
        | C::BATCH_TO_SPACE_ND
        | C::TILE
        | C::BROADCAST_TO
        | C::UNPACK
        | C::SPLIT_V
        | C::REDUCE_MAX
        | C::REDUCE_MIN
        | C::REVERSE_V2 => same(&[0], Unsupported),
        C::PADV2 => same(&[0, 2], Unsupported),
        C::SPLIT => same(&[1], Unsupported),
        C::SELECT | C::SELECT_V2 => same(&[1, 2], Unsupported),
        C::CONCATENATION => OpRule {
            same_scale: SameScale::AllInputs,
            tfmot: Quantized,
            ..BASE
        },
        C::PACK | C::MAXIMUM | C::MINIMUM | C::ADD_N => OpRule {
            same_scale: SameScale::AllInputs,
            ..BASE
        },
        C::LOGISTIC => fixed(Some((1.0 / 256.0, -128)), Q16),
        C::SOFTMAX => fixed(Some((1.0 / 256.0, -128)), Q16),
        C::TANH => fixed(Some((1.0 / 128.0, 0)), Q16),
        C::L2_NORMALIZATION => OpRule {
            tfmot: Unsupported,
            ..fixed(Some((1.0 / 128.0, 0)), None)
        },
        C::LOG_SOFTMAX => OpRule {
            tfmot: Unsupported,
            ..fixed(Some((16.0 / 256.0, 127)), None)
        },
        C::RELU | C::RELU6 => activation(Quantized),
        C::RELU_N1_TO_1 | C::RELU_0_TO_1 => activation(Unsupported),
        C::ADD | C::MEAN | C::LEAKY_RELU => output(Quantized),
        C::QUANTIZE
        | C::DEQUANTIZE
        | C::CALL
        | C::IF
        | C::WHILE
        | C::CALL_ONCE
        | C::STABLEHLO_COMPOSITE => output(NotALayer),
        _ => BASE,
    }
}

/// What tfmot (tensorflow-model-optimization 0.8, default 8-bit scheme) does
/// with Keras layers, as far as an annotation written for it must know:
/// generated plan modules check a model's layers against these at
/// annotation time, since the `.tflite` file does not name Keras classes.
pub mod tfmot {
    use crate::model::{BuiltinCode as C, OpKind};

    /// Layer classes whose kernels tfmot's quantizers can take per output
    /// channel: rank-4 kernels of `Conv2D` and `DepthwiseConv2D`. A
    /// per-channel quantizer on a `Conv2DTranspose` makes the converter
    /// reject its bias; on a `Conv1D` (rank-3 kernel) or `Dense` tfmot's
    /// quantizer fails while training.
    pub const PER_AXIS_CLASSES: [&str; 2] = ["Conv2D", "DepthwiseConv2D"];

    /// Layer classes a following `BatchNormalization` folds into: tfmot's
    /// Conv+BN transforms when both carry its default (a `SeparableConv2D`
    /// through the `Conv2D` it is split into), or the converter when no
    /// quantizer sits between them. Not a `Conv1D` (its ExpandDims/Squeeze
    /// keep the transforms from matching), nor a `Dense`: tfmot's Dense+BN
    /// transform keeps the kernel's fake-quant per-tensor, the BatchNorm's
    /// per-channel scale cannot fold into it, and the converter leaves the
    /// Dense in float (as tfmot's own `quantize_model` does on a Dense+BN).
    pub const BN_FOLDS_INTO: [&str; 3] = ["Conv2D", "DepthwiseConv2D", "SeparableConv2D"];

    /// Whether tfmot can fold a `BatchNormalization` that PTQ folds into the
    /// layer lowered to `op_kinds`: not when that layer is a `Conv1D`
    /// (EXPAND_DIMS around the conv) or a `Dense` (FULLY_CONNECTED), the
    /// layers PTQ folds a BatchNorm into that [`BN_FOLDS_INTO`] leaves out.
    pub fn folds_batchnorm(op_kinds: &[OpKind]) -> bool {
        !op_kinds
            .iter()
            .any(|k| k.is(C::EXPAND_DIMS) || k.is(C::FULLY_CONNECTED))
    }

    /// Layer classes the default registry does not list but tfmot's layout
    /// transforms take with the default annotation: a `SeparableConv2D` is
    /// split into a `DepthwiseConv2D` and a `Conv2D`, each with its default
    /// config (a custom config keeps it whole, unquantized inside).
    pub const TRANSFORMED_CLASSES: [&str; 1] = ["SeparableConv2D"];

    /// Activations the default configs accept inside a layer (its
    /// `activation` argument); any other, `relu6` among them, makes
    /// `quantize_apply` raise.
    pub const LAYER_ACTIVATIONS: [&str; 7] = [
        "linear", "relu", "swish", "gelu", "softmax", "sigmoid", "tanh",
    ];

    /// Activations an `Activation` layer may compute under the default
    /// config; any other raises.
    pub const ACTIVATION_LAYER: [&str; 8] = [
        "relu", "swish", "gelu", "relu6", "linear", "softmax", "sigmoid", "tanh",
    ];

    /// Keras' batch-normalization layer classes.
    pub const BATCH_NORM_CLASSES: [&str; 2] = ["BatchNormalization", "SyncBatchNormalization"];

    /// The Keras attribute of a layer's kernel (a `Conv2D`'s, a `Dense`'s).
    pub const KERNEL: &str = "kernel";

    /// The Keras attribute of a `DepthwiseConv2D`'s kernel.
    pub const DEPTHWISE_KERNEL: &str = "depthwise_kernel";

    /// The range tfmot's activation quantizers start from, before training
    /// moves them: `[-6, 6]`. A QAT range still there never trained.
    pub const INITIAL_RANGE: (f32, f32) = (-6.0, 6.0);

    /// A quantizer of `tfmot.quantization.keras.quantizers` and its
    /// parameters.
    #[derive(Debug, Clone, Copy)]
    pub struct Quantizer {
        /// Its class.
        pub class: &'static str,
        /// Integer width.
        pub num_bits: u8,
        /// A zero point of 0.
        pub symmetric: bool,
        /// The most negative integer left out (`[-127, 127]` for 8 bits).
        pub narrow_range: bool,
    }

    /// Weights as the converter quantizes them after training, and as
    /// tfmot's default 8-bit scheme does: symmetric, narrow range, the range
    /// of the last values.
    pub const WEIGHT_QUANTIZER: Quantizer = Quantizer {
        class: "LastValueQuantizer",
        num_bits: 8,
        symmetric: true,
        narrow_range: true,
    };

    /// Activations (a layer's output), as the converter and tfmot's default
    /// 8-bit scheme quantize them: asymmetric over the full integer range, a
    /// moving average of the ranges seen, per tensor.
    pub const OUTPUT_QUANTIZER: Quantizer = Quantizer {
        class: "MovingAverageQuantizer",
        num_bits: 8,
        symmetric: false,
        narrow_range: false,
    };

    /// Whether a layer lowered to `op_kinds` can take a per-channel kernel
    /// quantizer in tfmot: a 2-D conv or depthwise conv (what
    /// [`PER_AXIS_CLASSES`] lists), not a `Conv1D` (the converter expands its
    /// input with EXPAND_DIMS inside the layer), a `Dense` or a
    /// `Conv2DTranspose`.
    pub fn per_axis_kernel(op_kinds: &[OpKind]) -> bool {
        op_kinds
            .iter()
            .any(|k| k.is(C::CONV_2D) || k.is(C::DEPTHWISE_CONV_2D))
            && !op_kinds.iter().any(|k| k.is(C::EXPAND_DIMS))
    }

    /// The Keras attribute holding the weights of the layer that usually
    /// becomes `kind`: `depthwise_kernel` for a depthwise conv, `kernel` for
    /// other ops with weights.
    pub fn weight_attribute(kind: &OpKind) -> Option<&'static str> {
        super::rule(kind).weights?;
        Some(if kind.is(C::DEPTHWISE_CONV_2D) {
            DEPTHWISE_KERNEL
        } else {
            KERNEL
        })
    }
}

/// The real values an op's output can take, by its kind and fused
/// activation: `[0, 6]` for a RELU6, `[0, inf)` for a RELU, everything
/// otherwise. The part of a quantized range outside it is never used.
pub fn output_interval(kind: &OpKind, fused: Option<crate::model::Activation>) -> (f32, f32) {
    use crate::model::Activation as A;
    let by_kind = match kind {
        OpKind::Builtin(C::RELU) => Some(A::Relu),
        OpKind::Builtin(C::RELU6) => Some(A::Relu6),
        OpKind::Builtin(C::RELU_N1_TO_1) => Some(A::ReluN1To1),
        OpKind::Builtin(C::RELU_0_TO_1) => return (0.0, 1.0),
        _ => None,
    };
    match by_kind.or(fused) {
        Some(A::Relu) => (0.0, f32::INFINITY),
        Some(A::Relu6) => (0.0, 6.0),
        Some(A::ReluN1To1 | A::Tanh) => (-1.0, 1.0),
        _ => (f32::NEG_INFINITY, f32::INFINITY),
    }
}

/// QUANTIZE or DEQUANTIZE: ops that only convert between representations.
pub(crate) fn is_quantize_or_dequantize(kind: &OpKind) -> bool {
    kind.is(C::QUANTIZE) || kind.is(C::DEQUANTIZE)
}

/// The fixed output parameters of `kind` for an output of type `out`.
pub(crate) fn fixed_output(kind: &OpKind, out: DType) -> Option<(f32, i64)> {
    let f = rule(kind).fixed_output?;
    match out {
        DType::INT8 => f.int8,
        DType::INT16 => f.int16,
        _ => None,
    }
}

/// The integer range of a quantized type: `[-128, 127]` for int8.
pub(crate) fn int_range(dtype: DType) -> Option<(i64, i64)> {
    Some(match dtype {
        DType::INT8 => (-128, 127),
        DType::UINT8 => (0, 255),
        DType::INT16 => (-32768, 32767),
        DType::UINT16 => (0, 65535),
        DType::INT4 => (-8, 7),
        DType::UINT4 => (0, 15),
        DType::INT32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => return None,
    })
}

/// The real interval `[scale·(qmin−zp), scale·(qmax−zp)]` a tensor of type
/// `dtype` with these parameters covers. `None` when the type is not an
/// integer type, or the values (read from a file, so possibly crafted) do not
/// give a finite interval.
pub(crate) fn real_range(dtype: DType, scale: f32, zero_point: i64) -> Option<(f32, f32)> {
    let (qmin, qmax) = int_range(dtype)?;
    let lo = qmin.checked_sub(zero_point)?;
    let hi = qmax.checked_sub(zero_point)?;
    // i64 → f64 may round, which is fine for a range; the product is finite
    // or rejected.
    #[allow(clippy::cast_precision_loss)]
    let (lo, hi) = (f64::from(scale) * lo as f64, f64::from(scale) * hi as f64);
    #[allow(clippy::cast_possible_truncation)]
    let (lo, hi) = (lo as f32, hi as f32);
    (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: C) -> OpKind {
        OpKind::Builtin(c)
    }

    #[test]
    fn variadic_same_scale_covers_every_input() {
        let concat = rule(&k(C::CONCATENATION)).same_scale;
        assert!(concat.covers(0) && concat.covers(8) && concat.covers(100));
        assert!(rule(&k(C::SPLIT)).same_scale.covers(1));
        assert!(!rule(&k(C::SPLIT)).same_scale.covers(0));
        assert!(!rule(&k(C::CONV_2D)).same_scale.is_same_scale());
        assert!(!rule(&OpKind::Custom("X".into())).same_scale.is_same_scale());
    }

    #[test]
    fn per_channel_kernels_only_where_tfmot_takes_them() {
        let per_axis =
            |kinds: &[C]| tfmot::per_axis_kernel(&kinds.iter().map(|c| k(*c)).collect::<Vec<_>>());
        assert!(per_axis(&[C::CONV_2D]));
        assert!(per_axis(&[C::DEPTHWISE_CONV_2D, C::CONV_2D]));
        assert!(per_axis(&[C::CONV_2D, C::RESHAPE]));
        // A Conv1D, a Dense, a Conv2DTranspose.
        assert!(!per_axis(&[C::EXPAND_DIMS, C::CONV_2D, C::RESHAPE]));
        assert!(!per_axis(&[C::FULLY_CONNECTED]));
        assert!(!per_axis(&[C::TRANSPOSE_CONV]));
    }

    #[test]
    fn batchnorm_folds_into_2d_convs_only() {
        let folds =
            |kinds: &[C]| tfmot::folds_batchnorm(&kinds.iter().map(|c| k(*c)).collect::<Vec<_>>());
        assert!(folds(&[C::CONV_2D]));
        assert!(folds(&[C::DEPTHWISE_CONV_2D]));
        assert!(!folds(&[C::FULLY_CONNECTED]));
        assert!(!folds(&[C::EXPAND_DIMS, C::CONV_2D, C::RESHAPE]));
    }

    #[test]
    fn fixed_outputs_by_type() {
        assert_eq!(
            fixed_output(&k(C::SOFTMAX), DType::INT8),
            Some((1.0 / 256.0, -128))
        );
        assert_eq!(
            fixed_output(&k(C::TANH), DType::INT16),
            Some((1.0 / 32768.0, 0))
        );
        assert_eq!(fixed_output(&k(C::LOG_SOFTMAX), DType::INT16), None);
        assert_eq!(fixed_output(&k(C::ADD), DType::INT8), None);
    }

    #[test]
    fn weights_and_hybrid() {
        let dw = rule(&k(C::DEPTHWISE_CONV_2D));
        assert_eq!(dw.weights.map(|w| w.channel_axis), Some(3));
        assert!(dw.conv_like && dw.hybrid == Hybrid::Weights);
        assert_eq!(
            rule(&k(C::TRANSPOSE_CONV)).weights.map(|w| w.input),
            Some(2)
        );
        assert_eq!(rule(&k(C::LSTM)).hybrid, Hybrid::AnyConstant);
        assert!(!rule(&k(C::BATCH_MATMUL)).conv_like);
    }

    #[test]
    fn crafted_parameters_give_no_range_instead_of_overflowing() {
        assert_eq!(real_range(DType::INT8, 0.5, 0), Some((-64.0, 63.5)));
        assert_eq!(real_range(DType::INT8, 1.0, i64::MAX), None);
        assert_eq!(real_range(DType::INT8, 1.0, i64::MIN), None);
        assert_eq!(real_range(DType::INT8, f32::MAX, -128), None);
        assert_eq!(real_range(DType::INT8, f32::NAN, 0), None);
        assert_eq!(real_range(DType::FLOAT32, 1.0, 0), None);
    }
}
