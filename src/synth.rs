//! A small builder of synthetic TFLite files, for tests, benchmarks and the
//! fuzzer's seeds: large graphs, weight-heavy models, buffers stored past
//! 2 GB, unknown op codes and tensor types, out-of-range indices. It writes
//! exactly what it is told, valid or not; it is the writing counterpart of
//! [`mod@crate::load`] and, with it, the only code that touches the flatbuffer
//! bindings.

use tflq_schema as fb;

use crate::model::BuiltinCode;

/// Options of a synthetic operator.
#[derive(Debug, Clone, PartialEq)]
pub enum SynthOptions {
    /// No options table.
    None,
    /// `Conv2DOptions` with this fused activation.
    Conv2d {
        /// Stored activation byte.
        activation: i8,
    },
    /// `DepthwiseConv2DOptions` with this fused activation.
    DepthwiseConv2d {
        /// Stored activation byte.
        activation: i8,
    },
    /// `FullyConnectedOptions` with this fused activation.
    FullyConnected {
        /// Stored activation byte.
        activation: i8,
    },
    /// `AddOptions` with this fused activation.
    Add {
        /// Stored activation byte.
        activation: i8,
    },
    /// `Pool2DOptions` with this fused activation.
    Pool2d {
        /// Stored activation byte.
        activation: i8,
    },
    /// `WhileOptions`.
    While {
        /// Condition subgraph index (may be out of range on purpose).
        cond: i32,
        /// Body subgraph index.
        body: i32,
    },
    /// `IfOptions`.
    If {
        /// Then subgraph.
        then: i32,
        /// Else subgraph.
        otherwise: i32,
    },
}

/// Quantization of a synthetic tensor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SynthQuant {
    /// Scales.
    pub scale: Vec<f32>,
    /// Zero points.
    pub zero_point: Vec<i64>,
    /// Axis of per-axis parameters.
    pub quantized_dimension: i32,
}

impl SynthQuant {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i64) -> SynthQuant {
        SynthQuant {
            scale: vec![scale],
            zero_point: vec![zero_point],
            quantized_dimension: 0,
        }
    }

    /// Per-axis parameters with zero points 0.
    pub fn per_axis(scales: Vec<f32>, axis: i32) -> SynthQuant {
        SynthQuant {
            zero_point: vec![0; scales.len()],
            scale: scales,
            quantized_dimension: axis,
        }
    }
}

/// Builds one model. Indices it returns are the ones written to the file.
#[derive(Debug, Clone)]
pub struct ModelBuilder {
    model: fb::Model,
    subgraphs: Vec<fb::SubGraph>,
}

impl Default for ModelBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelBuilder {
    /// An empty version-3 model with the sentinel empty buffer 0.
    pub fn new() -> ModelBuilder {
        ModelBuilder {
            model: fb::Model {
                version: 3,
                operator_codes: Some(Vec::new()),
                description: Some("tflq synthetic model".into()),
                buffers: Some(vec![fb::Buffer::default()]),
                ..fb::Model::default()
            },
            subgraphs: Vec::new(),
        }
    }

    /// Set `Model.version`.
    pub fn version(&mut self, version: u32) -> &mut Self {
        self.model.version = version;
        self
    }

    /// Add an operator code with both code fields given explicitly.
    pub fn raw_opcode(
        &mut self,
        deprecated: i8,
        builtin: i32,
        custom: Option<&str>,
        version: i32,
    ) -> u32 {
        let codes = self.model.operator_codes.get_or_insert_with(Vec::new);
        codes.push(fb::OperatorCode {
            deprecated_builtin_code: deprecated,
            custom_code: custom.map(str::to_owned),
            version,
            builtin_code: builtin,
        });
        (codes.len() - 1) as u32
    }

    /// The code table entry for a builtin (version 1), added once and reused;
    /// written as a current converter does (127 in the old field past 127).
    pub fn builtin(&mut self, code: BuiltinCode) -> u32 {
        self.builtin_v(code, 1)
    }

    /// As [`ModelBuilder::builtin`] with a kernel version.
    pub fn builtin_v(&mut self, code: BuiltinCode, version: i32) -> u32 {
        let deprecated = code.0.clamp(0, 127) as i8;
        if let Some(i) = self.model.operator_codes.iter().flatten().position(|c| {
            c.builtin_code == code.0 && c.version == version && c.custom_code.is_none()
        }) {
            return i as u32;
        }
        self.raw_opcode(deprecated, code.0, None, version)
    }

