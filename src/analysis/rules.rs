//! The int8/int16 quantization spec as tables: which operands of an op share
//! one scale, which ops have fixed output parameters, where weights and biases
//! sit. Used by the checks in [`super::quant`] and by compare's advice.

use crate::model::{BuiltinCode as C, DType, OpKind};

/// Operand positions of a same-scale op: these inputs and every output must
/// carry the same (scale, zero point).
pub fn same_scale_inputs(kind: &OpKind) -> Option<&'static [usize]> {
    let OpKind::Builtin(code) = kind else {
        return None;
    };
    Some(match *code {
        C::AVERAGE_POOL_2D
        | C::MAX_POOL_2D
        | C::RESHAPE
        | C::SQUEEZE
        | C::EXPAND_DIMS
        | C::TRANSPOSE
        | C::SLICE
        | C::STRIDED_SLICE
        | C::PAD
        | C::MIRROR_PAD
        | C::GATHER
        | C::GATHER_ND
        | C::SPACE_TO_DEPTH
        | C::DEPTH_TO_SPACE
        | C::SPACE_TO_BATCH_ND
        | C::BATCH_TO_SPACE_ND
        | C::RESIZE_BILINEAR
        | C::RESIZE_NEAREST_NEIGHBOR
        | C::TILE
        | C::BROADCAST_TO
        | C::UNPACK
        | C::SPLIT_V
        | C::REDUCE_MAX
        | C::REDUCE_MIN
        | C::REVERSE_V2 => &[0],
        C::PADV2 => &[0, 2],
        C::SPLIT => &[1],
        C::SELECT | C::SELECT_V2 => &[1, 2],
        C::CONCATENATION | C::PACK | C::MAXIMUM | C::MINIMUM | C::ADD_N => {
            &[0, 1, 2, 3, 4, 5, 6, 7]
        }
        _ => return None,
    })
}

/// Whether the op only moves or selects values, so a quantizer on its output
/// is never needed: its output inherits its input's parameters.
pub fn is_same_scale(kind: &OpKind) -> bool {
    same_scale_inputs(kind).is_some()
}

/// The fixed output (scale, zero point) the kernels require, by output type.
pub fn fixed_output(kind: &OpKind, out: DType) -> Option<(f32, i64)> {
    let OpKind::Builtin(code) = kind else {
        return None;
    };
    if out == DType::INT16 {
        return match *code {
            C::LOGISTIC | C::SOFTMAX | C::TANH => Some((1.0 / 32768.0, 0)),
            _ => None,
        };
    }
    if out != DType::INT8 {
        return None;
    }
    match *code {
        C::LOGISTIC | C::SOFTMAX => Some((1.0 / 256.0, -128)),
        C::TANH | C::L2_NORMALIZATION => Some((1.0 / 128.0, 0)),
        C::LOG_SOFTMAX => Some((16.0 / 256.0, 127)),
        _ => None,
    }
}

/// Ops whose output range the converter fixes (so a trained output range on
/// them is ignored).
pub fn has_fixed_output(kind: &OpKind) -> bool {
    fixed_output(kind, DType::INT8).is_some()
}

/// Input positions of (weights, bias, activation input) for ops with weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightOperands {
    /// Activation input.
    pub input: usize,
    /// Weight tensor.
    pub weights: usize,
    /// Optional bias.
    pub bias: Option<usize>,
    /// The per-axis dimension the spec asks for.
    pub channel_axis: i32,
}

/// Where the weights are for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
/// TRANSPOSE_CONV, CONV_3D and BATCH_MATMUL.
pub fn weight_operands(kind: &OpKind) -> Option<WeightOperands> {
    let OpKind::Builtin(code) = kind else {
        return None;
    };
    let w = |input, weights, bias, channel_axis| {
        Some(WeightOperands {
            input,
            weights,
            bias,
            channel_axis,
        })
    };
    match *code {
        C::CONV_2D | C::FULLY_CONNECTED => w(0, 1, Some(2), 0),
        C::DEPTHWISE_CONV_2D => w(0, 1, Some(2), 3),
        C::TRANSPOSE_CONV => w(2, 1, Some(3), 0),
        C::CONV_3D => w(0, 1, Some(2), 4),
        C::BATCH_MATMUL => w(0, 1, None, -1),
        _ => None,
    }
}

/// Ops that only convert between representations.
pub fn is_quantize_or_dequantize(kind: &OpKind) -> bool {
    kind.is(C::QUANTIZE) || kind.is(C::DEQUANTIZE)
}

/// Standalone activation ops the converter fuses into a preceding conv,
/// depthwise conv, pooling or fully connected op when nothing sits between.
pub fn is_fusable_activation(kind: &OpKind) -> bool {
    kind.is(C::RELU) || kind.is(C::RELU6) || kind.is(C::RELU_N1_TO_1) || kind.is(C::RELU_0_TO_1)
}
