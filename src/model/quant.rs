//! Quantization parameters of a tensor, exactly as stored, and their reading:
//! none, per-tensor, per-axis along a dimension, or blockwise.

use super::TensorId;

/// A numeric vector of the file (scales, zero points, min/max), read where
/// it lies: a per-channel tensor of a real model carries one scale and one
/// 8-byte zero point per channel, and copying them out would cost more than
/// reading everything else. Values are decoded on access; the loader has
/// checked that the whole vector lies inside the file.
#[derive(Clone, Copy)]
pub struct Numbers<'a, T>(Repr<'a, T>);

/// The element types of [`Numbers`]: the file's little-endian scalars.
pub trait Scalar<'a>: planus::VectorRead<'a> + Copy {}

impl<'a> Scalar<'a> for f32 {}
impl<'a> Scalar<'a> for i64 {}

// The loader's view of the mapped vector. This is the one type outside the
// loader that holds a flatbuffer reader: it is private, and only the loader
// makes one (`Numbers::from_file`).
#[derive(Clone, Copy)]
enum Repr<'a, T> {
    File(planus::Vector<'a, T>),
    Slice(&'a [T]),
}

impl<'a, T> Numbers<'a, T>
where
    T: Scalar<'a>,
{
    /// A vector the loader validated in the file.
    pub(crate) fn from_file(v: planus::Vector<'a, T>) -> Self {
        Numbers(Repr::File(v))
    }

    /// Values held elsewhere (tests, hand-built models).
    pub const fn from_slice(values: &'a [T]) -> Self {
        Numbers(Repr::Slice(values))
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::File(v) => v.len(),
            Repr::Slice(s) => s.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `i`.
    pub fn get(&self, i: usize) -> Option<T> {
        match &self.0 {
            // In range, the value was checked by the loader's bounds check
            // of the whole vector.
            Repr::File(v) => v.get(i),
            Repr::Slice(s) => s.get(i).copied(),
        }
    }

    /// The first value.
    pub fn first(&self) -> Option<T> {
        self.get(0)
    }

    /// The values in order, decoded one by one.
    pub fn iter(&self) -> NumbersIter<'a, T> {
        NumbersIter(match self.0 {
            Repr::File(v) => IterRepr::File(v, 0),
            Repr::Slice(s) => IterRepr::Slice(s.iter()),
        })
    }

    /// The values, copied out.
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }
}

/// The stored quantization table of a tensor (only kept when `scale` is
/// non-empty, or min/max or a details union are present).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuantParams<'a> {
    /// Scales: one (per-tensor) or one per slice of `quantized_dimension`.
    pub scale: Numbers<'a, f32>,
    /// Zero points, as many as scales in a valid file.
    pub zero_point: Numbers<'a, i64>,
    /// The axis the per-axis vectors run along.
    pub quantized_dimension: i32,
    /// Calibration minimums and maximums, written only by calibration-stage
    /// tools: rare, so boxed to keep every quantized tensor small.
    pub calibration: Option<Box<Calibration<'a>>>,
    /// The details union, when present (its scales live elsewhere). Rare,
    /// so boxed to keep every quantized tensor small.
    pub details: Option<Box<QuantDetails>>,
}

/// Calibration ranges of a tensor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calibration<'a> {
    /// Minimums.
    pub min: Numbers<'a, f32>,
    /// Maximums.
    pub max: Numbers<'a, f32>,
}

/// The `QuantizationDetails` union.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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

impl<'a, T> Default for Numbers<'a, T> {
    fn default() -> Self {
        Numbers(Repr::Slice(&[]))
    }
}

impl<'a, T> std::fmt::Debug for Numbers<'a, T>
where
    T: Scalar<'a> + std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, T> PartialEq for Numbers<'a, T>
where
    T: Scalar<'a> + PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<'a, T> IntoIterator for Numbers<'a, T>