    /// A custom op code.
    pub fn custom(&mut self, name: &str) -> u32 {
        self.raw_opcode(32, 32, Some(name), 1)
    }

    /// Add a subgraph; returns its index.
    pub fn subgraph(&mut self, name: &str) -> usize {
        self.subgraphs.push(fb::SubGraph {
            name: Some(name.to_owned()),
            tensors: Some(Vec::new()),
            operators: Some(Vec::new()),
            inputs: Some(Vec::new()),
            outputs: Some(Vec::new()),
            debug_metadata_index: -1,
        });
        self.subgraphs.len() - 1
    }

    fn sg(&mut self, sg: usize) -> &mut fb::SubGraph {
        &mut self.subgraphs[sg]
    }

    /// Add an activation tensor (no data).
    pub fn tensor(
        &mut self,
        sg: usize,
        name: &str,
        shape: &[i32],
        dtype: i8,
        quant: Option<SynthQuant>,
    ) -> i32 {
        self.tensor_with_buffer(sg, name, shape, dtype, quant, 0)
    }

    /// Add a tensor pointing at buffer `buffer` (any index, valid or not).
    pub fn tensor_with_buffer(
        &mut self,
        sg: usize,
        name: &str,
        shape: &[i32],
        dtype: i8,
        quant: Option<SynthQuant>,
        buffer: u32,
    ) -> i32 {
        let quantization = quant.map(|q| {
            Box::new(fb::QuantizationParameters {
                scale: Some(q.scale),
                zero_point: Some(q.zero_point),
                quantized_dimension: q.quantized_dimension,
                ..Default::default()
            })
        });
        let tensors = self.sg(sg).tensors.get_or_insert_with(Vec::new);
        tensors.push(fb::Tensor {
            shape: Some(shape.to_vec()),
            type_: dtype,
            buffer,
            name: Some(name.to_owned()),
            quantization,
            ..Default::default()
        });
        (tensors.len() - 1) as i32
    }

    /// Give tensor `tensor` of subgraph `sg` block-wise quantization whose
    /// scales and zero points are the tensors `scales` and `zero_points` (any
    /// index, valid or not; -1 for none).
    pub fn blockwise(
        &mut self,
        sg: usize,
        tensor: i32,
        scales: i32,
        zero_points: i32,
        block_size: i32,
    ) -> &mut Self {
        let details =
            fb::QuantizationDetails::BlockwiseQuantization(Box::new(fb::BlockwiseQuantization {
                scales,
                zero_points,
                block_size,
            }));
        if let Some(t) = self
            .sg(sg)
            .tensors
            .as_mut()
            .and_then(|ts| ts.get_mut(tensor as usize))
        {
            t.quantization.get_or_insert_with(Default::default).details = Some(details);
        }
        self
    }

    /// Add a buffer holding `data` inline; returns its index.
    pub fn inline_buffer(&mut self, data: Vec<u8>) -> u32 {
        let buffers = self.model.buffers.get_or_insert_with(Vec::new);
        buffers.push(fb::Buffer {
            data: Some(data),
            offset: 0,
            size: 0,
        });
        (buffers.len() - 1) as u32
    }

    /// Add a buffer whose bytes are stored at `offset` of the file (the >2 GB layout).
    pub fn appended_buffer(&mut self, offset: u64, size: u64) -> u32 {
        let buffers = self.model.buffers.get_or_insert_with(Vec::new);
        buffers.push(fb::Buffer {
            data: None,
            offset,
            size,
        });
        (buffers.len() - 1) as u32
    }

    /// Add a constant tensor with `data_len` zero bytes of inline data.
    pub fn constant(
        &mut self,
        sg: usize,
        name: &str,
        shape: &[i32],
        dtype: i8,
        quant: Option<SynthQuant>,
        data_len: usize,
    ) -> i32 {
        // Distinct contents per buffer: planus's builder stores identical
        // byte vectors once, which would make weight-heavy models small.
        let index = self.model.buffers.as_ref().map_or(0, Vec::len);
        let mut data = vec![(index % 251) as u8; data_len];
        for (d, s) in data.iter_mut().zip((index as u64).to_le_bytes()) {
            *d = s;
        }
        let b = self.inline_buffer(data);
        self.tensor_with_buffer(sg, name, shape, dtype, quant, b)
    }

