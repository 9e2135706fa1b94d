//! Who wrote a file, and what its tensor names say.
//!
//! Converters name tensors after the nodes of the source graph, each in its
//! own way. A [`Producer`] is detected once per model (from
//! `CONVERSION_METADATA`, the description and the names) and then owns the
//! name rules: which layers (or modules) an op came from, in order, and
//! whether a name shows quantization-aware-training machinery. Keras through
//! the TF converter is one producer among others, not the assumption.
//!
//! Names are debug data: everything here is a best reading that graph
//! matching must not rely on alone.

#![deny(clippy::arithmetic_side_effects)]

use std::sync::LazyLock;

use memchr::memmem;

use crate::model::Model;

/// The program that produced a `.tflite` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Producer {
    /// The TF converter from a Keras model (tf-keras or Keras 3); QAT through tfmot.
    Keras,
    /// The TF converter from a SavedModel or `tf.function` without Keras layers.
    TfFunction,
    /// litert-torch (formerly ai-edge-torch) from a PyTorch program; QAT through PT2E.
    LiteRtTorch,
    /// onnx2tf from an ONNX graph (its own writer, or a Keras model of
    /// TF-op layers through the TF converter).
    Onnx2Tf,
    /// The legacy TOCO converter (files before the MLIR converter).
    Toco,
    /// No producer recognised.
    Unknown,
}

/// The words advice about a producer's models is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Vocabulary {
    /// Keras layers and tfmot QuantizeConfigs.
    Tfmot,
    /// PyTorch modules and PT2E quantizer configs.
    Pt2e,
    /// TFLite ops only.
    Tflite,
}

/// A layer (or module) recovered from a tensor name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Layer {
    /// The name in the source program, with tfmot's `quant_` prefix removed (`conv2d_1`).
    pub name: String,
    /// Whether the name carried tfmot's wrapper prefix (the layer was annotated for QAT).
    pub qat_wrapped: bool,
}

