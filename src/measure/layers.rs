//! A converted model against the layer outputs of the model it was converted
//! from: which tensor carries each layer's output, and the running error of
//! those tensors against the source framework's own values.
//!
//! `tflq.keras.conversion_gap` runs a tf-keras QAT model (its fake-quant
//! outputs, what training saw) and the converted file on the same samples;
//! this module says which tensor of the file to read for each layer, by
//! tflq's layer attribution (the op's `layer`, as `inspect` gives it), and
//! folds each (layer output, tensor) pair into [`Sums`] one sample at a
//! time. Nothing here runs a model or knows the framework.

use std::collections::{BTreeSet, HashMap};

use super::Decode;
use super::stats::{Metrics, Sums};
use crate::analysis::{Compute, Inspection};
use crate::graph::Graph;
use crate::model::{DType, Model, OpId, TensorId};

/// The tensor that carries one layer's output in a converted model.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerOutput {
    /// The layer (as tflq attributes ops: `quant_` wrappers named by the
    /// layer they wrap).
    pub layer: String,
    /// The op that writes it: the layer's last compute op in execution
    /// order, or its last QUANTIZE/DEQUANTIZE when it has no compute op (a
    /// QuantizeLayer).
    pub op: OpId,
    /// That op's name (`CONV_2D`).
    pub opcode: String,
    /// Its first output.
    pub tensor: TensorId,
    /// The tensor's type.
    pub dtype: DType,
    /// Scale and zero point of a per-tensor quantized tensor.
    pub quantization: Option<(f32, i64)>,
    /// Layers the op's output name mentions after `layer` that no op of
    /// their own carries: folded into this op (a BatchNormalization into its
    /// convolution).
    pub folded: Vec<String>,
}

/// The output tensor of every layer the main subgraph names, in execution
/// order of those tensors' ops.
pub fn layer_outputs(model: &Model<'_>, insp: &Inspection) -> Vec<LayerOutput> {
    let (Some(sg), Some(sq)) = (model.subgraphs.first(), insp.subgraphs.first()) else {
        return Vec::new();
    };
    let order = Graph::new(sg).execution_order();
    // Per layer: (its last compute op, its last conversion op), and where
    // each layer's slot is (lookups stay linear in ops).
    let mut last: Vec<(String, Option<OpId>, Option<OpId>)> = Vec::new();
    let mut slot_of: HashMap<&str, usize> = HashMap::new();
    let mut owners: BTreeSet<&str> = BTreeSet::new();
    for &op in &order {
        let Some(info) = sq.ops.get(op.index()) else {
            continue;
        };
        let Some(layer) = info.layer.as_deref() else {
            continue;
        };
        if sg.op(op).outputs.is_empty() {
            continue;
        }
        owners.insert(layer);
        let slot = *slot_of.entry(layer).or_insert_with(|| {
            last.push((layer.to_owned(), None, None));
            last.len() - 1
        });
        if info.compute == Compute::Convert {
            last[slot].2 = Some(op);
        } else {
            last[slot].1 = Some(op);
        }
    }
    let mut rank = vec![usize::MAX; sg.operators.len()];
    for (i, op) in order.iter().enumerate() {
        if let Some(r) = rank.get_mut(op.index()) {
            *r = i;
        }
    }
    let position = |op: OpId| rank.get(op.index()).copied().unwrap_or(usize::MAX);
    let mut out: Vec<LayerOutput> = last
        .into_iter()
        .filter_map(|(layer, compute, convert)| {
            let op = compute.or(convert)?;
            let tensor = *sg.op(op).outputs.first()?;
            let t = sg.tensor(tensor);
            let quantization = t
                .quantization
                .as_ref()
                .filter(|q| q.is_affine() && q.scale.len() == 1)
                .and_then(|q| Some((q.scale.get(0)?, q.zero_point.get(0).unwrap_or(0))));
            let folded = sq.ops[op.index()]
                .layers
                .iter()
                .skip(1)
                .filter(|l| !owners.contains(l.as_str()))
                .cloned()
                .collect();
            Some(LayerOutput {
                layer,
                op,
                opcode: sg.op(op).kind.to_string(),
                tensor,
                dtype: t.dtype,
                quantization,
                folded,
            })
        })
        .collect();
    out.sort_by_key(|o| position(o.op));
    out
}