    /// Add an operator; inputs may hold -1 (absent) or any index.
    pub fn op(
        &mut self,
        sg: usize,
        opcode: u32,
        inputs: &[i32],
        outputs: &[i32],
        options: SynthOptions,
    ) -> usize {
        let builtin_options = match options {
            SynthOptions::None => None,
            SynthOptions::Conv2d { activation } => Some(fb::BuiltinOptions::Conv2DOptions(
                Box::new(fb::Conv2DOptions {
                    stride_w: 1,
                    stride_h: 1,
                    fused_activation_function: activation,
                    dilation_w_factor: 1,
                    dilation_h_factor: 1,
                    ..Default::default()
                }),
            )),
            SynthOptions::DepthwiseConv2d { activation } => Some(
                fb::BuiltinOptions::DepthwiseConv2DOptions(Box::new(fb::DepthwiseConv2DOptions {
                    stride_w: 1,
                    stride_h: 1,
                    depth_multiplier: 1,
                    fused_activation_function: activation,
                    dilation_w_factor: 1,
                    dilation_h_factor: 1,
                    ..Default::default()
                })),
            ),
            SynthOptions::FullyConnected { activation } => Some(
                fb::BuiltinOptions::FullyConnectedOptions(Box::new(fb::FullyConnectedOptions {
                    fused_activation_function: activation,
                    ..Default::default()
                })),
            ),
            SynthOptions::Add { activation } => {
                Some(fb::BuiltinOptions::AddOptions(Box::new(fb::AddOptions {
                    fused_activation_function: activation,
                    pot_scale_int16: true,
                })))
            }
            SynthOptions::Pool2d { activation } => Some(fb::BuiltinOptions::Pool2DOptions(
                Box::new(fb::Pool2DOptions {
                    stride_w: 2,
                    stride_h: 2,
                    filter_width: 2,
                    filter_height: 2,
                    fused_activation_function: activation,
                    ..Default::default()
                }),
            )),
            SynthOptions::While { cond, body } => Some(fb::BuiltinOptions::WhileOptions(Box::new(
                fb::WhileOptions {
                    cond_subgraph_index: cond,
                    body_subgraph_index: body,
                },
            ))),
            SynthOptions::If { then, otherwise } => {
                Some(fb::BuiltinOptions::IfOptions(Box::new(fb::IfOptions {
                    then_subgraph_index: then,
                    else_subgraph_index: otherwise,
                })))
            }
        };
        let ops = self.sg(sg).operators.get_or_insert_with(Vec::new);
        ops.push(fb::Operator {
            opcode_index: opcode,
            inputs: Some(inputs.to_vec()),
            outputs: Some(outputs.to_vec()),
            builtin_options,
            debug_metadata_index: -1,
            ..Default::default()
        });
        ops.len() - 1
    }

    /// Reverse the order of a subgraph's operators in the file: a valid
    /// graph whose file order is no execution order (for tests of order
    /// independence).
    pub fn reverse_ops(&mut self, sg: usize) -> &mut Self {
        if let Some(ops) = self.sg(sg).operators.as_mut() {
            ops.reverse();
        }
        self
    }

    /// Set a subgraph's inputs and outputs.
    pub fn io(&mut self, sg: usize, inputs: &[i32], outputs: &[i32]) -> &mut Self {
        let s = self.sg(sg);
        s.inputs = Some(inputs.to_vec());
        s.outputs = Some(outputs.to_vec());
        self
    }

    /// Add a signature.
    pub fn signature(
        &mut self,
        key: &str,
        subgraph: u32,
        inputs: &[(&str, u32)],
        outputs: &[(&str, u32)],
    ) -> &mut Self {
        let map = |v: &[(&str, u32)]| {
            Some(
                v.iter()
                    .map(|(n, t)| fb::TensorMap {
                        name: Some((*n).to_owned()),
                        tensor_index: *t,
                    })
                    .collect(),
            )
        };
        self.model
            .signature_defs
            .get_or_insert_with(Vec::new)
            .push(fb::SignatureDef {
                inputs: map(inputs),
                outputs: map(outputs),
                signature_key: Some(key.to_owned()),
                subgraph_index: subgraph,
            });
        self
    }

    /// Add a metadata entry whose value is `value` (in a new buffer).
    pub fn metadata(&mut self, name: &str, value: Vec<u8>) -> &mut Self {
        let buffer = self.inline_buffer(value);
        self.model
            .metadata
            .get_or_insert_with(Vec::new)
            .push(fb::Metadata {
                name: Some(name.to_owned()),
                buffer,
            });
        self
    }

