//! `tflq._tflq.GapSession`: the Rust half of `tflq.keras.conversion_gap`.
//! It names the tensor that carries each layer's output in a converted model
//! and folds (layer output, tensor) pairs into running sums; the Python
//! runner (`tflq._runner`, in a child process) hands it the values. The
//! attribution, decoding and sums are the library's (`tflq::measure::layers`).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use tflq::measure::layers::{self, TensorError};
use tflq::model::TensorId;

use crate::TflqError;
use crate::buffer::with_bytes;

fn err(e: impl std::fmt::Display) -> PyErr {
    TflqError::new_err(e.to_string())
}

/// One converted model against a framework's layer outputs.
#[pyclass(module = "tflq._tflq")]
#[derive(Debug)]
pub struct GapSession {
    layers: Vec<layers::LayerOutput>,
    watched: Vec<(u32, TensorError)>,
}

#[pymethods]
impl GapSession {
    /// Read the model at `path` (labelled `label` in errors) and watch
    /// `tensors` (indices in the main subgraph) for [`put`](Self::put).
    #[new]
    fn new(py: Python<'_>, path: String, label: String, tensors: Vec<u32>) -> PyResult<GapSession> {
        py.detach(|| {
            let bytes =
                std::fs::read(&path).map_err(|e| err(format!("{label}: cannot read: {e}")))?;
            let model = tflq::load(&bytes)
                .map_err(|e| err(format!("{:#}", tflq::cli::named(e, &label))))?;
            let insp = tflq::analysis::inspect(&model);
            let layers = layers::layer_outputs(&model, &insp);
            let watched = tensors
                .iter()
                .map(|&t| {
                    TensorError::new(&model, TensorId(t))
                        .map(|e| (t, e))
                        .ok_or_else(|| err(format!("{label}: no tensor {t} of known size")))
                })
                .collect::<PyResult<_>>()?;
            Ok(GapSession { layers, watched })
        })
    }

    /// The tensor of each layer's output, in execution order: dicts with
    /// `layer`, `op`, `opcode`, `tensor`, `dtype`, `scale` and `zero_point`
    /// (None unless quantized per tensor) and `folded` (the layers folded
    /// into the op).
    fn layers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for o in &self.layers {
            let d = PyDict::new(py);
            d.set_item("layer", &o.layer)?;
            d.set_item("op", o.op.0)?;
            d.set_item("opcode", &o.opcode)?;
            d.set_item("tensor", o.tensor.0)?;
            d.set_item("dtype", o.dtype.to_string())?;
            d.set_item("scale", o.quantization.map(|q| q.0))?;
            d.set_item("zero_point", o.quantization.map(|q| q.1))?;
            d.set_item("folded", o.folded.clone())?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// Add one sample of watched tensor `k`: `reference` the float32 values
    /// the framework computed, `measured` the interpreter's tensor (any
    /// contiguous buffer).
    fn put(
        &mut self,
        k: usize,
        reference: &Bound<'_, PyAny>,
        measured: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let Some((t, e)) = self.watched.get_mut(k) else {
            return Err(err(format!("no watched tensor {k}")));
        };
        let t = *t;
        with_bytes(reference, |r| with_bytes(measured, |m| e.add(r, m)))??
            .map_err(|e| err(format!("tensor {t}: {e}")))
    }

    /// The metrics of each watched tensor: dicts with `count`, `sqnr_db`
    /// (None: no error at all), `rmse`, `rmse_over_scale`, `cosine`,
    /// `max_abs_error`, `mean_error`; None before the first sample.
    fn results<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (_, e) in &self.watched {
            let Some(m) = e.metrics() else {
                list.append(py.None())?;
                continue;
            };
            let d = PyDict::new(py);
            d.set_item("count", m.count)?;
            d.set_item("sqnr_db", m.sqnr_db)?;
            d.set_item("rmse", m.rmse)?;
            d.set_item("rmse_over_scale", m.rmse_over_scale)?;
            d.set_item("cosine", m.cosine)?;
            d.set_item("max_abs_error", m.max_abs_error)?;
            d.set_item("mean_error", m.mean_error)?;
            list.append(d)?;
        }
        Ok(list)
    }
}
