//! tflq
