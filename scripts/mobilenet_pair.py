#!/usr/bin/env python3
"""A real partially quantized MobileNetV2 pair, for looking at `tflq graph` pages.

Usage (from the repository root, with the TensorFlow venv of testdata/README.md):

    TF_USE_LEGACY_KERAS=1 CUDA_VISIBLE_DEVICES= python scripts/mobilenet_pair.py [OUTDIR]

OUTDIR defaults to target/mobilenet-pair. It writes two files there:

* `mobilenetv2_ptq.tflite`: tf-keras MobileNetV2 (96x96x3, alpha 0.35, 10
  classes, no pretrained weights), trained a few steps on seeded random data,
  converted with full-integer post-training quantization (Optimize.DEFAULT,
  TFLITE_BUILTINS_INT8, a seeded representative dataset; float input and
  output, as the converter's default).
* `mobilenetv2_qat.tflite`: the same trained network with only its Conv2D
  and Dense layers annotated (tfmot's quantize_annotate_layer), then
  quantize_apply, a few more steps, converted with Optimize.DEFAULT. The
  BatchNormalization, ReLU6, DepthwiseConv2D, Add and pooling layers stay
  unannotated, so the QAT model has float islands between DEQUANTIZE and
  QUANTIZE ops: a model of about two hundred ops with dozens of islands.

`scripts/render_png.sh` draws this pair when it exists; the models are not
committed (the repository's fixtures are smaller).
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

SEED = 7
SHAPE = (96, 96, 3)
CLASSES = 10
STEPS = 4
BATCH = 8


def data(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n,) + SHAPE).astype(np.float32)
    y = rng.integers(0, CLASSES, size=(n,))
    return x, tf_keras.utils.to_categorical(y, CLASSES)


def train(model, seed):
    x, y = data(seed, STEPS * BATCH)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)


def representative():
    x, _ = data(SEED + 1, 16)
    for i in range(len(x)):
        yield [x[i : i + 1]]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("target", "mobilenet-pair")
    os.makedirs(out, exist_ok=True)
    tf.keras.utils.set_random_seed(SEED)
    tf_keras.utils.set_random_seed(SEED)

    model = tf_keras.applications.MobileNetV2(
        input_shape=SHAPE, alpha=0.35, weights=None, classes=CLASSES
    )
    train(model, SEED)

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    ptq = conv.convert()

    annotate = tfmot.quantization.keras.quantize_annotate_layer

    def clone(layer):
        # Conv2D only, not its DepthwiseConv2D subclass.
        if type(layer) in (tf_keras.layers.Conv2D, tf_keras.layers.Dense):
            return annotate(layer)
        return layer

    annotated = tf_keras.models.clone_model(model, clone_function=clone)
    annotated.set_weights(model.get_weights())
    qat_model = tfmot.quantization.keras.quantize_apply(annotated)
    train(qat_model, SEED + 2)

    conv = tf.lite.TFLiteConverter.from_keras_model(qat_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    qat = conv.convert()

    for name, blob in (("mobilenetv2_ptq.tflite", ptq), ("mobilenetv2_qat.tflite", qat)):
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(blob)
        ops = len(tf.lite.Interpreter(model_content=blob)._get_ops_details())
        print(f"{path}: {len(blob)} bytes, {ops} ops")


if __name__ == "__main__":
    main()
