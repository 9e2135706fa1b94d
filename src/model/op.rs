//! Operator kinds: builtin codes with their canonical names, custom ops, and
//! the option values tflq reads (fused activation, called subgraphs).

use std::fmt;

use serde::Serialize;

#[path = "op_names.rs"]
mod names;

/// A builtin operator code, as resolved by `max(builtin_code, deprecated_builtin_code)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuiltinCode(pub i32);

macro_rules! codes {
    ($($name:ident = $n:expr),* $(,)?) => {
        impl BuiltinCode {
            $(
                #[allow(missing_docs)]
                pub const $name: BuiltinCode = BuiltinCode($n);
            )*
        }
    };
}

codes! {
    ADD = 0, AVERAGE_POOL_2D = 1, CONCATENATION = 2, CONV_2D = 3, DEPTHWISE_CONV_2D = 4,
    DEPTH_TO_SPACE = 5, DEQUANTIZE = 6, EMBEDDING_LOOKUP = 7, FULLY_CONNECTED = 9,
    L2_NORMALIZATION = 11, L2_POOL_2D = 12, LOGISTIC = 14, LSTM = 16, MAX_POOL_2D = 17,
    MUL = 18, RELU = 19, RELU_N1_TO_1 = 20, RELU6 = 21, RESHAPE = 22, RESIZE_BILINEAR = 23,
    RNN = 24, SOFTMAX = 25, SPACE_TO_DEPTH = 26, SVDF = 27, TANH = 28, CALL = 31, CUSTOM = 32,
    PAD = 34, UNIDIRECTIONAL_SEQUENCE_RNN = 35, GATHER = 36, BATCH_TO_SPACE_ND = 37,
    SPACE_TO_BATCH_ND = 38, TRANSPOSE = 39, MEAN = 40, SUB = 41, DIV = 42, SQUEEZE = 43,
    UNIDIRECTIONAL_SEQUENCE_LSTM = 44, STRIDED_SLICE = 45, BIDIRECTIONAL_SEQUENCE_RNN = 46,
    SPLIT = 49, LOG_SOFTMAX = 50, BIDIRECTIONAL_SEQUENCE_LSTM = 52, CAST = 53, PRELU = 54,
    MAXIMUM = 55, MINIMUM = 57, PADV2 = 60, SELECT = 64, SLICE = 65, TRANSPOSE_CONV = 67,
    TILE = 69, EXPAND_DIMS = 70, SUM = 74, FAKE_QUANT = 80, REDUCE_PROD = 81, REDUCE_MAX = 82,
    PACK = 83, UNPACK = 88, REDUCE_MIN = 89, RESIZE_NEAREST_NEIGHBOR = 97, LEAKY_RELU = 98,
    MIRROR_PAD = 100, SPLIT_V = 102, REVERSE_V2 = 105, ADD_N = 106, GATHER_ND = 107,
    QUANTIZE = 114, HARD_SWISH = 117, IF = 118, WHILE = 119, SCATTER_ND = 122,
    SELECT_V2 = 123, DENSIFY = 124, BATCH_MATMUL = 126, PLACEHOLDER_FOR_GREATER_OP_CODES = 127,
    CALL_ONCE = 129, BROADCAST_TO = 130, CONV_3D = 132, GELU = 150,
    DYNAMIC_UPDATE_SLICE = 151, RELU_0_TO_1 = 152, STABLEHLO_COMPOSITE = 206,
}

impl BuiltinCode {
    /// The canonical TFLite name (`"CONV_2D"`), or `None` for a code this
    /// version of tflq does not know (a newer converter) and for the 127
    /// placeholder.
    pub fn name(self) -> Option<&'static str> {
        if self == Self::PLACEHOLDER_FOR_GREATER_OP_CODES {
            return None;
        }
        usize::try_from(self.0)
            .ok()
            .and_then(|i| names::BUILTIN_NAMES.get(i).copied())
    }

    /// Number of builtin codes tflq knows by name (0 ..= 209, placeholder included).
    pub const KNOWN: usize = names::BUILTIN_NAMES.len();
}

/// What an operator is: a builtin, a custom op named by its `custom_code`, or a
/// code tflq does not know.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// A builtin operator with a known name.
    Builtin(BuiltinCode),
    /// Op code 32 with its `custom_code` (`Flex…` for Select-TF ops).
    Custom(String),
    /// A code outside tflq's table (kept as the number).
    Unknown(i32),
}

impl OpKind {
    /// Resolve the stored pair of code fields and the custom code.
    pub(crate) fn resolve(deprecated: i8, builtin: i32, custom_code: Option<&str>) -> OpKind {
        let code = BuiltinCode(builtin.max(i32::from(deprecated)));
        if code == BuiltinCode::CUSTOM {
            return OpKind::Custom(custom_code.unwrap_or("").to_owned());
        }
        match code.name() {
            Some(_) => OpKind::Builtin(code),
            None => OpKind::Unknown(code.0),
        }
    }

