//! Quantization parameters of a tensor, exactly as stored, and their reading:
//! none, per-tensor, per-axis along a dimension, or blockwise.

use smallvec::SmallVec;

use super::TensorId;

/// The stored quantization table of a tensor (only kept when `scale` is
/// non-empty, or min/max or a details union are present).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuantParams {
    /// Scales: one (per-tensor) or one per slice of `quantized_dimension`
    /// (up to four are stored inline).
    pub scale: SmallVec<[f32; 4]>,
    /// Zero points, as many as scales in a valid file (up to two inline).
    pub zero_point: SmallVec<[i64; 2]>,
    /// The axis the per-axis vectors run along.
    pub quantized_dimension: i32,
    /// Calibration minimums (written only by calibration-stage tools).
    pub min: Vec<f32>,
    /// Calibration maximums.
    pub max: Vec<f32>,
    /// The details union, when present (its scales live elsewhere). Rare,
    /// so boxed to keep every quantized tensor small.
    pub details: Option<Box<QuantDetails>>,
}

/// The `QuantizationDetails` union.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantDetails {
    /// Opaque custom quantization of this many bytes.
    Custom {
        /// Byte length of the custom blob.
        bytes: usize,
    },
    /// Block-wise: scales (and zero points) are other tensors.
    Blockwise {
        /// Tensor holding the scales.
        scales: Option<TensorId>,
        /// Tensor holding the zero points (`None`: all zero).
        zero_points: Option<TensorId>,
        /// Elements per block.
        block_size: i32,
    },
    /// Multi-axis block-wise.
    MultiAxis {
        /// Tensor holding the scales.
        scales: Option<TensorId>,
        /// Tensor holding the zero points.
        zero_points: Option<TensorId>,
        /// Elements per block.
        block_size: i32,
        /// The quantized axes.
        quantized_dimensions: Vec<i32>,
    },
    /// A union tag this version of tflq does not know.
    Unknown {
        /// The stored tag.
        tag: u8,
    },
}

/// How a tensor is quantized, read from its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Granularity {
    /// Not quantized (no scale).
    None,
    /// min/max recorded but no scale: calibrated, not quantized.
    Calibrated,
    /// One scale for the tensor.
    PerTensor,
    /// One scale per slice along `axis`.
    PerAxis {
        /// The quantized dimension.
        axis: i32,
        /// Number of scales.
        count: usize,
    },
    /// Block-wise quantization (scales in other tensors).
    Blockwise {
        /// Elements per block.
        block_size: i32,
    },
    /// Custom or unknown details.
    Other,
}

impl QuantParams {
    /// Read the granularity. A details union overrides the plain vectors.
    pub fn granularity(&self) -> Granularity {
        match self.details.as_deref() {
            Some(QuantDetails::Blockwise { block_size, .. })
            | Some(QuantDetails::MultiAxis { block_size, .. }) => {
                return Granularity::Blockwise {
                    block_size: *block_size,
                };
            }
            Some(QuantDetails::Custom { .. }) | Some(QuantDetails::Unknown { .. }) => {
                return Granularity::Other;
            }
            None => {}
        }
        match self.scale.len() {
            0 if self.min.is_empty() && self.max.is_empty() => Granularity::None,
            0 => Granularity::Calibrated,
            1 => Granularity::PerTensor,
            n => Granularity::PerAxis {
                axis: self.quantized_dimension,
                count: n,
            },
        }
    }

    /// Whether the tensor carries affine quantization (a non-empty scale).
    pub fn is_affine(&self) -> bool {
        !self.scale.is_empty() && self.details.is_none()
    }

    /// The single (scale, zero point) of a per-tensor quantized tensor.
    pub fn per_tensor(&self) -> Option<(f32, i64)> {
        match (self.scale.as_slice(), self.zero_point.as_slice()) {
            ([s], [z]) if self.details.is_none() => Some((*s, *z)),
            ([s], []) if self.details.is_none() => Some((*s, 0)),
            _ => None,
        }
    }

    /// Smallest and largest scale.
    pub fn scale_range(&self) -> Option<(f32, f32)> {
        let mut it = self.scale.iter().copied();
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), s| (lo.min(s), hi.max(s))))
    }
}

#[cfg(test)]
mod tests {
    use smallvec::smallvec;

    use super::*;

    #[test]
    fn granularity_reading() {
        let mut q = QuantParams::default();
        assert_eq!(q.granularity(), Granularity::None);
        q.min = vec![-1.0];
        q.max = vec![1.0];
        assert_eq!(q.granularity(), Granularity::Calibrated);
        q.scale = smallvec![0.5];
        q.zero_point = smallvec![3];
        assert_eq!(q.granularity(), Granularity::PerTensor);
        assert_eq!(q.per_tensor(), Some((0.5, 3)));
        q.scale = smallvec![0.5, 0.25, 2.0];
        q.zero_point = smallvec![0, 0, 0];
        q.quantized_dimension = 3;
        assert_eq!(q.granularity(), Granularity::PerAxis { axis: 3, count: 3 });
        assert_eq!(q.scale_range(), Some((0.25, 2.0)));
        assert_eq!(q.per_tensor(), None);
        q.details = Some(Box::new(QuantDetails::Blockwise {
            scales: None,
            zero_points: None,
            block_size: 32,
        }));
        assert_eq!(q.granularity(), Granularity::Blockwise { block_size: 32 });
        assert!(!q.is_affine());
    }
}