/// The running error of one tensor of a model against reference values from
/// elsewhere, over every sample added.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorError {
    decode: Decode,
    /// The tensor's scale when it is quantized per tensor (for RMSE / scale).
    pub scale: Option<f32>,
    /// The sums so far (reference: the values given; measured: the tensor).
    pub sums: Sums,
}

impl TensorError {
    /// Start empty for tensor `tensor` of the main subgraph, or `None` when
    /// the model has no such tensor of known size.
    pub fn new(model: &Model<'_>, tensor: TensorId) -> Option<TensorError> {
        let decode = Decode::of(model, tensor)?;
        let scale = (decode.scale.len() == 1).then(|| decode.scale[0]);
        Some(TensorError {
            decode,
            scale,
            sums: Sums::default(),
        })
    }

    /// Add one sample: `reference`, the little-endian float32 values the
    /// source framework computed, and `measured`, the tensor's bytes as the
    /// interpreter holds them (dequantized here with the tensor's scale and
    /// zero point).
    pub fn add(&mut self, reference: &[u8], measured: &[u8]) -> Result<(), String> {
        let mut m = Vec::new();
        self.decode.decode(measured, &mut m)?;
        if reference.len() != m.len().saturating_mul(4) {
            return Err(format!(
                "{} reference values for a tensor of {} elements",
                reference.len() / 4,
                m.len()
            ));
        }
        let r: Vec<f32> = reference
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        self.sums.add(&r, &m);
        Ok(())
    }

    /// The metrics so far, or `None` before the first sample.
    pub fn metrics(&self) -> Option<Metrics> {
        self.sums.metrics(self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name);
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_fused_conv_carries_the_layers_folded_into_it() {
        let bytes = fixture("qat_full.tflite");
        let model = crate::load(&bytes).unwrap();
        let insp = crate::analysis::inspect(&model);
        let outs = layer_outputs(&model, &insp);
        let names: Vec<&str> = outs.iter().map(|o| o.layer.as_str()).collect();
        assert_eq!(names.first(), Some(&"quantize_layer"), "{names:?}");
        assert_eq!(outs[0].opcode, "QUANTIZE");
        // Every layer appears once, and the folded ones are nobody's.
        let set: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(set.len(), names.len());
        for o in &outs {
            for f in &o.folded {
                assert!(!set.contains(f.as_str()), "{f} folded and carried");
            }
            if o.opcode != "DEQUANTIZE" {
                assert!(o.quantization.is_some(), "{} is not int8", o.layer);
            }
        }
        let relu1 = outs.iter().find(|o| o.layer == "relu1").unwrap();
        assert_eq!(
            (relu1.opcode.as_str(), &relu1.folded[..]),
            ("CONV_2D", &["bn1".to_owned(), "conv1".to_owned()][..])
        );
        // The flatten's RESHAPE names conv2 too, which has its own op.
        assert_eq!(
            names,
            [
                "quantize_layer",
                "relu1",
                "pool1",
                "conv2",
                "flatten",
                "fc1",
                "fc2",
                "softmax"
            ]
        );
    }

    #[test]
    fn the_error_is_measured_after_dequantizing() {
        let bytes = fixture("qat_full.tflite");
        let model = crate::load(&bytes).unwrap();
        let insp = crate::analysis::inspect(&model);
        let first = &layer_outputs(&model, &insp)[0];
        let (scale, zero) = first.quantization.unwrap();
        let mut e = TensorError::new(&model, first.tensor).unwrap();
        let n = usize::try_from(
            model.subgraphs[0]
                .tensor(first.tensor)
                .element_count()
                .unwrap(),
        )
        .unwrap();
        // Every element one step above the zero point: the reference is
        // `scale`, then half a step off.
        let measured = vec![(zero + 1) as i8 as u8; n];
        let exact: Vec<u8> = std::iter::repeat_n(scale.to_le_bytes(), n)
            .flatten()
            .collect();
        e.add(&exact, &measured).unwrap();
        assert_eq!(e.metrics().unwrap().sqnr_db, None);
        let off: Vec<u8> = std::iter::repeat_n((scale * 1.5).to_le_bytes(), n)
            .flatten()
            .collect();
        e.add(&off, &measured).unwrap();
        let m = e.metrics().unwrap();
        assert_eq!(m.count, 2 * n as u64);
        assert!((m.max_abs_error - f64::from(scale) * 0.5).abs() < 1e-6);
        assert!((m.rmse_over_scale.unwrap() - 0.5f64.sqrt() * 0.5).abs() < 1e-4);
        assert!(e.add(&exact[4..], &measured).is_err());
    }
}
