#!/usr/bin/env python3
"""Generate the onnx2tf fixtures from the ONNX files made by generate_torch.py.

Usage (from the repository root; onnx2tf needs Python >= 3.12):

    python3.12 -m venv /path/to/onnx2tfvenv
    /path/to/onnx2tfvenv/bin/pip install -r testdata/requirements-onnx2tf.txt
    CUDA_VISIBLE_DEVICES="" /path/to/onnx2tfvenv/bin/python testdata/generate_onnx2tf.py [OUTPUT_DIR]
    # then, in the TensorFlow venv of requirements.txt:
    /path/to/tfvenv/bin/python testdata/reference_external.py

Inputs (committed, written by generate_torch.py): testdata/tinynet.onnx (the
litert-torch fixtures' trained float TinyNet) and testdata/tinynet_nonorm.onnx
(the same without its LayerNorm).

onnx2tf 2.x has two ways of writing a .tflite:
* `flatbuffer_direct` (the default): onnx2tf's own FlatBuffer writer and its own
  int8 quantizer. No TensorFlow converter involved.
* `tf_converter` (`-tb tf_converter`): onnx2tf builds a Keras/TF graph, saves a
  SavedModel and runs tf.lite.TFLiteConverter on it.

Fixtures written (the onnx2tf command for each is printed, and listed in
testdata/README.md):
* onnx2tf_float32.tflite   tinynet.onnx, flatbuffer_direct, float32
* onnx2tf_float16.tflite   tinynet.onnx, flatbuffer_direct, float16 (the same run)
* onnx2tf_int8.tflite      tinynet_nonorm.onnx, flatbuffer_direct, `-oiqt` (int8, float I/O).
  With tinynet.onnx onnx2tf fails: "Unsupported op for strict full integer
  quantization: index=13 op_type=SQRT" (LayerNormalization is lowered with SQRT).
* onnx2tf_tfconv_int8.tflite  tinynet.onnx, `-tb tf_converter -oiqt` (the TF
  converter's int8 PTQ with onnx2tf's calibration data feeding).

Calibration data for -oiqt: 64 NHWC images in [0, 1) (numpy PCG64 seed 21),
mean 0 and std 1 (`-cind input calib.npy "[[[[0,0,0]]]]" "[[[[1,1,1]]]]"`).
"""

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# (fixture name, onnx input, extra onnx2tf arguments, file onnx2tf writes)
RUNS = [
    ("tinynet.onnx", [], {
        "onnx2tf_float32": "tinynet_float32.tflite",
        "onnx2tf_float16": "tinynet_float16.tflite",
    }),
    ("tinynet_nonorm.onnx", ["-oiqt", "CIND"], {
        "onnx2tf_int8": "tinynet_nonorm_integer_quant.tflite",
    }),
    ("tinynet.onnx", ["-tb", "tf_converter", "-oiqt", "CIND"], {
        "onnx2tf_tfconv_int8": "tinynet_integer_quant.tflite",
    }),
]


def main():
    out_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else HERE)
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ)
    # onnx2tf runs the `onnxsim` command of its own venv; make it findable.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    onnx2tf = os.path.join(os.path.dirname(sys.executable), "onnx2tf")
    version = subprocess.run([onnx2tf, "-V"], capture_output=True, text=True, env=env).stdout.strip()
    print(f"onnx2tf {version}; writing to {out_dir}")

    with tempfile.TemporaryDirectory(prefix="tflq_onnx2tf_") as tmp:
        calib = os.path.join(tmp, "calib.npy")
        np.save(calib, np.random.default_rng(21).random((64, 32, 32, 3), dtype=np.float32))
        for k, (onnx_name, extra, outputs) in enumerate(RUNS):
            run_dir = os.path.join(tmp, f"run{k}")
            # onnx2tf names its outputs after the input file; work on a copy so
            # the names do not depend on where the repository is.
            src = os.path.join(run_dir, onnx_name)
            os.makedirs(run_dir)
            shutil.copy(os.path.join(HERE, onnx_name), src)
            args = []
            for a in extra:
                args += ["-cind", "input", calib, "[[[[0,0,0]]]]", "[[[[1,1,1]]]]"] if a == "CIND" else [a]
            cmd = [onnx2tf, "-i", src, "-o", os.path.join(run_dir, "out")] + args
            shown = " ".join(c if " " not in c and "[" not in c else f'"{c}"' for c in cmd)
            print("$ " + shown.replace(run_dir + "/", "").replace(calib, "calib.npy"))
            res = subprocess.run(cmd, cwd=run_dir, env=env, capture_output=True, text=True)
            if res.returncode != 0:
                print(res.stdout[-4000:], res.stderr[-4000:])
                sys.exit(f"onnx2tf failed on {onnx_name}")
            for fixture, produced in outputs.items():
                with open(os.path.join(run_dir, "out", produced), "rb") as f:
                    data = f.read()
                with open(os.path.join(out_dir, fixture + ".tflite"), "wb") as f:
                    f.write(data)
                print(f"- {fixture}.tflite ({len(data)} bytes) <- {produced}")


if __name__ == "__main__":
    main()