    /// Serialize with the `TFL3` identifier.
    pub fn finish(&self) -> Vec<u8> {
        let mut model = self.model.clone();
        model.subgraphs = Some(self.subgraphs.clone());
        let mut b = planus::Builder::new();
        crate::measure::cut::finish_tfl3(&mut b, &model)
    }
}

/// Serialize a planus root table with the `TFL3` header (for tests that build
/// shapes the [`ModelBuilder`] cannot, such as shared tables).
pub fn finish_root<T>(
    builder: &mut planus::Builder,
    root: impl planus::WriteAsOffset<T>,
) -> Vec<u8> {
    crate::measure::cut::finish_tfl3(builder, root)
}

/// A chain of `blocks` repetitions of CONV_2D → ADD → RELU6-fused DEPTHWISE_CONV_2D
/// (int8, per-channel weights), with QUANTIZE at the start and DEQUANTIZE at the
/// end: a large, realistic integer graph for benchmarks. Each block adds 3
/// operators and 7 tensors (`weight_bytes` bytes of inline data per weight).
pub fn int8_chain(blocks: usize, weight_bytes: usize) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let q = m.builtin_v(BuiltinCode::QUANTIZE, 1);
    let dq = m.builtin_v(BuiltinCode::DEQUANTIZE, 2);
    let conv = m.builtin_v(BuiltinCode::CONV_2D, 3);
    let add = m.builtin_v(BuiltinCode::ADD, 2);
    let dw = m.builtin_v(BuiltinCode::DEPTHWISE_CONV_2D, 3);
    let act = |s: f32| Some(SynthQuant::per_tensor(s, -128));
    let shape = [1, 8, 8, 8];
    let input = m.tensor(sg, "serving_default_input:0", &shape, 0, None);
    let mut x = m.tensor(sg, "tfl.quantize", &shape, 9, act(0.02));
    m.op(sg, q, &[input], &[x], SynthOptions::None);
    // Scales follow the spec (bias scale = input scale x weight scale) so the
    // model is as clean as converter output: only its size is synthetic.
    let (w_scale, mut x_scale) = (0.01f32, 0.02f32);
    // Weights [8,1,1,8] quantized along `axis`, and their int32 bias.
    let weights = |m: &mut ModelBuilder, name: String, axis: i32, in_scale: f32| {
        let shape = if axis == 0 {
            [8, 1, 1, 8]
        } else {
            [1, 1, 1, 8]
        };
        let q = Some(SynthQuant::per_axis(vec![w_scale; 8], axis));
        let w = m.constant(sg, &name, &shape, 9, q, weight_bytes);
        let bq = Some(SynthQuant::per_axis(vec![in_scale * w_scale; 8], 0));
        let b = m.constant(
            sg,
            &format!("{name}/BiasAdd/ReadVariableOp"),
            &[8],
            2,
            bq,
            32,
        );
        (w, b)
    };
    for i in 0..blocks {
        let (w, b) = weights(&mut m, format!("model/conv{i}/Conv2D"), 0, x_scale);
        let c = m.tensor(
            sg,
            &format!("model/conv{i}/BiasAdd;model/conv{i}/Conv2D"),
            &shape,
            9,
            act(0.03),
        );
        m.op(
            sg,
            conv,
            &[x, w, b],
            &[c],
            SynthOptions::Conv2d { activation: 0 },
        );
        let s = m.tensor(sg, &format!("model/add{i}/add"), &shape, 9, act(0.04));
        m.op(sg, add, &[c, x], &[s], SynthOptions::Add { activation: 0 });
        let (dww, dwb) = weights(&mut m, format!("model/dw{i}/depthwise"), 3, 0.04);
        let y = m.tensor(
            sg,
            &format!("model/dw{i}/Relu6;model/dw{i}/BiasAdd;model/dw{i}/depthwise"),
            &shape,
            9,
            act(6.0 / 255.0),
        );
        m.op(
            sg,
            dw,
            &[s, dww, dwb],
            &[y],
            SynthOptions::DepthwiseConv2d { activation: 3 },
        );
        x = y;
        x_scale = 6.0 / 255.0;
    }
    let out = m.tensor(sg, "StatefulPartitionedCall:0", &shape, 0, None);
    m.op(sg, dq, &[x], &[out], SynthOptions::None);
    m.io(sg, &[input], &[out]);
    m.signature(
        "serving_default",
        0,
        &[("input", input as u32)],
        &[("output_0", out as u32)],
    );
    m.finish()
}

