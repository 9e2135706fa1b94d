#!/usr/bin/env python3
"""Generate the litert-torch fixtures: a small PyTorch CNN converted three ways.

Usage (from the repository root; the venv is described in testdata/README.md):

    python3.11 -m venv /path/to/torchvenv
    /path/to/torchvenv/bin/pip install -r testdata/requirements-torch.txt
    CUDA_VISIBLE_DEVICES="" /path/to/torchvenv/bin/python testdata/generate_torch.py [OUTPUT_DIR]
    # then, in the TensorFlow venv of requirements.txt:
    /path/to/tfvenv/bin/python testdata/reference_external.py

Writes torch_float.tflite, torch_ptq.tflite and torch_qat.tflite, plus the
ONNX inputs of generate_onnx2tf.py (tinynet.onnx, tinynet_nonorm.onnx):

* torch_float: `litert_torch.convert(model, args)`, no quantization;
* torch_ptq:   PT2E post-training quantization: torch.export -> prepare_pt2e with
  litert-torch's PT2EQuantizer (symmetric int8, per-channel weights) ->
  calibration batches -> convert_pt2e -> litert_torch.convert(quant_config=...);
* torch_qat:   PT2E quantization-aware training: the same quantizer config with
  is_qat=True -> prepare_qat_pt2e -> a few training steps -> convert_pt2e ->
  litert_torch.convert(quant_config=...).

The .ref.json readings are NOT written here: this venv has no TensorFlow, and
the reference must be TensorFlow's own flatbuffer reader.  reference_external.py
(run with the TensorFlow venv) writes them.

Determinism: fixed seeds (torch, numpy), single-threaded torch,
torch.use_deterministic_algorithms(True).  See testdata/README.md for the
result of running this twice.
"""

import copy
import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import litert_torch  # noqa: E402
from litert_torch.quantize import pt2e_quantizer  # noqa: E402
from litert_torch.quantize.quant_config import QuantConfig  # noqa: E402
from torchao.quantization.pt2e import quantize_pt2e  # noqa: E402
from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train  # noqa: E402

from litert_torch.quantize import pt2e_quantizer_utils  # noqa: E402
from torchao.quantization.pt2e import WrapperModule  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

SEED = 2024
IMG = (3, 32, 32)          # NCHW without the batch
NUM_CLASSES = 10
BATCH = 8
FLOAT_STEPS = 60           # short float training so BN statistics and weights are not the init values
CALIB_BATCHES = 8          # PTQ calibration: 8 batches of 8 images
QAT_STEPS = 40             # PT2E QAT fine-tuning steps


class Block(nn.Module):
    """conv -> bn -> (+ residual) -> relu."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)) + x)


class TinyNet(nn.Module):
    """stem (conv+bn+relu) -> blocks.0, blocks.1 (residual) -> pool -> norm (LayerNorm) -> head (Linear).

    Module paths as PyTorch names them: stem.0 (Conv2d), stem.1 (BatchNorm2d),
    stem.2 (ReLU), blocks.0.conv / blocks.0.bn / blocks.0.act, blocks.1.*,
    pool, norm, head.
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(Block(16), Block(16))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, NUM_CLASSES)

    def forward(self, x):
        x = self.stem(x)
        x = self.blocks(x)
        x = self.pool(x).flatten(1)
        return self.head(self.norm(x))


