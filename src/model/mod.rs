//! tflq's own model of a TFLite file: validated, and independent of the
//! flatbuffer bindings but for one private view inside [`Numbers`]. Every
//! index in it was checked by the loader, so the accessors here cannot fail
//! on a loaded model. What is large in a real
//! model stays in the file's bytes and is read when asked: tensor names (a
//! 6,700-op model has 17k of them) and quantization vectors (a per-channel
//! weight has one scale and one 8-byte zero point per channel; see
//! [`Numbers`]). The rest is owned, with the short vectors (shapes,
//! operands) stored inline.

mod dtype;
mod op;
mod quant;

use std::ops::Range;

use serde::Serialize;
use smallvec::SmallVec;

pub use dtype::DType;
pub use op::{Activation, BuiltinCode, CallRole, OpKind};
pub use quant::{
    Calibration, Granularity, Numbers, NumbersIter, QuantDetails, QuantParams, Scalar, scale_ratio,
};

macro_rules! id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// As a vector index.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// Index of a tensor within its subgraph.
    TensorId
);
id!(
    /// Index of an operator within its subgraph (execution order).
    OpId
);
id!(
    /// Index of a subgraph in the model.
    SubgraphId
);
id!(
    /// Index into `Model.buffers`.
    BufferId
);

/// Dimensions of a shape; up to rank 4 they are stored inline.
pub type Dims = SmallVec<[i32; 4]>;

/// An operator's inputs, `None` for an optional input left out (-1 in the
/// file); up to four are stored inline.
pub type Inputs = SmallVec<[Option<TensorId>; 4]>;

/// An operator's outputs; up to four are stored inline.
pub type Outputs = SmallVec<[TensorId; 4]>;

/// A loaded model. Tensor names and quantization vectors are borrowed from
/// the file's bytes (`'a`); everything else is owned.
#[derive(Debug, Clone)]
pub struct Model<'a> {
    /// `Model.version` (always 3 once loaded).
    pub version: u32,
    /// Free-text description (`"MLIR Converted."`).
    pub description: Option<String>,
    /// Size of the whole file in bytes (flatbuffer plus anything appended).
    pub file_len: u64,
    /// The operator code table.
    pub operator_codes: Vec<OperatorCode>,
    /// Subgraphs; index 0 is the main graph.
    pub subgraphs: Vec<Subgraph<'a>>,
    /// Where each buffer's bytes are (never the bytes themselves).
    pub buffers: Vec<Buffer>,
    /// Metadata entries in file order.
    pub metadata: Vec<Metadata>,
    /// Signature definitions.
    pub signatures: Vec<Signature>,
    /// `min_runtime_version` metadata, trimmed at the first NUL.
    pub min_runtime_version: Option<String>,
    /// Decoded `CONVERSION_METADATA`, when present and readable.
    pub conversion: Option<ConversionInfo>,
    /// Number of rev-3d external buffers declared.
    pub external_buffers: usize,
    /// Things that are odd but do not stop the model from being read.
    pub warnings: Vec<String>,
}

/// One entry of the operator code table, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorCode {
    /// What the op is.
    pub kind: OpKind,
    /// Kernel version the op needs.
    pub version: i32,
}

/// A subgraph: tensors, operators in execution order, inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct Subgraph<'a> {
    /// Name (`"main"`), empty when absent.
    pub name: String,
    /// Tensors.
    pub tensors: Vec<Tensor<'a>>,
    /// Operators in the order the runtime executes them.
    pub operators: Vec<Operator>,
    /// Runtime inputs.
    pub inputs: Vec<TensorId>,
    /// Results.
    pub outputs: Vec<TensorId>,
}