/// A float model whose weights total about `total_weight_bytes`: a chain of
/// FULLY_CONNECTED layers with large inline float32 weights.
pub fn weight_heavy_float(total_weight_bytes: usize, layers: usize) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let fc = m.builtin_v(BuiltinCode::FULLY_CONNECTED, 1);
    let per_layer = total_weight_bytes / layers.max(1);
    // Square weights [n, n] of float32 close to the requested size.
    let n = ((per_layer / 4) as f64).sqrt().max(1.0) as i32;
    let input = m.tensor(sg, "serving_default_x:0", &[1, n], 0, None);
    let mut x = input;
    for i in 0..layers {
        let w = m.constant(
            sg,
            &format!("model/dense{i}/MatMul"),
            &[n, n],
            0,
            None,
            (n as usize) * (n as usize) * 4,
        );
        let y = m.tensor(
            sg,
            &format!("model/dense{i}/MatMul;model/dense{i}/Relu"),
            &[1, n],
            0,
            None,
        );
        m.op(
            sg,
            fc,
            &[x, w, -1],
            &[y],
            SynthOptions::FullyConnected { activation: 1 },
        );
        x = y;
    }
    m.io(sg, &[input], &[x]);
    m.finish()
}

/// How the ops of [`shared_tensor`] use the one tensor they share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Every op reads the shared tensor and writes its own output.
    Readers,
    /// Every op reads the shared tensor and writes it again: a self loop on
    /// each op and as many writers as readers (malformed for the runtime).
    ReadersAndWriters,
}

/// A worst case for anything that walks producers and consumers: `ops` MUL
/// ops that all read one tensor (see [`Sharing`]), between int8 ADDs. With
/// `float`, the shared tensor is written by a float RELU behind a DEQUANTIZE
/// and the MULs run in float: one float island of `ops + 1` ops, as a QAT
/// model with unannotated layers has. Without, everything is int8 (the PTQ
/// conversion of the same network, with the same layer names). Each MUL
/// writes a tensor named after a layer of its own, so the island also has
/// `ops` distinct layers.
pub fn shared_tensor(ops: usize, sharing: Sharing, float: bool) -> Vec<u8> {
    let mut m = ModelBuilder::new();
    let sg = m.subgraph("main");
    let quantize = m.builtin(BuiltinCode::QUANTIZE);
    let dequantize = m.builtin(BuiltinCode::DEQUANTIZE);
    let add = m.builtin(BuiltinCode::ADD);
    let relu = m.builtin(BuiltinCode::RELU);
    let mul = m.builtin(BuiltinCode::MUL);
    let q = || Some(SynthQuant::per_tensor(0.05, -128));
    // The MULs' tensors: float, or int8 with the same parameters as the rest.
    let (dtype, mq) = if float { (0, None) } else { (9, q()) };
    let shape = [1, 8];
    let input = m.tensor(sg, "serving_default_x:0", &shape, 0, None);
    let xq = m.tensor(sg, "model/quant_in", &shape, 9, q());
    m.op(sg, quantize, &[input], &[xq], SynthOptions::None);
    let mut a = m.tensor(sg, "model/add_in/add", &shape, 9, q());
    m.op(
        sg,
        add,
        &[xq, xq],
        &[a],
        SynthOptions::Add { activation: 0 },
    );
    if float {
        let af = m.tensor(sg, "model/add_in/add_dequantize", &shape, 0, None);
        m.op(sg, dequantize, &[a], &[af], SynthOptions::None);
        a = af;
    }
    let shared = m.tensor(sg, "model/relu/Relu", &shape, dtype, mq.clone());
    m.op(sg, relu, &[a], &[shared], SynthOptions::None);
    let mut last = shared;
    for i in 0..ops {
        let out = match sharing {
            Sharing::Readers => {
                m.tensor(sg, &format!("model/mul{i}/mul"), &shape, dtype, mq.clone())
            }
            Sharing::ReadersAndWriters => shared,
        };
        m.op(sg, mul, &[shared, shared], &[out], SynthOptions::None);
        last = out;
    }
    if float {
        let yq = m.tensor(sg, "model/quant_out", &shape, 9, q());
        m.op(sg, quantize, &[last], &[yq], SynthOptions::None);
        last = yq;
    }
    let y = m.tensor(sg, "model/add_out/add", &shape, 9, q());
    m.op(
        sg,
        add,
        &[last, last],
        &[y],
        SynthOptions::Add { activation: 0 },
    );
    m.io(sg, &[input], &[y]);
    m.finish()
}