where
    T: Scalar<'a>,
{
    type Item = T;
    type IntoIter = NumbersIter<'a, T>;

    fn into_iter(self) -> NumbersIter<'a, T> {
        self.iter()
    }
}

/// Iterator over [`Numbers`].
#[derive(Clone)]
pub struct NumbersIter<'a, T>(IterRepr<'a, T>);

#[derive(Clone)]
enum IterRepr<'a, T> {
    // By index: planus's own iterator re-slices the vector at every step,
    // several times the work of one bounds-checked read, and per-channel
    // checks read millions of values.
    File(planus::Vector<'a, T>, usize),
    Slice(std::slice::Iter<'a, T>),
}

impl<T> std::fmt::Debug for NumbersIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NumbersIter")
    }
}

impl<'a, T> Iterator for NumbersIter<'a, T>
where
    T: Scalar<'a>,
{
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match &mut self.0 {
            IterRepr::File(v, i) => {
                let x = v.get(*i)?;
                *i = i.saturating_add(1);
                Some(x)
            }
            IterRepr::Slice(it) => it.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::File(v, i) => {
                let n = v.len().saturating_sub(*i);
                (n, Some(n))
            }
            IterRepr::Slice(it) => it.size_hint(),
        }
    }
}

impl<'a, T> ExactSizeIterator for NumbersIter<'a, T> where T: Scalar<'a> {}

/// How a tensor is quantized, read from its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
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

impl<'a> QuantParams<'a> {
    /// Calibration minimums (empty when none).
    pub fn min(&self) -> Numbers<'a, f32> {
        self.calibration.as_ref().map(|c| c.min).unwrap_or_default()
    }

    /// Calibration maximums (empty when none).
    pub fn max(&self) -> Numbers<'a, f32> {
        self.calibration.as_ref().map(|c| c.max).unwrap_or_default()
    }

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
            0 if self.min().is_empty() && self.max().is_empty() => Granularity::None,
            0 => Granularity::Calibrated,
            1 => Granularity::PerTensor,
            n => Granularity::PerAxis {
                axis: self.quantized_dimension,
                count: n,
            },
        }
    }

    /// Whether the tensor carries affine quantization (a non-empty scale).
    pub(crate) fn is_affine(&self) -> bool {
        !self.scale.is_empty() && self.details.is_none()
    }

    /// The single (scale, zero point) of a per-tensor quantized tensor.
    pub fn per_tensor(&self) -> Option<(f32, i64)> {
        if self.details.is_some() || self.scale.len() != 1 || self.zero_point.len() > 1 {
            return None;
        }
        Some((self.scale.first()?, self.zero_point.first().unwrap_or(0)))
    }

    /// Smallest and largest scale.
    pub(crate) fn scale_range(&self) -> Option<(f32, f32)> {
        let mut it = self.scale.iter();
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), s| (lo.min(s), hi.max(s))))
    }
}

/// A requantize's output scale over its input scale, when both are
/// per-tensor. Inspect, compare's advice and the JSON report all use it.
pub fn scale_ratio(from: Option<(f32, i64)>, to: Option<(f32, i64)>) -> Option<f32> {
    from.zip(to).map(|(a, b)| b.0 / a.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granularity_reading() {
        let mut q = QuantParams::default();
        assert_eq!(q.granularity(), Granularity::None);
        q.calibration = Some(Box::new(Calibration {
            min: Numbers::from_slice(&[-1.0]),
            max: Numbers::from_slice(&[1.0]),
        }));
        assert_eq!(q.granularity(), Granularity::Calibrated);
        q.scale = Numbers::from_slice(&[0.5]);
        q.zero_point = Numbers::from_slice(&[3]);
        assert_eq!(q.granularity(), Granularity::PerTensor);
        assert_eq!(q.per_tensor(), Some((0.5, 3)));
        q.scale = Numbers::from_slice(&[0.5, 0.25, 2.0]);
        q.zero_point = Numbers::from_slice(&[0, 0, 0]);
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
