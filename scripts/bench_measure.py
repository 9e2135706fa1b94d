"""Benchmark of `tflq measure` next to TensorFlow's QuantizationDebugger (docs/performance.md).

MobileNetV2 (keras.applications, 224x224, alpha 1.0, random weights with BatchNorm statistics from one
pass over the calibration data: the timing does not depend on training) as float, full-integer PTQ and QAT (tfmot's quantize_model, converted right away), measured
on the same random samples. Each tool runs in a process of its own, timed from outside, and its peak
resident memory is that process tree's largest (getrusage of the waited-for children).

    CUDA_VISIBLE_DEVICES= TF_USE_LEGACY_KERAS=1 /path/to/tf-venv/bin/python scripts/bench_measure.py \\
        --tflq target/release/tflq --runner-python /path/to/venv-with-tflq/bin/python [--samples 100]

Needs TensorFlow, tf-keras and tfmot (the testdata venv) for the models and QuantizationDebugger, and a
Python with the tflq package and ai-edge-litert for the runner. Writes into target/bench-measure/.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "bench-measure")


def make_models(samples):
    import numpy as np
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    keras = tf.keras
    keras.utils.set_random_seed(7)
    model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    rng = np.random.default_rng(8)
    calib = rng.random((16, 224, 224, 3), dtype=np.float32) * 2 - 1
    # Random weights with BatchNorm's initial statistics let the activations fade to nothing by
    # the last blocks (a float output of 0.001 everywhere); one pass in training mode with
    # momentum 0 gives every BatchNorm the statistics of real activations instead.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(calib, training=True)
    data = rng.random((samples, 224, 224, 3), dtype=np.float32) * 2 - 1
    np.save(os.path.join(OUT, "samples.npy"), data)

    def rep():
        for i in range(calib.shape[0]):
            yield [calib[i:i + 1]]

    def convert(m, optimize, dataset=None):
        c = tf.lite.TFLiteConverter.from_keras_model(m)
        if optimize:
            c.optimizations = [tf.lite.Optimize.DEFAULT]
        if dataset is not None:
            c.representative_dataset = dataset
        return c.convert()

    files = {
        "float": convert(model, False),
        "ptq": convert(model, True, rep),
        "qat": convert(tfmot.quantization.keras.quantize_model(model), True),
    }
    for name, data_bytes in files.items():
        with open(os.path.join(OUT, f"{name}.tflite"), "wb") as f:
            f.write(data_bytes)
    model.save(os.path.join(OUT, "float_keras"), save_format="tf")


def qd_child(samples):
    """QuantizationDebugger on the float Keras model with the same data, as its tutorial runs it."""
    import numpy as np
    import tensorflow as tf

    model = tf.keras.models.load_model(os.path.join(OUT, "float_keras"))
    data = np.load(os.path.join(OUT, "samples.npy"), mmap_mode="r")[:samples]
    rng = np.random.default_rng(8)
    calib = rng.random((16, 224, 224, 3), dtype=np.float32) * 2 - 1

    def rep():
        for i in range(calib.shape[0]):
            yield [calib[i:i + 1]]

    def debug_data():
        for i in range(data.shape[0]):
            yield [np.asarray(data[i:i + 1])]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep
    t0 = time.perf_counter()
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=debug_data)
    t1 = time.perf_counter()
    debugger.run()
    t2 = time.perf_counter()
    print(json.dumps({"setup_s": t1 - t0, "run_s": t2 - t1, "layers": len(debugger.layer_statistics)}))


# Runs a command and prints its process tree's peak resident size (KiB) and CPU time (user + system,
# seconds) last on standard error: a fresh process per run, so the children's figures are this run's
# alone. CPU time does not grow when other work shares the machine; wall time does.
WRAP = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); sys.exit(r.returncode)")


def timed(cmd, env=None):
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", WRAP, *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {r.stderr[-2000:]}")
    peak_kib, cpu = r.stderr.strip().splitlines()[-1].split()
    return wall, int(peak_kib), float(cpu), r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tflq", default=os.path.join(ROOT, "target", "release", "tflq"))
    ap.add_argument("--runner-python", required=True)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--child", choices=["qd"])
    args = ap.parse_args()
    if args.child == "qd":
        qd_child(args.samples)
        return
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(os.path.join(OUT, "qat.tflite")):
        make_models(args.samples)
    env = dict(os.environ, TFLQ_PYTHON=args.runner_python)
    models = [os.path.join(OUT, f"{n}.tflite") for n in ("float", "ptq", "qat")]
    results = {}
    for label, files, n in (("tflq float+PTQ, 10 samples", models[:2], 10),
                            ("tflq float+PTQ", models[:2], args.samples),
                            ("tflq float+PTQ+QAT", models, args.samples)):
        wall, peak, cpu, _ = timed([args.tflq, "measure", *files, "--inputs", os.path.join(OUT, "samples.npy"),
                               "--max-samples", str(n), "--format", "json", "-o", os.path.join(OUT, "m.json")],
                              env)
        results[label] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mib": round(peak / 1024)}
        print(label, results[label], flush=True)
    wall, peak, cpu, out = timed([sys.executable, __file__, "--child", "qd", "--samples", str(args.samples),
                             "--runner-python", args.runner_python])
    qd = json.loads(out.strip().splitlines()[-1])
    results["QuantizationDebugger (PTQ)"] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                                             "peak_rss_mib": round(peak / 1024),
                                             "setup_s": round(qd["setup_s"], 1), "run_s": round(qd["run_s"], 1)}
    print("QuantizationDebugger", results["QuantizationDebugger (PTQ)"], flush=True)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