/// A tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor<'a> {
    /// Debug name given by the converter, as stored in the file.
    pub name: &'a str,
    /// Static shape (dynamic dims are 1 here and -1 in the signature).
    pub shape: Dims,
    /// Shape with -1 for dynamic dims, when stored.
    pub shape_signature: Option<Dims>,
    /// Element type.
    pub dtype: DType,
    /// Buffer index as stored (0 = none).
    pub buffer: BufferId,
    /// Quantization parameters; `None` when absent or empty.
    pub quantization: Option<QuantParams<'a>>,
    /// Stateful tensor written at run time.
    pub is_variable: bool,
    /// `has_rank` flag (scalar vs unknown rank when the shape is empty).
    pub has_rank: bool,
    /// Carries sparsity parameters (data size is not product(shape)).
    pub sparse: bool,
    /// Rev-3d external buffer id, 0 = none.
    pub external_buffer: u32,
    /// Bytes of constant data: inline, appended after the flatbuffer, or 0.
    pub data_len: u64,
}

impl Tensor<'_> {
    /// A tensor is constant when it has data in the file or in an external buffer.
    pub fn is_constant(&self) -> bool {
        self.data_len > 0 || self.external_buffer != 0
    }

    /// The granularity of its quantization.
    pub fn granularity(&self) -> Granularity {
        self.quantization
            .as_ref()
            .map_or(Granularity::None, QuantParams::granularity)
    }

    /// The single (scale, zero point) when quantized per-tensor.
    pub fn per_tensor(&self) -> Option<(f32, i64)> {
        self.quantization.as_ref().and_then(QuantParams::per_tensor)
    }

    /// Whether its quantization has affine scales.
    pub(crate) fn is_quantized(&self) -> bool {
        self.quantization
            .as_ref()
            .is_some_and(QuantParams::is_affine)
    }

    /// Number of elements of the static shape, if it fits in u64.
    pub fn element_count(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |acc, &d| {
            u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
    }
}

/// An operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// Index into `Model.operator_codes`.
    pub opcode_index: u32,
    /// What it is (copied from the code table for direct matching).
    pub kind: OpKind,
    /// Kernel version (from the code table).
    pub version: i32,
    /// Inputs; `None` where the file says -1 (optional input left out).
    pub inputs: Inputs,
    /// Outputs.
    pub outputs: Outputs,
    /// Internal tensors (LSTM gate parameters).
    pub intermediates: Vec<TensorId>,
    /// Fused activation, for ops whose options carry one.
    pub activation: Option<Activation>,
    /// Subgraphs this op runs (WHILE, IF, CALL_ONCE, CALL, composites).
    pub calls: Vec<(CallRole, SubgraphId)>,
    /// Length of the custom options (inline or past the flatbuffer).
    pub custom_options_len: u64,
}

impl Operator {
    /// Inputs that are present.
    pub fn present_inputs(&self) -> impl Iterator<Item = TensorId> + '_ {
        self.inputs.iter().flatten().copied()
    }
}

/// Location of a buffer's bytes. The loader never reads weight bytes; it only
/// records where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffer {
    /// No data.
    Empty,
    /// Inline `data` vector at this byte range of the file.
    Inline(FileRange),
    /// Appended after the flatbuffer (files past 2 GB): `offset/size` fields.
    Appended(FileRange),
}

/// A byte range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRange {
    /// First byte.
    pub offset: u64,
    /// Length.
    pub len: u64,
}

impl FileRange {
    /// As a `usize` range, when it fits (always on 64-bit hosts).
    pub(crate) fn to_range(self) -> Option<Range<usize>> {
        let start = usize::try_from(self.offset).ok()?;
        let end = start.checked_add(usize::try_from(self.len).ok()?)?;
        Some(start..end)
    }
}

impl Buffer {
    /// Data length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Buffer::Empty => 0,
            Buffer::Inline(r) | Buffer::Appended(r) => r.len,
        }
    }

    /// Whether the buffer has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A metadata entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// Entry name.
    pub name: String,
    /// Buffer holding its value.
    pub buffer: BufferId,
}

