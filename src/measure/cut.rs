//! Cut a model: keep some ops of its main subgraph and feed their inputs from
//! outside, as graph inputs of a new model that LiteRT runs like any other.
//!
//! The file is copied whole (weights, op codes, other subgraphs) through
//! tflq's own schema; only the main subgraph's op list, inputs and outputs
//! change, and the fed values get tensors of their own. A fed value keeps the
//! type of the tensor it comes from: where the consumers expect another type,
//! a QUANTIZE (float or integer to integer) or a DEQUANTIZE (integer to float)
//! is put in front of them, so the interpreter itself converts the value, with
//! the consumer's own scale and zero point.

#![deny(clippy::arithmetic_side_effects)]

use planus::ReadAsRoot;
use tflq_schema as fb;

use super::pairing::Cut;
use crate::model::{BuiltinCode, DType, Subgraph};

/// Serialize a planus root table with the `TFL3` header. planus 1.3.0's
/// `finish` writes the identifier first and the root offset (relative to its
/// own position) second; the format has the offset first.
pub(crate) fn finish_tfl3<T>(
    builder: &mut planus::Builder,
    root: impl planus::WriteAsOffset<T>,
) -> Vec<u8> {
    let mut out = builder.finish(root, Some(*b"TFL3")).to_vec();
    if let Some(header) = out.get_mut(..8) {
        let ident: [u8; 4] = [header[0], header[1], header[2], header[3]];
        let rel = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        header[..4].copy_from_slice(&rel.wrapping_add(4).to_le_bytes());
        header[4..].copy_from_slice(&ident);
    }
    out
}

/// Why a model could not be cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutError(pub String);

impl std::fmt::Display for CutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CutError {}

fn err(msg: impl Into<String>) -> CutError {
    CutError(msg.into())
}

/// Build the cut of the model in `bytes` (its subgraph 0). `source` is the
/// main subgraph of the model whose values are fed, for their types.
/// Returns the new file and the tensor index of each feed's graph input.
pub fn build(
    bytes: &[u8],
    cut: &Cut,
    source: &Subgraph<'_>,
) -> Result<(Vec<u8>, Vec<u32>), CutError> {
    let root = fb::ModelRef::read_as_root(bytes).map_err(|e| err(format!("cannot read: {e}")))?;
    let mut model: fb::Model = root
        .try_into()
        .map_err(|e: planus::Error| err(format!("cannot copy: {e}")))?;
    inline_buffers(&mut model, bytes)?;
    let codes = model.operator_codes.get_or_insert_with(Vec::new);
    let converters = Converters {
        quantize: code_index(codes, BuiltinCode::QUANTIZE)?,
        dequantize: code_index(codes, BuiltinCode::DEQUANTIZE)?,
    };
    let sg = model
        .subgraphs
        .as_mut()
        .and_then(|s| s.first_mut())
        .ok_or_else(|| err("no subgraph"))?;
    let tensors = sg.tensors.get_or_insert_with(Vec::new);
    let ops = sg.operators.take().unwrap_or_default();
    let mut kept: Vec<fb::Operator> = Vec::with_capacity(cut.ops.len());
    let mut slot_of = vec![None; ops.len()];
    for &o in &cut.ops {
        let op = ops
            .get(o.index())
            .ok_or_else(|| err(format!("no op {o}")))?;
        slot_of[o.index()] = Some(kept.len());
        kept.push(op.clone());
    }
    let mut front = Vec::new();
    let mut inputs = Vec::with_capacity(cut.feeds.len());
    for (i, feed) in cut.feeds.iter().enumerate() {
        let (fed_index, read) = converters.feed(tensors, &mut front, (i, feed), source)?;
        inputs.push(fed_index.unsigned_abs());
        for &(op, k) in &feed.consumers {
            let slot = slot_of
                .get(op.index())
                .copied()
                .flatten()
                .and_then(|s| kept.get_mut(s))
                .and_then(|o| o.inputs.as_mut())
                .and_then(|ins| ins.get_mut(k))
                .ok_or_else(|| err(format!("op {op} input {k} is not in the cut")))?;
            *slot = read;
        }
    }
    front.extend(kept);
    sg.operators = Some(front);
    sg.inputs = Some(
        inputs
            .iter()
            .filter_map(|&i| i32::try_from(i).ok())
            .collect(),
    );
    sg.outputs = Some(
        cut.outputs
            .iter()
            .map(|t| i32::try_from(t.0).map_err(|_| err("tensor index out of range")))
            .collect::<Result<_, _>>()?,
    );
    // Signatures name the old inputs and outputs.
    model.signature_defs = None;
    let mut builder = planus::Builder::new();
    Ok((finish_tfl3(&mut builder, &model), inputs))
}

