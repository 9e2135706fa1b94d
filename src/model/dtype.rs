//! Tensor element types (`TensorType`), with their canonical names and sizes.

use std::fmt;

use serde::Serialize;

/// A tensor element type. Unknown numbers from newer files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DType(pub i8);

const NAMES: [&str; 23] = [
    "FLOAT32",
    "FLOAT16",
    "INT32",
    "UINT8",
    "INT64",
    "STRING",
    "BOOL",
    "INT16",
    "COMPLEX64",
    "INT8",
    "FLOAT64",
    "COMPLEX128",
    "UINT64",
    "RESOURCE",
    "VARIANT",
    "UINT32",
    "UINT16",
    "INT4",
    "BFLOAT16",
    "INT2",
    "UINT4",
    "FLOAT8_E4M3FN",
    "FLOAT8_E5M2",
];

#[allow(missing_docs)]
impl DType {
    pub const FLOAT32: DType = DType(0);
    pub const FLOAT16: DType = DType(1);
    pub const INT32: DType = DType(2);
    pub const UINT8: DType = DType(3);
    pub const INT64: DType = DType(4);
    pub const STRING: DType = DType(5);
    pub const BOOL: DType = DType(6);
    pub const INT16: DType = DType(7);
    pub const INT8: DType = DType(9);
    pub const FLOAT64: DType = DType(10);
    pub const UINT16: DType = DType(16);
    pub const INT4: DType = DType(17);
    pub const BFLOAT16: DType = DType(18);
    pub const INT2: DType = DType(19);
    pub const UINT4: DType = DType(20);
    pub const FLOAT8_E4M3FN: DType = DType(21);
    pub const FLOAT8_E5M2: DType = DType(22);
}

impl DType {
    /// The TFLite enum name (`"INT8"`), or `None` for a number tflq does not know.
    pub fn name(self) -> Option<&'static str> {
        usize::try_from(self.0)
            .ok()
            .and_then(|i| NAMES.get(i).copied())
    }

    /// Floating-point types (float compute when they carry activations).
    pub fn is_float(self) -> bool {
        matches!(self.0, 0 | 1 | 10 | 18 | 21 | 22)
    }

    /// Integer types that quantized compute uses (int2/4/8/16, uint4/8/16).
    pub(crate) fn is_quantizable_int(self) -> bool {
        matches!(self.0, 3 | 7 | 9 | 16 | 17 | 19 | 20)
    }

    /// Bits per element, where fixed.
    pub fn bits(self) -> Option<u32> {
        Some(match self.0 {
            19 => 2,
            17 | 20 => 4,
            3 | 6 | 9 | 21 | 22 => 8,
            1 | 7 | 16 | 18 => 16,
            0 | 2 | 15 => 32,
            4 | 8 | 10 | 12 => 64,
            11 => 128,
            _ => return None,
        })
    }
}

/// `INT8`, or `TYPE_<n>` for an unknown number.
impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "TYPE_{}", self.0),
        }
    }
}

impl Serialize for DType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_unknowns() {
        assert_eq!(DType::INT8.to_string(), "INT8");
        assert_eq!(DType::FLOAT8_E5M2.to_string(), "FLOAT8_E5M2");
        assert_eq!(DType(23).to_string(), "TYPE_23");
        assert_eq!(DType(-1).to_string(), "TYPE_-1");
        assert!(DType::FLOAT16.is_float());
        assert!(!DType::INT32.is_quantizable_int());
        assert_eq!(DType::INT4.bits(), Some(4));
    }
}