/// A signature: user-facing names for a subgraph's inputs and outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// `signature_key` (`"serving_default"`).
    pub key: String,
    /// The subgraph it runs.
    pub subgraph: SubgraphId,
    /// Input name → tensor of that subgraph.
    pub inputs: Vec<(String, TensorId)>,
    /// Output name → tensor of that subgraph.
    pub outputs: Vec<(String, TensorId)>,
}

/// What the `CONVERSION_METADATA` entry records.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionInfo {
    /// TensorFlow version that converted the model.
    pub tensorflow_version: Option<String>,
    /// Source model type (`KERAS_MODEL`, …).
    pub model_type: Option<String>,
    /// Optimization modes by name (`PTQ_FULL_INTEGER`, `QUANTIZATION_AWARE_TRAINING`, …).
    pub optimization_modes: Vec<String>,
    /// Select-TF ops were allowed.
    pub enable_select_tf_ops: bool,
    /// Custom ops were allowed.
    pub allow_custom_ops: bool,
}

impl<'a> Model<'a> {
    /// The subgraph `id`.
    pub fn subgraph(&self, id: SubgraphId) -> &Subgraph<'a> {
        &self.subgraphs[id.index()]
    }

    /// Whether a buffer is stored after the flatbuffer (a >2 GB layout).
    pub fn uses_appended_buffers(&self) -> bool {
        self.buffers
            .iter()
            .any(|b| matches!(b, Buffer::Appended(_)))
    }

    /// Where the bytes of a tensor's constant data are, if in this file.
    pub(crate) fn tensor_data_range(&self, tensor: &Tensor<'_>) -> Option<FileRange> {
        match self.buffers.get(tensor.buffer.index())? {
            Buffer::Empty => None,
            Buffer::Inline(r) | Buffer::Appended(r) => Some(*r),
        }
    }
}

impl<'a> Subgraph<'a> {
    /// The tensor `id`.
    pub fn tensor(&self, id: TensorId) -> &Tensor<'a> {
        &self.tensors[id.index()]
    }

    /// The operator `id`.
    pub fn op(&self, id: OpId) -> &Operator {
        &self.operators[id.index()]
    }

    /// Operator ids in execution order.
    pub fn op_ids(&self) -> impl Iterator<Item = OpId> + '_ {
        (0..self.operators.len()).map(|i| OpId(i as u32))
    }
}

/// Name of a `ModelOptimizationMode` number.
pub(crate) fn optimization_mode_name(mode: i32) -> String {
    match mode {
        1001 => "PTQ_FLOAT16".into(),
        1002 => "PTQ_DYNAMIC_RANGE".into(),
        1003 => "PTQ_FULL_INTEGER".into(),
        1004 => "PTQ_INT16".into(),
        2000 => "QUANTIZATION_AWARE_TRAINING".into(),
        3001 => "RANDOM_SPARSITY".into(),
        3002 => "BLOCK_SPARSITY".into(),
        3003 => "STRUCTURED_SPARSITY".into(),
        n => format!("MODE_{n}"),
    }
}

/// Name of a conversion `ModelType` number.
pub(crate) fn model_type_name(t: i32) -> String {
    match t {
        0 => "NONE".into(),
        1 => "TF_SAVED_MODEL".into(),
        2 => "KERAS_MODEL".into(),
        3 => "TF_CONCRETE_FUNCTIONS".into(),
        4 => "TF_GRAPH_DEF".into(),
        5 => "TF_SESSION".into(),
        6 => "JAX".into(),
        7 => "PYTORCH".into(),
        n => format!("MODEL_TYPE_{n}"),
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// A real model has hundreds of thousands of tensors and the analyses
    /// walk them all: their size is most of the memory a model takes and of
    /// the cache misses in walking it. A quantized tensor was 248 bytes with
    /// its scale, zero point, min and max vectors inline.
    #[test]
    fn a_tensor_stays_small() {
        assert!(
            size_of::<Tensor<'_>>() <= 192,
            "{}",
            size_of::<Tensor<'_>>()
        );
        assert!(size_of::<QuantParams<'_>>() <= 88);
        assert!(size_of::<Operator>() <= 160);
    }
}
