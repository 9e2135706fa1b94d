#!/usr/bin/env python3
"""Copy a few MediaPipe solution models out of the mediapipe wheel into testdata/.

MediaPipe's .tflite files were made by Google with converters we cannot run
(the pre-MLIR "keras2tflite" exporter and the MLIR converter with sparsity),
so they are taken as published, unchanged, from the PyPI wheel:

    pip download mediapipe==0.10.21 --no-deps -d /tmp/mp
    python3 testdata/extract_mediapipe.py /tmp/mp/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl

Only the standard library is used (a wheel is a zip file; nothing is
installed).  Each file is checked against the SHA-256 it had when the
fixtures were committed, so a different wheel fails loudly instead of
silently changing a fixture.  The wheel, and so these models, are under the
Apache License 2.0 (the wheel's LICENSE file and its METADATA
"License: Apache 2.0").

The reference readings (<name>.ref.json) are written afterwards by
reference_external.py, in the TensorFlow venv.
"""

import hashlib
import os
import sys
import zipfile

WHEEL_VERSION = "0.10.21"

# fixture name -> (path inside the wheel, sha256 of the file)
MODELS = {
    # pre-MLIR exporter, pure float32, PRELU, no metadata at all
    "mediapipe_hand_recrop": (
        "mediapipe/modules/holistic_landmark/hand_recrop.tflite",
        "67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d"),
    # pre-MLIR exporter, float16 weights + DEQUANTIZE, flat Keras layer names
    "mediapipe_face_detection_short_range": (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    # pre-MLIR exporter, float16 weights, PRELU; no metadata and a description
    # that names no exporter: a layer's output is named after the layer alone
    "mediapipe_face_landmark": (
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
    # MLIR converter, sparse float16 weights (DENSIFY -> DEQUANTIZE), nested
    # Keras model scopes (model_1/model/<layer>/...)
    "mediapipe_face_detection_full_range_sparse": (
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"),
}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    wheel = sys.argv[1]
    out_dir = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__)))
    if f"mediapipe-{WHEEL_VERSION}-" not in os.path.basename(wheel):
        sys.exit(f"expected the mediapipe {WHEEL_VERSION} wheel, got {wheel}")
    with zipfile.ZipFile(wheel) as z:
        for name, (inner, sha) in MODELS.items():
            data = z.read(inner)
            got = hashlib.sha256(data).hexdigest()
            if got != sha:
                sys.exit(f"{inner}: sha256 {got}, expected {sha}")
            with open(os.path.join(out_dir, name + ".tflite"), "wb") as f:
                f.write(data)
            print(f"{name}.tflite  {len(data)} bytes  <- {inner}")


if __name__ == "__main__":
    main()