def make_images(seed, n):
    """n images in [0,1) with labels from a fixed random linear teacher (as generate.py does)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n,) + IMG, dtype=np.float32)
    pooled = x.reshape(n, 3, 4, 8, 4, 8).mean(axis=(3, 5)).reshape(n, -1)
    teacher = np.random.default_rng(1000 + seed).standard_normal((pooled.shape[1], NUM_CLASSES))
    y = np.argmax((pooled - 0.5) @ teacher, axis=1).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def train(model, steps, seed_data, lr):
    x, y = make_images(seed_data, steps * BATCH)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for i in range(steps):
        xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    return model


def sample_args():
    return (make_images(99, 1)[0],)


def export_for_quantization(model):
    """torch.export with a dynamic batch (calibration and QAT run on batches of BATCH;
    litert_torch.convert later re-exports with the batch-1 sample)."""
    batch = torch.export.Dim("batch", max=1024)
    return torch.export.export(model, (make_images(98, BATCH)[0],),
                               dynamic_shapes=({0: batch},)).module()


def _patch_litert_torch_conv_bn_pattern():
    """Work around a litert-torch 0.10.0 bug that breaks every PT2E QAT model with conv+bn.

    For QAT, litert-torch's quantizer matches conv+bn(+relu) by tracing a pattern
    *function* with torchao's `_get_aten_graph_module_for_pattern`, which calls
    `torch.export.export(pattern, ...)`.  torch 2.14 (the newest torch that
    litert-torch 0.10.0 accepts, so the one pip installs) refuses a plain
    function: "ValueError: Expected `mod` to be an instance of `torch.nn.Module`,
    got <class 'function'>".  torchao's own callers wrap their pattern functions
    in `WrapperModule`; we do the same for litert-torch's call, so the quantizer
    and its annotations are unchanged.  PTQ does not take this path.
    """
    original = pt2e_quantizer_utils._get_aten_graph_module_for_pattern

    def wrapped(pattern, example_inputs, *args, **kwargs):
        if not isinstance(pattern, nn.Module):
            pattern = WrapperModule(pattern)
        return original(pattern, example_inputs, *args, **kwargs)

    pt2e_quantizer_utils._get_aten_graph_module_for_pattern = wrapped


def quantizer(is_qat):
    # litert-torch's own PT2E quantizer and config: int8 symmetric, per-channel
    # weights, static (calibrated) activations.
    return pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_qat=is_qat))


def to_bytes(edge_model, tmp_path):
    edge_model.export(tmp_path)
    with open(tmp_path, "rb") as f:
        return f.read()


def build_all(tmp_dir):
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    float_model = TinyNet()
    train(float_model.train(), FLOAT_STEPS, seed_data=11, lr=1e-2)
    float_model.eval()
    args = sample_args()
    out = {}

    # --- float --------------------------------------------------------------
    out["torch_float"] = to_bytes(litert_torch.convert(float_model, args),
                                  os.path.join(tmp_dir, "f.tflite"))

    # --- PT2E PTQ -----------------------------------------------------------
    q = quantizer(is_qat=False)
    m = export_for_quantization(copy.deepcopy(float_model).eval())
    m = quantize_pt2e.prepare_pt2e(m, q)
    calib, _ = make_images(21, CALIB_BATCHES * BATCH)
    with torch.no_grad():
        for i in range(CALIB_BATCHES):
            m(calib[i * BATCH:(i + 1) * BATCH])
    m = quantize_pt2e.convert_pt2e(m, fold_quantize=False)
    out["torch_ptq"] = to_bytes(litert_torch.convert(m, args, quant_config=QuantConfig(pt2e_quantizer=q)),
                                os.path.join(tmp_dir, "p.tflite"))

    # --- PT2E QAT -----------------------------------------------------------
    torch.manual_seed(SEED + 1)
    _patch_litert_torch_conv_bn_pattern()
    q = quantizer(is_qat=True)
    m = export_for_quantization(copy.deepcopy(float_model).train())
    m = quantize_pt2e.prepare_qat_pt2e(m, q)
    move_exported_model_to_train(m)
    train(m, QAT_STEPS, seed_data=12, lr=1e-3)
    move_exported_model_to_eval(m)
    m = quantize_pt2e.convert_pt2e(m, fold_quantize=False)
    out["torch_qat"] = to_bytes(litert_torch.convert(m, args, quant_config=QuantConfig(pt2e_quantizer=q)),
                                os.path.join(tmp_dir, "q.tflite"))

    # --- ONNX inputs for generate_onnx2tf.py ---------------------------------
    # The same trained float model, exported with torch's TorchScript-based
    # ONNX exporter (dynamo=False): its node names carry the module path
    # (`/blocks/blocks.0/conv/Conv`), as in most ONNX files onnx2tf users have.
    # tinynet_nonorm.onnx drops the LayerNorm (norm -> Identity): onnx2tf's own
    # int8 writer refuses the SQRT that LayerNormalization lowers to.
    out["tinynet.onnx"] = export_onnx(float_model, args, os.path.join(tmp_dir, "t.onnx"))
    no_norm = copy.deepcopy(float_model)
    no_norm.norm = nn.Identity()
    out["tinynet_nonorm.onnx"] = export_onnx(no_norm, args, os.path.join(tmp_dir, "n.onnx"))
    return out


def export_onnx(model, args, tmp_path):
    torch.onnx.export(model.eval(), args, tmp_path, dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"])
    with open(tmp_path, "rb") as f:
        return f.read()


def main():
    import tempfile
    out_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(out_dir, exist_ok=True)
    print(f"torch {torch.__version__}, litert-torch {litert_torch.__version__}, numpy {np.__version__}; "
          f"writing to {out_dir}")
    with tempfile.TemporaryDirectory(prefix="tflq_torch_") as tmp:
        models = build_all(tmp)
    for name, data in models.items():
        fname = name if name.endswith(".onnx") else name + ".tflite"
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(data)
        print(f"- {fname} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