    /// The resolved builtin code (32 for custom ops).
    pub fn code(&self) -> BuiltinCode {
        match self {
            OpKind::Builtin(c) => *c,
            OpKind::Custom(_) => BuiltinCode::CUSTOM,
            OpKind::Unknown(n) => BuiltinCode(*n),
        }
    }

    /// Whether this is the builtin `code`.
    pub fn is(&self, code: BuiltinCode) -> bool {
        matches!(self, OpKind::Builtin(c) if *c == code)
    }
}

/// Canonical text: `CONV_2D`, `CUSTOM:FlexBincount`, `UNKNOWN_OP_250`.
impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpKind::Builtin(c) => f.write_str(c.name().unwrap_or("UNKNOWN")),
            OpKind::Custom(name) => write!(f, "CUSTOM:{name}"),
            OpKind::Unknown(n) => write!(f, "UNKNOWN_OP_{n}"),
        }
    }
}

impl Serialize for OpKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A fused activation function (`ActivationFunctionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// No activation (stored 0).
    None,
    /// ReLU.
    Relu,
    /// Clamp to [-1, 1].
    ReluN1To1,
    /// Clamp to [0, 6].
    Relu6,
    /// tanh.
    Tanh,
    /// Sign bit.
    SignBit,
    /// A value tflq does not know.
    Unknown(i8),
}

impl Activation {
    /// From the stored byte.
    pub(crate) fn from_raw(v: i8) -> Activation {
        match v {
            0 => Activation::None,
            1 => Activation::Relu,
            2 => Activation::ReluN1To1,
            3 => Activation::Relu6,
            4 => Activation::Tanh,
            5 => Activation::SignBit,
            n => Activation::Unknown(n),
        }
    }

    /// The schema name (`RELU6`).
    pub fn name(self) -> String {
        match self {
            Activation::None => "NONE".into(),
            Activation::Relu => "RELU".into(),
            Activation::ReluN1To1 => "RELU_N1_TO_1".into(),
            Activation::Relu6 => "RELU6".into(),
            Activation::Tanh => "TANH".into(),
            Activation::SignBit => "SIGN_BIT".into(),
            Activation::Unknown(n) => format!("ACTIVATION_{n}"),
        }
    }
}

impl Serialize for Activation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// Why an operator refers to another subgraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallRole {
    /// WHILE condition.
    Cond,
    /// WHILE body.
    Body,
    /// IF then-branch.
    Then,
    /// IF else-branch.
    Else,
    /// CALL_ONCE initialiser.
    Init,
    /// CALL target.
    Call,
    /// STABLEHLO_COMPOSITE decomposition.
    Decomposition,
}

impl CallRole {
    /// The snake-case name used in reports and JSON (`body`).
    pub fn name(self) -> &'static str {
        match self {
            CallRole::Cond => "cond",
            CallRole::Body => "body",
            CallRole::Then => "then",
            CallRole::Else => "else",
            CallRole::Init => "init",
            CallRole::Call => "call",
            CallRole::Decomposition => "decomposition",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_rule_and_names() {
        // Old files store the code only in the 7-bit field.
        assert_eq!(OpKind::resolve(4, 0, None).to_string(), "DEPTHWISE_CONV_2D");
        // New writers store 127 there for codes past 127.
        assert_eq!(OpKind::resolve(127, 150, None).to_string(), "GELU");
        assert_eq!(
            OpKind::resolve(32, 32, Some("FlexBincount")).to_string(),
            "CUSTOM:FlexBincount"
        );
        assert_eq!(OpKind::resolve(127, 250, None), OpKind::Unknown(250));
        assert_eq!(OpKind::resolve(127, 127, None), OpKind::Unknown(127));
        assert_eq!(BuiltinCode(209).name(), Some("STABLEHLO_CASE"));
        assert_eq!(BuiltinCode::KNOWN, 210);
        assert_eq!(BuiltinCode(-3).name(), None);
    }

    #[test]
    fn named_constants_match_the_table() {
        for (code, name) in [
            (BuiltinCode::QUANTIZE, "QUANTIZE"),
            (BuiltinCode::DEQUANTIZE, "DEQUANTIZE"),
            (BuiltinCode::CONV_2D, "CONV_2D"),
            (
                BuiltinCode::UNIDIRECTIONAL_SEQUENCE_LSTM,
                "UNIDIRECTIONAL_SEQUENCE_LSTM",
            ),
            (BuiltinCode::STABLEHLO_COMPOSITE, "STABLEHLO_COMPOSITE"),
            (BuiltinCode::RELU_0_TO_1, "RELU_0_TO_1"),
            (BuiltinCode::CALL_ONCE, "CALL_ONCE"),
            (BuiltinCode::BATCH_MATMUL, "BATCH_MATMUL"),
        ] {
            assert_eq!(code.name(), Some(name));
        }
    }
}
