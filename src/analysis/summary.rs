//! Model-level facts: file, subgraphs and signatures with their I/O, the op
//! histogram, and the dtype mix of activations and constants.

use std::collections::BTreeMap;

use crate::model::{ConversionInfo, DType, Model, OpKind, SubgraphId, Tensor, TensorId};

/// A model input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct IoTensor {
    /// User-facing name (from the signature) or the tensor name.
    pub name: String,
    /// Tensor index in its subgraph.
    pub tensor: TensorId,
    /// Element type.
    pub dtype: DType,
    /// Shape, with -1 for dynamic dims when the file records them.
    pub shape: Vec<i32>,
    /// Per-tensor (scale, zero point) when quantized that way.
    pub quantization: Option<(f32, i64)>,
}

impl IoTensor {
    fn new(name: String, tensor: TensorId, t: &Tensor<'_>) -> IoTensor {
        IoTensor {
            name,
            tensor,
            dtype: t.dtype,
            shape: t.shape_signature.as_ref().unwrap_or(&t.shape).to_vec(),
            quantization: t.per_tensor(),
        }
    }
}

/// One subgraph in brief.
#[derive(Debug, Clone, PartialEq)]
pub struct SubgraphSummary {
    /// Index.
    pub index: SubgraphId,
    /// Name.
    pub name: String,
    /// Operator count.
    pub operators: usize,
    /// Tensor count.
    pub tensors: usize,
    /// Inputs.
    pub inputs: Vec<IoTensor>,
    /// Outputs.
    pub outputs: Vec<IoTensor>,
}

/// One signature in brief.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureSummary {
    /// Signature key.
    pub key: String,
    /// Subgraph it runs.
    pub subgraph: SubgraphId,
    /// Inputs by signature name.
    pub inputs: Vec<IoTensor>,
    /// Outputs by signature name.
    pub outputs: Vec<IoTensor>,
}

/// Count and bytes of constants of one dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstantBytes {
    /// Element type.
    pub dtype: DType,
    /// Number of constant tensors.
    pub tensors: usize,
    /// Bytes of their data.
    pub bytes: u64,
}

/// Model-level facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// File size in bytes.
    pub file_len: u64,
    /// Schema version.
    pub version: u32,
    /// Description string.
    pub description: Option<String>,
    /// `min_runtime_version` metadata.
    pub min_runtime_version: Option<String>,
    /// `CONVERSION_METADATA`.
    pub conversion: Option<ConversionInfo>,
    /// Metadata entry names.
    pub metadata: Vec<String>,
    /// Subgraphs.
    pub subgraphs: Vec<SubgraphSummary>,
    /// Signatures.
    pub signatures: Vec<SignatureSummary>,
    /// Operators by kind over all subgraphs, most frequent first (ties by name).
    pub op_histogram: Vec<(OpKind, usize)>,
    /// Activation (non-constant) tensors by dtype, in dtype order.
    pub activation_dtypes: Vec<(DType, usize)>,
    /// Constants by dtype, in dtype order.
    pub constants: Vec<ConstantBytes>,
    /// Whether some buffer is stored past the flatbuffer (>2 GB layout).
    pub appended_buffers: bool,
    /// Rev-3d external buffers declared.
    pub external_buffers: usize,
    /// Loader warnings.
    pub warnings: Vec<String>,
}

/// Summarise a model.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "counts of in-memory elements, bounded by their number"
)]
pub(crate) fn summarize(model: &Model) -> Summary {
    let subgraphs = model
        .subgraphs
        .iter()
        .enumerate()
        .map(|(i, sg)| SubgraphSummary {
            index: SubgraphId(i as u32),
            name: sg.name.clone(),
            operators: sg.operators.len(),
            tensors: sg.tensors.len(),
            inputs: sg
                .inputs
                .iter()
                .map(|t| IoTensor::new(sg.tensor(*t).name.to_owned(), *t, sg.tensor(*t)))
                .collect(),
            outputs: sg
                .outputs
                .iter()
                .map(|t| IoTensor::new(sg.tensor(*t).name.to_owned(), *t, sg.tensor(*t)))
                .collect(),
        })
        .collect();
    let signatures = model
        .signatures
        .iter()
        .map(|s| {
            let sg = model.subgraph(s.subgraph);
            let io = |v: &[(String, TensorId)]| {
                v.iter()
                    .map(|(n, t)| IoTensor::new(n.clone(), *t, sg.tensor(*t)))
                    .collect()
            };
            SignatureSummary {
                key: s.key.clone(),
                subgraph: s.subgraph,
                inputs: io(&s.inputs),
                outputs: io(&s.outputs),
            }
        })
        .collect();

    // Counted by operator-code index and by dtype byte, then merged by kind
    // (a table may list one kind twice) and by dtype: no map lookup per element.
    let mut per_code = vec![0usize; model.operator_codes.len()];
    let mut acts = [0usize; 256];
    let mut consts = [(0usize, 0u64); 256];
    for sg in &model.subgraphs {
        for op in &sg.operators {
            if let Some(n) = per_code.get_mut(op.opcode_index as usize) {
                *n += 1;
            }
        }
        for t in &sg.tensors {
            let slot = usize::from(t.dtype.0 as u8);
            if t.is_constant() {
                let e = &mut consts[slot];
                e.0 += 1;
                e.1 = e.1.saturating_add(t.data_len);
            } else {
                acts[slot] += 1;
            }
        }
    }
    let mut hist: BTreeMap<&OpKind, usize> = BTreeMap::new();
    for (code, n) in model.operator_codes.iter().zip(per_code) {
        if n > 0 {
            *hist.entry(&code.kind).or_default() += n;
        }
    }
    // Every dtype number in ascending order, with its slot.
    let dtypes = || (i8::MIN..=i8::MAX).map(|d| (DType(d), usize::from(d as u8)));
    let mut op_histogram: Vec<(OpKind, usize)> =
        hist.into_iter().map(|(k, n)| (k.clone(), n)).collect();
    op_histogram.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
    });

    Summary {
        file_len: model.file_len,
        version: model.version,
        description: model.description.clone(),
        min_runtime_version: model.min_runtime_version.clone(),
        conversion: model.conversion.clone(),
        metadata: model.metadata.iter().map(|m| m.name.clone()).collect(),
        subgraphs,
        signatures,
        op_histogram,
        activation_dtypes: dtypes()
            .filter(|&(_, s)| acts[s] > 0)
            .map(|(dtype, s)| (dtype, acts[s]))
            .collect(),
        constants: dtypes()
            .filter(|&(_, s)| consts[s].0 > 0)
            .map(|(dtype, s)| ConstantBytes {
                dtype,
                tensors: consts[s].0,
                bytes: consts[s].1,
            })
            .collect(),
        appended_buffers: model.uses_appended_buffers(),
        external_buffers: model.external_buffers,
        warnings: model.warnings.clone(),
    }
}