/// Data stored past the flatbuffer (files over 2 GB) comes inline.
fn inline_buffers(model: &mut fb::Model, bytes: &[u8]) -> Result<(), CutError> {
    if let Some(buffers) = model.buffers.as_mut() {
        for b in buffers.iter_mut() {
            if b.offset > 1 {
                let range = usize::try_from(b.offset)
                    .ok()
                    .zip(usize::try_from(b.size).ok())
                    .and_then(|(o, s)| Some(o..o.checked_add(s)?));
                let data = range
                    .and_then(|r| bytes.get(r))
                    .ok_or_else(|| err("a buffer lies outside the file"))?;
                b.data = Some(data.to_vec());
                b.offset = 0;
                b.size = 0;
            }
        }
    }
    Ok(())
}

/// The index of `code` among the model's op codes, added when missing.
fn code_index(codes: &mut Vec<fb::OperatorCode>, code: BuiltinCode) -> Result<u32, CutError> {
    let n = code.0;
    if let Some(i) = codes
        .iter()
        .position(|c| c.builtin_code.max(i32::from(c.deprecated_builtin_code)) == n)
    {
        return u32::try_from(i).map_err(|_| err("too many op codes"));
    }
    codes.push(fb::OperatorCode {
        deprecated_builtin_code: i8::try_from(n).unwrap_or(127),
        custom_code: None,
        version: 1,
        builtin_code: n,
    });
    u32::try_from(codes.len().saturating_sub(1)).map_err(|_| err("too many op codes"))
}

/// The op codes of the conversions put in front of fed values.
struct Converters {
    quantize: u32,
    dequantize: u32,
}

impl Converters {
    /// Add feed `i`'s graph input tensor and, where its consumers expect
    /// another type, the QUANTIZE or DEQUANTIZE (into `front`) that converts
    /// it. Returns the graph input and the tensor the consumers read.
    fn feed(
        &self,
        tensors: &mut Vec<fb::Tensor>,
        front: &mut Vec<fb::Operator>,
        (i, feed): (usize, &super::pairing::Feed),
        source: &Subgraph<'_>,
    ) -> Result<(i32, i32), CutError> {
        let like = tensors
            .get(feed.like.index())
            .cloned()
            .ok_or_else(|| err(format!("no tensor {}", feed.like)))?;
        let src = source
            .tensors
            .get(feed.source.index())
            .ok_or_else(|| err(format!("no source tensor {}", feed.source)))?;
        let src_quant = src
            .quantization
            .as_ref()
            .filter(|q| q.is_affine())
            .map(|q| {
                Box::new(fb::QuantizationParameters {
                    scale: Some(q.scale.to_vec()),
                    zero_point: Some(q.zero_point.to_vec()),
                    quantized_dimension: q.quantized_dimension,
                    ..Default::default()
                })
            });
        let fed = fb::Tensor {
            shape: like.shape.clone(),
            type_: src.dtype.0,
            buffer: 0,
            name: Some(format!("tflq_feed_{i}")),
            quantization: src_quant.clone(),
            shape_signature: like.shape_signature.clone(),
            ..Default::default()
        };
        let fed_index = push(tensors, fed)?;
        let like_quantized = like
            .quantization
            .as_ref()
            .and_then(|q| q.scale.as_ref())
            .is_some_and(|s| !s.is_empty());
        let same_quant = match (&src_quant, &like.quantization) {
            (None, _) if !like_quantized => true,
            (Some(a), Some(b)) => a.scale == b.scale && a.zero_point == b.zero_point,
            _ => false,
        };
        if like.type_ == src.dtype.0 && same_quant {
            return Ok((fed_index, fed_index));
        }
        let opcode = if like_quantized {
            self.quantize
        } else if like.type_ == DType::FLOAT32.0 && src_quant.is_some() {
            self.dequantize
        } else {
            return Err(err(format!(
                "cannot convert {} into {} for tensor {}",
                src.dtype,
                DType(like.type_),
                feed.like
            )));
        };
        let converted = fb::Tensor {
            buffer: 0,
            name: Some(format!("tflq_feed_{i}_converted")),
            sparsity: None,
            is_variable: false,
            ..like
        };
        let converted = push(tensors, converted)?;
        front.push(fb::Operator {
            opcode_index: opcode,
            inputs: Some(vec![fed_index]),
            outputs: Some(vec![converted]),
            ..Default::default()
        });
        Ok((fed_index, converted))
    }
}

fn push(tensors: &mut Vec<fb::Tensor>, t: fb::Tensor) -> Result<i32, CutError> {
    let i = i32::try_from(tensors.len()).map_err(|_| err("too many tensors"))?;
    tensors.push(t);
    Ok(i)
}