impl Producer {
    /// The name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Producer::Keras => "tf-keras",
            Producer::TfFunction => "tf-function",
            Producer::LiteRtTorch => "litert-torch",
            Producer::Onnx2Tf => "onnx2tf",
            Producer::Toco => "toco",
            Producer::Unknown => "unknown",
        }
    }

    /// The terms advice is given in.
    pub fn vocabulary(self) -> Vocabulary {
        match self {
            Producer::Keras => Vocabulary::Tfmot,
            Producer::LiteRtTorch => Vocabulary::Pt2e,
            Producer::TfFunction | Producer::Onnx2Tf | Producer::Toco | Producer::Unknown => {
                Vocabulary::Tflite
            }
        }
    }

    /// Every distinct layer a (possibly `;`-joined) output name mentions, in
    /// the order the converter wrote them: for a fused op the outermost
    /// layer (the activation or BatchNorm folded in) comes first.
    pub fn layers(self, tensor_name: &str) -> Vec<Layer> {
        let mut out: Vec<Layer> = Vec::new();
        let bare = !tensor_name.contains(';');
        for l in tensor_name
            .split(';')
            .filter_map(|part| self.layer_of_part(part, bare))
        {
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }

    /// The first layer of [`Producer::layers`].
    pub fn layer(self, tensor_name: &str) -> Option<Layer> {
        let bare = !tensor_name.contains(';');
        tensor_name
            .split(';')
            .find_map(|part| self.layer_of_part(part, bare))
    }

    /// The layer holding a weight tensor, from the tensor's (possibly
    /// fused) name: the layer whose part of the name ends in the TF op that
    /// reads weights (`stem_conv/Conv2D`, `block_1_depthwise/depthwise`,
    /// `dense/MatMul`), not a padding or BatchNorm folded into the same
    /// constant (`stem_conv_pad/Pad`); the innermost layer that is no
    /// BatchNorm when no part says (a BatchNorm never holds the weights).
    pub fn weight_layer(self, tensor_name: &str) -> Option<Layer> {
        const WEIGHT_OPS: [&str; 6] = [
            "Conv2D",
            "depthwise",
            "MatMul",
            "Conv2DBackpropInput",
            "conv2d_transpose",
            "BiasAdd",
        ];
        let bare = !tensor_name.contains(';');
        let reads_weights = |part: &str| {
            part.rsplit('/').next().is_some_and(|op| {
                WEIGHT_OPS.contains(&op.trim_end_matches(|c: char| c.is_ascii_digit()))
            })
        };
        tensor_name
            .split(';')
            .filter(|part| reads_weights(part))
            .find_map(|part| self.layer_of_part(part, bare))
            .or_else(|| {
                let batchnorms = self.batchnorm_layers(tensor_name);
                self.layers(tensor_name)
                    .into_iter()
                    .rfind(|l| !batchnorms.contains(l))
            })
    }

    /// The layers a (possibly fused) name shows to be BatchNormalizations:
    /// those whose part of the name is a BatchNorm's TF op
    /// (`bn/FusedBatchNormV3`, or `bn/batchnorm/mul_1` on a non-4-D input).
    pub(crate) fn batchnorm_layers(self, tensor_name: &str) -> Vec<Layer> {
        let bare = !tensor_name.contains(';');
        let mut out: Vec<Layer> = Vec::new();
        for part in tensor_name.split(';') {
            let is_bn = part.contains("/batchnorm/")
                || part
                    .rsplit('/')
                    .next()
                    .is_some_and(|op| op.starts_with("FusedBatchNorm"));
            if let Some(l) = is_bn.then(|| self.layer_of_part(part, bare)).flatten()
                && !out.contains(&l)
            {
                out.push(l);
            }
        }
        out
    }

    /// `bare`: the name is not a fused list, so a one-component name may
    /// be a layer (older exporters); inside a fused list it is a constant's
    /// or a counter (`Const_71`).
    fn layer_of_part(self, part: &str, bare: bool) -> Option<Layer> {
        let part = part.trim();
        if part.is_empty() || is_dialect_name(part) {
            return None;
        }
        match self {
            Producer::LiteRtTorch => torch::module_of(part),
            Producer::Onnx2Tf => onnx::node_of(part),
            Producer::Keras => keras::layer_of_part(part, bare),
            _ => keras::layer_of_part(part, false),
        }
    }

    /// Whether a tensor name shows fake-quant machinery of a QAT graph.
    pub(crate) fn has_qat_marks(self, tensor_name: &str) -> bool {
        match self {
            Producer::LiteRtTorch => false,
            _ => keras::has_tfmot_marks(tensor_name),
        }
    }

    /// Whether a tensor name shows a tfmot fake-quant op on it (a kernel
    /// quantized in training).
    pub(crate) fn has_fake_quant(self, tensor_name: &str) -> bool {
        match self {
            Producer::LiteRtTorch => false,
            _ => keras::has_fake_quant(tensor_name),
        }
    }
}

impl Producer {
    /// Names as they would be in a fresh session: Keras numbers auto-named
    /// layers per Python session (`conv2d_3` today, `conv2d_7` after more
    /// models were built), so the `k`-th distinct auto name of one base, in
    /// the order given, becomes `base` for the first and `base_k` after it.
    /// Names that are not Keras auto names, and every name of other
    /// producers, map to themselves. Every auto name of one base is
    /// renumbered, and canonical names have the auto shape, so distinct names
    /// given stay distinct.
    pub(crate) fn canonical_names<'a>(
        self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        if self != Producer::Keras {
            return out;
        }
        let mut seen_per_base: std::collections::BTreeMap<&str, usize> = Default::default();
        for name in names {
            if out.contains_key(name) {
                continue;
            }
            let Some(base) = keras::auto_name_base(name) else {
                continue;
            };
            let k = seen_per_base.entry(base).or_insert(0);
            let canonical = if *k == 0 {
                base.to_owned()
            } else {
                format!("{base}_{k}")
            };
            *k = k.saturating_add(1);
            out.insert(name.to_owned(), canonical);
        }
        out
    }
}

