//! Recover the Keras layer an op came from out of its output tensor's name.
//!
//! The converter names a fused op's output by joining the original node names
//! with `;` (`sequential/conv2d/Relu;sequential/conv2d/BiasAdd;…`). Each part
//! is a TF name scope: model scope, layer, op. tfmot wraps layers as
//! `quant_<layer>` and names its fake-quant ops `…/LastValueQuant/…`,
//! `…/MovingAvgQuantize/…`, `…/AllValuesQuantize/…`. Names are debug data, so
//! everything here is a best guess that graph matching must not depend on alone.

use std::sync::LazyLock;

use memchr::memmem;

/// Prefix tfmot puts in front of a wrapped layer's name.
pub const QAT_PREFIX: &str = "quant_";

/// Name scopes of tfmot's fake-quant ops.
const FAKE_QUANT_SCOPES: [&str; 4] = [
    "LastValueQuant",
    "MovingAvgQuantize",
    "AllValuesQuantize",
    "FakeQuantWithMinMaxVars",
];

/// A layer recovered from a tensor name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Layer {
    /// The Keras layer name with tfmot's `quant_` prefix removed (`conv2d_1`).
    pub name: String,
    /// Whether the name carried tfmot's wrapper prefix.
    pub qat_wrapped: bool,
}

/// The layer named by the first meaningful part of a (possibly `;`-joined)
/// tensor name. `None` for converter-made names (`tfl.quantize`,
/// `arith.constant`) and for bare signature names (`StatefulPartitionedCall:0`).
pub fn layer_of(tensor_name: &str) -> Option<Layer> {
    tensor_name.split(';').find_map(layer_of_part)
}

/// All distinct layers mentioned in a `;`-joined name, in order.
pub fn layers_of(tensor_name: &str) -> Vec<Layer> {
    let mut out: Vec<Layer> = Vec::new();
    // Linear in the parts however many a (hostile) name joins.
    let mut seen = std::collections::HashSet::new();
    for l in tensor_name.split(';').filter_map(layer_of_part) {
        if seen.insert(l.clone()) {
            out.push(l);
        }
    }
    out
}

fn is_dialect_name(part: &str) -> bool {
    part.starts_with("tfl.") || part.starts_with("arith.") || part.starts_with("stablehlo.")
}

fn layer_of_part(part: &str) -> Option<Layer> {
    let part = part.trim();
    if part.is_empty() || is_dialect_name(part) {
        return None;
    }
    // The first component is the model's scope (`sequential`, `model`,
    // `functional_1`, `StatefulPartitionedCall`); the layer follows. A name
    // with one component (`serving_default_input_1:0`,
    // `StatefulPartitionedCall:0`) is a signature tensor, not a layer. Keras 3
    // and nested call scopes can repeat the model scope, so skip leading
    // components that are call wrappers while more follow.
    let mut comps = part.split('/');
    comps.next();
    let mut raw = comps.next()?;
    for next in comps {
        if !(raw.starts_with("StatefulPartitionedCall")
            || raw == "sequential"
            || raw.starts_with("functional"))
        {
            break;
        }
        raw = next;
    }
    if raw.is_empty() || FAKE_QUANT_SCOPES.contains(&raw) {
        return None;
    }
    let (name, qat_wrapped) = match raw.strip_prefix(QAT_PREFIX) {
        Some(stripped) if !stripped.is_empty() => (stripped, true),
        _ => (raw, false),
    };
    Some(Layer {
        name: name.to_owned(),
        qat_wrapped,
    })
}

/// Whether a tensor name shows tfmot's fake-quant machinery (a QAT graph).
pub fn has_qat_marks(tensor_name: &str) -> bool {
    // Every mark contains "uant" (Quant, quant_, quantize_layer): one SIMD
    // search rules out almost every name of a model.
    static UANT: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new("uant"));
    if UANT.find(tensor_name.as_bytes()).is_none() {
        return false;
    }
    FAKE_QUANT_SCOPES.iter().any(|s| tensor_name.contains(s))
        || tensor_name.contains("quantize_layer")
        || tensor_name
            .split(';')
            .any(|p| p.split('/').any(|c| c.starts_with(QAT_PREFIX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Option<String> {
        layer_of(s).map(|l| l.name)
    }

    #[test]
    fn ptq_and_qat_names() {
        assert_eq!(
            name("sequential/conv2d/Relu;sequential/conv2d/BiasAdd;sequential/conv2d/Conv2D;sequential/conv2d/BiasAdd/ReadVariableOp").as_deref(),
            Some("conv2d")
        );
        let l = layer_of("sequential/quant_conv2d/Relu;sequential/quant_conv2d/BiasAdd;sequential/quant_conv2d/Conv2D;").unwrap();
        assert_eq!(l.name, "conv2d");
        assert!(l.qat_wrapped);
        assert_eq!(
            name("sequential/quant_dense/MatMul;sequential/quant_dense/LastValueQuant/FakeQuantWithMinMaxVars").as_deref(),
            Some("dense")
        );
        assert_eq!(
            name("sequential/quantize_layer/AllValuesQuantize/FakeQuantWithMinMaxVars").as_deref(),
            Some("quantize_layer")
        );
        assert_eq!(
            name("model/quant_max_pooling2d_1/MaxPool").as_deref(),
            Some("max_pooling2d_1")
        );
        assert_eq!(name("tfl.quantize"), None);
        assert_eq!(name("tfl.pseudo_qconst1"), None);
        assert_eq!(name("serving_default_input_1:0"), None);
        assert_eq!(name("StatefulPartitionedCall:0"), None);
        assert_eq!(
            name(";;arith.constant;model/dense/BiasAdd").as_deref(),
            Some("dense")
        );
        assert_eq!(
            name("StatefulPartitionedCall/sequential/conv2d/Conv2D").as_deref(),
            Some("conv2d")
        );
        // A layer literally called `quant_` keeps its name.
        assert_eq!(name("model/quant_/add").as_deref(), Some("quant_"));
    }

    #[test]
    fn qat_marks() {
        assert!(has_qat_marks("sequential/quant_conv2d/Conv2D"));
        assert!(has_qat_marks(
            "a/LastValueQuant/FakeQuantWithMinMaxVarsPerChannel"
        ));
        assert!(!has_qat_marks("sequential/conv2d/Conv2D"));
    }

    #[test]
    fn all_layers_of_a_fused_name() {
        let ls = layers_of(
            "model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd;model/conv2d/Conv2D",
        );
        let names: Vec<_> = ls.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["batch_normalization", "conv2d"]);
    }
}