impl std::fmt::Display for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a Keras layer name is a TFOpLambda's (`tf.math.multiply_2`):
/// Keras names the layer it wraps a TF op in after the op's Python path,
/// and such a layer cannot be annotated for QAT at all.
pub(crate) fn is_tf_op_lambda(layer: &str) -> bool {
    layer.starts_with("tf.")
}

/// A subgraph name without the TF converter's per-session function
/// counters (`while_body_123` → `while_body`): the `_`-separated parts made
/// of digits only, after the first.
pub(crate) fn canonical_subgraph_name(name: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in name.split('_') {
        if !part.is_empty() && part.bytes().all(|c| c.is_ascii_digit()) && !out.is_empty() {
            continue;
        }
        out.push(part);
    }
    out.join("_")
}

fn is_dialect_name(part: &str) -> bool {
    part.starts_with("tfl.") || part.starts_with("arith.") || part.starts_with("stablehlo.")
}

/// Detect the producer of a model: conversion metadata first, then the
/// description, then the names.
pub(crate) fn detect(model: &Model) -> Producer {
    let model_type = model
        .conversion
        .as_ref()
        .and_then(|c| c.model_type.as_deref());
    let torch_names = || {
        model
            .subgraphs
            .iter()
            .flat_map(|sg| sg.tensors.iter())
            .any(|t| torch::is_torch_name(t.name))
    };
    match model_type {
        Some("PYTORCH") => return Producer::LiteRtTorch,
        Some("KERAS_MODEL") => return Producer::Keras,
        _ => {}
    }
    let description = model.description.as_deref().unwrap_or("");
    if description.contains("TOCO") {
        return Producer::Toco;
    }
    if description.starts_with("onnx2tf") {
        return Producer::Onnx2Tf;
    }
    // MediaPipe's older models come from its keras2tflite exporter, which
    // names a layer's output after the layer and its weights
    // `<layer>/Kernel`, `<layer>/Bias` (some files say so in their
    // description, others only in these names).
    if description.starts_with("keras2tflite") || keras2tflite_names(model) {
        return Producer::Keras;
    }
    if torch_names() {
        return Producer::LiteRtTorch;
    }
    match model_type {
        Some("TF_SAVED_MODEL" | "TF_CONCRETE_FUNCTIONS" | "TF_GRAPH_DEF" | "TF_SESSION") | None => {
            match keras_scoped(model) {
                // A Keras model made of TF-op layers only is how onnx2tf's
                // TF-converter backend writes an ONNX graph.
                Some(true) => Producer::Onnx2Tf,
                Some(false) => Producer::Keras,
                None if model_type.is_some() => Producer::TfFunction,
                None => Producer::Unknown,
            }
        }
        _ => Producer::Unknown,
    }
}

/// Whether weight tensors carry keras2tflite's names: `<layer>/Kernel`, one
/// scope and the capitalised attribute, which no TF converter writes.
fn keras2tflite_names(model: &Model) -> bool {
    model
        .subgraphs
        .iter()
        .flat_map(|sg| sg.tensors.iter())
        .filter(|t| t.is_constant())
        .any(|t| {
            t.name
                .split_once('/')
                .is_some_and(|(layer, attr)| !layer.is_empty() && attr == "Kernel")
        })
}

/// Whether most op outputs with a scoped name carry `model/layer/op` names
/// or tfmot's marks, as a Keras model does: `None` when not; else whether
/// every conv of the model is a TF-op layer (`tf.nn.convolution`), which is
/// how onnx2tf's TF-converter backend writes an ONNX graph (a Keras user's
/// convs are Conv2D layers). Converter-made `tfl.*` names and bare
/// signature names say nothing either way.
fn keras_scoped(model: &Model) -> Option<bool> {
    let (mut scoped, mut total) = (0usize, 0usize);
    // Whether every conv so far belongs to a TF-op layer (`tf.nn.conv2d`);
    // once one does not, the layers of the others need not be read.
    let (mut convs, mut all_tf_op) = (0usize, true);
    for sg in &model.subgraphs {
        for op in &sg.operators {
            let Some(t) = op.outputs.first() else {
                continue;
            };
            let name = sg.tensor(*t).name;
            if !name.contains('/') {
                continue;
            }
            total = total.saturating_add(1);
            let in_model = name
                .split(';')
                .any(|p| p.split('/').next().is_some_and(keras::is_model_scope));
            if keras::has_tfmot_marks(name) || in_model {
                scoped = scoped.saturating_add(1);
            }
            if crate::rules::rule(&op.kind).conv_like {
                convs = convs.saturating_add(1);
                if all_tf_op {
                    let layers = Producer::Keras.layers(name);
                    all_tf_op =
                        !layers.is_empty() && layers.iter().all(|l| is_tf_op_lambda(&l.name));
                }
            }
        }
    }
    (total > 0 && scoped > total / 2).then_some(convs > 0 && all_tf_op)
}

/// Keras names through the TF converter, and tfmot's marks.
mod keras {
    use super::*;

    /// Prefix tfmot puts in front of a wrapped layer's name.
    pub(crate) const QAT_PREFIX: &str = "quant_";

    /// Name scopes of tfmot's fake-quant ops.
    const FAKE_QUANT_SCOPES: [&str; 4] = [
        "LastValueQuant",
        "MovingAvgQuantize",
        "AllValuesQuantize",
        "FakeQuantWithMinMaxVars",
    ];

    /// Name scopes TF opens inside a layer's call, which are not part of the
    /// layer's name: `up_sampling2d/resize/...`, a BatchNormalization's
    /// `batchnorm/...`, a Conv1D's `c1/Conv1D/ExpandDims` and
    /// `c1/Conv1D/Squeeze`, a Dense on a 3-D input's `dense/Tensordot/...`,
    /// a SeparableConv2D's depthwise half `sep/separable_conv2d/depthwise`
    /// (its pointwise half is the op `sep/separable_conv2d` itself), a gelu
    /// activation's `act/Gelu/mul_2`, a LayerNormalization's
    /// `ln/moments/mean`. One
    /// scope at most: a layer may carry the scope's name (Keras names the
    /// first SeparableConv2D `separable_conv2d`).
    const INNER_SCOPES: [&str; 7] = [
        "resize",
        "batchnorm",
        "Conv1D",
        "Tensordot",
        "separable_conv2d",
        "Gelu",
        "moments",
    ];

    /// Whether a name-scope component is a model's scope rather than a
    /// layer: `sequential`, `model_1`, `functional_3`, TF's call wrappers.
    pub(crate) fn is_model_scope(c: &str) -> bool {
        let numbered = |base: &str| {
            c == base
                || c.strip_prefix(base)
                    .and_then(|r| r.strip_prefix('_'))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        c.starts_with("StatefulPartitionedCall")
            || numbered("sequential")
            || numbered("model")
            || numbered("functional")
    }

    pub(crate) fn layer_of_part<'a>(part: &'a str, bare: bool) -> Option<Layer> {
        // `<model scope>/<layer name>/<op>`: the model's scope first (nested
        // models and TF call wrappers repeat it), then the layer, whose name
        // may itself hold slashes (`expanded_conv/depthwise` in Keras
        // applications), then the TF op (`Conv2D`; a variable read adds
        // `ReadVariableOp`, and its handle `resource`). A fake-quant scope
        // of tfmot (`LastValueQuant/FakeQuant...`) belongs to the layer
        // before it. Old files name a tensor `<layer>/<tensor>`
        // (`conv2d_1/Kernel_dequantize`), with no model scope.
        // Inline for the usual depth: this runs for every op of a model.
        let comps: smallvec::SmallVec<[&str; 8]> = part.split('/').collect();
        if comps.len() < 2 {
            // Older exporters (MediaPipe's keras2tflite) name an op's output
            // after its layer alone; the converter's signature and identity
            // tensors (`serving_default_x:0`, `Identity`) are not layers.
            let signature_like = !bare
                || part.contains(':')
                || part.starts_with("StatefulPartitionedCall")
                || part.starts_with("Identity")
                || part.starts_with("serving_default");
            return (!signature_like && !part.is_empty()).then(|| Layer {
                name: part.to_owned(),
                qat_wrapped: false,
            });
        }
        let mut end = comps.len().saturating_sub(1);
        // The converter uniquifies names with a bare counter (`Conv2D1`).
        let op_name = |c: &'a str| c.trim_end_matches(|b: char| b.is_ascii_digit());
        match comps.last().map(|c| op_name(c)) {
            Some("ReadVariableOp") => end = end.saturating_sub(1),
            Some("resource") => end = end.saturating_sub(2),
            _ => {}
        }
        while end > 0
            && comps
                .get(end.saturating_sub(1))
                .is_some_and(|c| FAKE_QUANT_SCOPES.contains(c))
        {
            end = end.saturating_sub(1);
        }
        let mut start = usize::from(comps.len() >= 3 || is_model_scope(comps[0]));
        while start.saturating_add(1) < end && comps.get(start).is_some_and(|c| is_model_scope(c)) {
            start = start.saturating_add(1);
        }
        // TF scopes some ops of a layer's call (`up_sampling2d/resize/...`).
        if end > start.saturating_add(1)
            && comps
                .get(end.saturating_sub(1))
                .is_some_and(|c| INNER_SCOPES.contains(c))
        {
            end = end.saturating_sub(1);
        }
        // The components joined by '/', which is where they lie in `part`.
        let raw = match comps.get(start..end)? {
            [] => "",
            [first, .., last] | [first @ last] => {
                let from = (first.as_ptr() as usize).checked_sub(part.as_ptr() as usize)?;
                let to = (last.as_ptr() as usize)
                    .checked_sub(part.as_ptr() as usize)?
                    .checked_add(last.len())?;
                part.get(from..to)?
            }
        };
        if raw.is_empty() {
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

    /// Snake-case names of the Keras layer classes whose instances Keras
    /// names automatically (`Conv2D` → `conv2d`, `conv2d_1`, ...).
    const AUTO_BASES: [&str; 58] = [
        "input",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv1d_transpose",
        "conv2d_transpose",
        "conv3d_transpose",
        "depthwise_conv2d",
        "depthwise_conv1d",
        "separable_conv1d",
        "separable_conv2d",
        "dense",
        "batch_normalization",
        "layer_normalization",
        "group_normalization",
        "re_lu",
        "leaky_re_lu",
        "p_re_lu",
        "elu",
        "softmax",
        "activation",
        "max_pooling1d",
        "max_pooling2d",
        "max_pooling3d",
        "average_pooling1d",
        "average_pooling2d",
        "average_pooling3d",
        "global_average_pooling1d",
        "global_average_pooling2d",
        "global_max_pooling1d",
        "global_max_pooling2d",
        "flatten",
        "reshape",
        "permute",
        "dropout",
        "spatial_dropout2d",
        "add",
        "subtract",
        "multiply",
        "maximum",
        "minimum",
        "average",
        "concatenate",
        "zero_padding1d",
        "zero_padding2d",
        "cropping1d",
        "cropping2d",
        "up_sampling1d",
        "up_sampling2d",
        "lambda",
        "rescaling",
        "normalization",
        "embedding",
        "lstm",
        "gru",
        "simple_rnn",
        "model",
        "sequential",
    ];

    /// The base of a Keras auto name (`conv2d` of `conv2d_3` and of
    /// `conv2d`; `tf.math.multiply` of the TFOpLambda `tf.math.multiply_2`),
    /// or `None` for a name Keras did not make up.
    pub(crate) fn auto_name_base(name: &str) -> Option<&str> {
        let base = match name.rsplit_once('_') {
            Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b,
            _ => name,
        };
        (AUTO_BASES.contains(&base) || (super::is_tf_op_lambda(base) && base.len() > 3))
            .then_some(base)
    }

    /// Whether a name shows one of tfmot's fake-quant ops (a weight's
    /// `LastValueQuant/FakeQuantWithMinMaxVars...`), not only a wrapper's
    /// `quant_` prefix.
    pub(crate) fn has_fake_quant(tensor_name: &str) -> bool {
        FAKE_QUANT_SCOPES.iter().any(|s| tensor_name.contains(s))
    }

    pub(crate) fn has_tfmot_marks(tensor_name: &str) -> bool {
        // Every mark contains "uant" (Quant, quant_, quantize_layer): one SIMD
        // search rules out almost every name of a model.
        static UANT: LazyLock<memmem::Finder<'static>> =
            LazyLock::new(|| memmem::Finder::new("uant"));
        if UANT.find(tensor_name.as_bytes()).is_none() {
            return false;
        }
        has_fake_quant(tensor_name)
            || tensor_name.contains("quantize_layer")
            || tensor_name
                .split(';')
                .any(|p| p.split('/').any(|c| c.starts_with(QAT_PREFIX)))
    }
}

/// litert-torch names: one `/`-separated component per module from the
/// root (`__main__.TinyNet/torch.nn.modules.container.Sequential_blocks/
/// __main__.Block_0/torch.nn.modules.conv.Conv2d_conv`), each the module's
/// class path, `_`, and its attribute name in its parent; the module path
/// is the attribute names joined with dots (`blocks.0.conv`).
mod torch {
    use super::*;

    pub(crate) fn is_torch_name(name: &str) -> bool {
        name.contains("torch.nn.modules.") || name.starts_with("__main__.")
    }

    pub(crate) fn module_of(part: &str) -> Option<Layer> {
        if !is_torch_name(part) {
            return None;
        }
        let mut path: Vec<&str> = Vec::new();
        for comp in part.split('/') {
            // The class's last dotted segment, then `_` and the attribute.
            let tail = comp.rsplit_once('.').map_or(comp, |(_, t)| t);
            if let Some((_class, attr)) = tail.split_once('_')
                && !attr.is_empty()
            {
                path.push(attr);
            }
        }
        (!path.is_empty()).then(|| Layer {
            name: path.join("."),
            qat_wrapped: false,
        })
    }
}

/// onnx2tf names: `wa/` and the ONNX node's scope (`/blocks/blocks.0/conv/
/// Conv` from a PyTorch export), then the node's op and what onnx2tf made of
/// it (`Conv_input_nhwc`). The module path is the scope with PyTorch's
/// repeated prefixes folded (`blocks/blocks.0/conv` → `blocks.0.conv`).
mod onnx {
    use super::*;

    pub fn node_of(part: &str) -> Option<Layer> {
        // Inline for the usual depth: this runs for every op of a model.
        let comps: smallvec::SmallVec<[&str; 8]> = part.split('/').collect();
        // The wrapper scope, the node's scope, the op: at least three.
        let scope = comps.get(1..comps.len().saturating_sub(1))?;
        let mut path: Vec<&str> = Vec::new();
        for c in scope {
            // `blocks` then `blocks.0`: keep the longer one.
            if let Some(last) = path.last()
                && c.strip_prefix(*last).is_some_and(|r| r.starts_with('.'))
            {
                path.pop();
            }
            path.push(c);
        }
        let name = path.join(".");
        (!name.is_empty()).then_some(Layer {
            name,
            qat_wrapped: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Option<String> {
        Producer::Keras.layer(s).map(|l| l.name)
    }

    #[test]
    fn batchnorm_layers_by_their_tf_ops() {
        let bns = |s: &str| -> Vec<String> {
            Producer::Keras
                .batchnorm_layers(s)
                .into_iter()
                .map(|l| l.name)
                .collect()
        };
        // A BatchNorm after a Conv1D (a 3-D input: `batchnorm/` ops) folded
        // into its conv's weights, and a fused BatchNorm of a Conv2D.
        assert_eq!(
            bns(
                "m/bn2/batchnorm/mul_1;m/conv2/Conv1D/Squeeze;m/conv2/BiasAdd;m/bn2/batchnorm/add_1"
            ),
            ["bn2"]
        );
        assert_eq!(
            bns(
                "model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd;model/conv2d/Conv2D"
            ),
            ["batch_normalization"]
        );
        assert!(bns("m/conv2/BiasAdd;m/conv2/Conv2D;m/relu/Relu").is_empty());
    }

    #[test]
    fn ptq_and_qat_names() {
        assert_eq!(
            name("sequential/conv2d/Relu;sequential/conv2d/BiasAdd;sequential/conv2d/Conv2D;sequential/conv2d/BiasAdd/ReadVariableOp").as_deref(),
            Some("conv2d")
        );
        let l = Producer::Keras
            .layer("sequential/quant_conv2d/Relu;sequential/quant_conv2d/BiasAdd;sequential/quant_conv2d/Conv2D;")
            .unwrap();
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
        // Keras applications name layers with slashes.
        assert_eq!(
            name("MobilenetV3small/expanded_conv/depthwise/depthwise").as_deref(),
            Some("expanded_conv/depthwise")
        );
        assert_eq!(
            name("net/expanded_conv/squeeze_excite/Conv_1/BiasAdd/ReadVariableOp").as_deref(),
            Some("expanded_conv/squeeze_excite/Conv_1")
        );
        // A SeparableConv2D: both halves are the layer's, whatever its name.
        assert_eq!(
            name("zoo_nasnetmobile/sep_1/separable_conv2d/depthwise").as_deref(),
            Some("sep_1")
        );
        assert_eq!(
            name("zoo_nasnetmobile/sep_1/separable_conv2d1").as_deref(),
            Some("sep_1")
        );
        assert_eq!(
            name("model/separable_conv2d/separable_conv2d/depthwise").as_deref(),
            Some("separable_conv2d")
        );
        assert_eq!(
            name("model/separable_conv2d/separable_conv2d").as_deref(),
            Some("separable_conv2d")
        );
        assert_eq!(
            name("model/up_sampling2d/resize/ResizeNearestNeighbor").as_deref(),
            Some("up_sampling2d")
        );
        assert_eq!(
            name("zoo_convnexttiny/convnext_tiny_stage_0_block_0_gelu/Gelu/mul_2").as_deref(),
            Some("convnext_tiny_stage_0_block_0_gelu")
        );
        assert_eq!(
            name("model/layer_normalization/moments/SquaredDifference").as_deref(),
            Some("layer_normalization")
        );
        // Nested model scopes: the innermost layer.
        assert_eq!(
            name("model_1/model/conv2d/Conv2D").as_deref(),
            Some("conv2d")
        );
        // Old files: `<layer>/<tensor>`.
        assert_eq!(
            name("conv2d_1/Kernel_dequantize").as_deref(),
            Some("conv2d_1")
        );
        // tfmot's weight fake-quant belongs to its layer.
        assert_eq!(
            name("model/quant_conv2d/LastValueQuant/FakeQuantWithMinMaxVarsPerChannel").as_deref(),
            Some("conv2d")
        );
        assert_eq!(
            name("net/conv1/BiasAdd/ReadVariableOp/resource").as_deref(),
            Some("conv1")
        );
        assert_eq!(
            name("net/stem/BiasAdd/ReadVariableOp1").as_deref(),
            Some("stem")
        );
        assert_eq!(
            name("net/up_nearest/resize/ResizeNearestNeighbor").as_deref(),
            Some("up_nearest")
        );
    }

    #[test]
    fn qat_marks() {
        let p = Producer::Keras;
        assert!(p.has_qat_marks("sequential/quant_conv2d/Conv2D"));
        assert!(p.has_qat_marks("a/LastValueQuant/FakeQuantWithMinMaxVarsPerChannel"));
        assert!(!p.has_qat_marks("sequential/conv2d/Conv2D"));
    }

    #[test]
    fn every_layer_of_a_fused_name_in_order() {
        let ls = Producer::Keras.layers(
            "model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd;model/conv2d/Conv2D",
        );
        let names: Vec<_> = ls.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["batch_normalization", "conv2d"]);
    }

    #[test]
    fn keras_auto_names_are_renumbered_by_first_appearance() {
        let names = [
            "input_3",
            "conv2d_4",
            "conv1",
            "conv2d_5",
            "tf.math.multiply_7",
            "conv2d_4",
        ];
        let map = Producer::Keras.canonical_names(names);
        let get = |n: &str| map.get(n).map(String::as_str);
        assert_eq!(get("input_3"), Some("input"));
        assert_eq!(get("conv2d_4"), Some("conv2d"));
        assert_eq!(get("conv2d_5"), Some("conv2d_1"));
        assert_eq!(get("tf.math.multiply_7"), Some("tf.math.multiply"));
        assert_eq!(get("conv1"), None, "a user's name is kept");
        // Other producers keep every name.
        assert!(Producer::LiteRtTorch.canonical_names(names).is_empty());
        // Distinct names stay distinct.
        let all = Producer::Keras.canonical_names(["conv2d_5", "conv2d_9", "conv2d"]);
        let values: std::collections::BTreeSet<_> = all.values().collect();
        assert_eq!(values.len(), 3);
    }

    #[test]
    fn subgraph_counters_are_dropped() {
        assert_eq!(canonical_subgraph_name("main"), "main");
        assert_eq!(canonical_subgraph_name("while_body_123"), "while_body");
        assert_eq!(
            canonical_subgraph_name("__inference_cond_true_4521"),
            "__inference_cond_true"
        );
        assert_eq!(
            canonical_subgraph_name("conv2d_transpose"),
            "conv2d_transpose"
        );
    }

    #[test]
    fn tf_op_lambdas_are_named_after_the_op() {
        assert!(is_tf_op_lambda("tf.math.multiply_2"));
        assert!(is_tf_op_lambda("tf.__operators__.add"));
        assert!(!is_tf_op_lambda("conv2d"));
        assert!(!is_tf_op_lambda("tfl_conv"));
    }

    #[test]
    fn torch_module_paths() {
        let p = Producer::LiteRtTorch;
        let module = |n: &str| p.layer(n).map(|l| l.name);
        assert_eq!(
            module("__main__.TinyNet/torch.nn.modules.container.Sequential_blocks/__main__.Block_0/torch.nn.modules.conv.Conv2d_conv;2")
                .as_deref(),
            Some("blocks.0.conv")
        );
        assert_eq!(
            module("__main__.TinyNet/torch.nn.modules.container.Sequential_stem/torch.nn.modules.conv.Conv2d_0;1").as_deref(),
            Some("stem.0")
        );
        // A fused op lists one module per original op.
        let all: Vec<String> = p
            .layers("__main__.TinyNet/torch.nn.modules.container.Sequential_blocks/__main__.Block_0/torch.nn.modules.activation.ReLU_act;;__main__.TinyNet/torch.nn.modules.container.Sequential_blocks/__main__.Block_0;")
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(all, ["blocks.0.act", "blocks.0"]);
        assert_eq!(module("tfl.quantize"), None);
        assert_eq!(
            module(
                "torch.export._trace._non_strict_export.<locals>._tuplify_outputs.<locals>.Wrapper;1"
            ),
            None
        );
    }

    #[test]
    fn onnx2tf_node_paths() {
        let p = Producer::Onnx2Tf;
        let node = |n: &str| p.layer(n).map(|l| l.name);
        assert_eq!(
            node("wa/blocks/blocks.0/conv/Conv_input_nhwc").as_deref(),
            Some("blocks.0.conv")
        );
        assert_eq!(
            node("wa/stem/stem.0/Conv_input_nhwc_padded").as_deref(),
            Some("stem.0")
        );
        assert_eq!(
            node("wa/pool/GlobalAveragePool_output_0").as_deref(),
            Some("pool")
        );
        assert_eq!(node("wa/Flatten_output_0"), None);
        assert_eq!(node("logits"), None);
    }

    #[test]
    fn old_exporters_name_outputs_after_their_layer() {
        let p = Producer::Keras;
        assert_eq!(
            p.layer("p_re_lu_1").map(|l| l.name).as_deref(),
            Some("p_re_lu_1")
        );
        assert_eq!(p.layer("StatefulPartitionedCall:0"), None);
        assert_eq!(p.layer("Identity"), None);
    }
}
