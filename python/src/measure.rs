//! `tflq._tflq.MeasureSession`: the Rust half of `tflq.measure`. The Python
//! runner (`tflq._runner`, in a child process) asks it which interpreter runs
//! a sample needs, hands it every tensor it reads, and asks it for the
//! report. Pairing, cutting, the sums and the report are the library's
//! (`tflq::measure`); nothing here knows TFLite.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use tflq::measure::{Accumulator, Plan, RunModel, Source};

use crate::TflqError;

/// Positions of the files: float, PTQ (or the one quantized model), QAT,
/// the QAT model's own float model.
const FLOAT: usize = 0;
const QAT_FLOAT: usize = 3;

/// The files of a measurement, kept in memory: the plan's cuts and the
/// report read them again.
#[derive(Debug)]
struct Files {
    bytes: Vec<Option<Vec<u8>>>,
    labels: Vec<String>,
}

impl Files {
    fn models(&self) -> anyhow::Result<Vec<Option<tflq::Model<'_>>>> {
        self.bytes
            .iter()
            .zip(&self.labels)
            .map(|(b, l)| {
                b.as_deref()
                    .map(|b| tflq::load(b).map_err(|e| tflq::cli::named(e, l)))
                    .transpose()
            })
            .collect()
    }
}

/// One measurement in progress.
#[pyclass(module = "tflq._tflq")]
#[derive(Debug)]
pub struct MeasureSession {
    files: Files,
    plan: Plan,
    acc: Accumulator,
}

fn err(e: impl std::fmt::Display) -> PyErr {
    TflqError::new_err(e.to_string())
}

/// The models in file order, and the float and quantized ones apart.
struct Sets<'a, 'm> {
    floats: Vec<&'a tflq::Model<'m>>,
    quantized: Vec<&'a tflq::Model<'m>>,
}

fn sets<'a, 'm>(models: &'a [Option<tflq::Model<'m>>]) -> Sets<'a, 'm> {
    let at = |i: usize| models.get(i).and_then(Option::as_ref);
    Sets {
        floats: [FLOAT, QAT_FLOAT].into_iter().filter_map(at).collect(),
        quantized: [1, 2].into_iter().filter_map(at).collect(),
    }
}

#[pymethods]
impl MeasureSession {
    /// Read the models at `paths` (float, PTQ or the one quantized model,
    /// QAT or None, the QAT model's own float model or None), labelled
    /// `labels` in messages and reports, and plan the runs.
    #[new]
    fn new(
        py: Python<'_>,
        paths: Vec<Option<String>>,
        labels: Vec<String>,
    ) -> PyResult<MeasureSession> {
        if paths.len() != 4 || labels.len() != 4 || paths[0].is_none() || paths[1].is_none() {
            return Err(PyValueError::new_err(
                "give four paths (float, quantized, QAT or None, QAT float or None) and four labels",
            ));
        }
        py.detach(|| {
            let mut bytes = Vec::with_capacity(4);
            for (p, l) in paths.iter().zip(&labels) {
                bytes.push(
                    p.as_ref()
                        .map(|p| {
                            std::fs::read(p).map_err(|e| err(format!("{l}: cannot read: {e}")))
                        })
                        .transpose()?,
                );
            }
            let files = Files { bytes, labels };
            let models = files.models().map_err(|e| err(format!("{e:#}")))?;
            let input = |i: usize| {
                models[i]
                    .as_ref()
                    .zip(files.bytes[i].as_deref())
                    .map(|(model, bytes)| tflq::measure::Input { model, bytes })
            };
            let (Some(float), Some(first)) = (input(FLOAT), input(1)) else {
                return Err(err("the float and the quantized model are required"));
            };
            let plan = Plan::new(float, input(QAT_FLOAT), first, input(2))
                .map_err(|e| err(format!("{}: {e}", files.labels[FLOAT])))?;
            let s = sets(&models);
            let acc = Accumulator::new(&plan, &s.floats, &s.quantized);
            drop(models);
            Ok(MeasureSession { files, plan, acc })
        })
    }

    /// The runs of one sample, in order: dicts with `name`, `model` (the
    /// position of the file among the paths given, or None), `content` (the
    /// bytes of a cut model, or None), `preserve_all_tensors`, `inputs`
    /// (tuples `(tensor, "sample", k, 0)` or `(tensor, "tensor", run,
    /// source_tensor)`) and `reads` (tensor indices).
    fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for run in &self.plan.runs {
            let d = PyDict::new(py);
            d.set_item("name", &run.name)?;
            let (model, content) = match &run.model {
                RunModel::Float(0) => (Some(FLOAT), None),
                RunModel::Float(_) => (Some(QAT_FLOAT), None),
                RunModel::Quantized(i) => (Some(i + 1), None),
                RunModel::Cut(bytes) => (None, Some(PyBytes::new(py, bytes))),
            };
            d.set_item("model", model)?;
            d.set_item("content", content)?;
            d.set_item("preserve_all_tensors", run.preserve_all_tensors)?;
            let inputs = PyList::empty(py);
            for (t, src) in &run.inputs {
                match *src {
                    Source::Sample(k) => inputs.append((*t, "sample", k, 0u32))?,
                    Source::Tensor { run, tensor } => inputs.append((*t, "tensor", run, tensor))?,
                }
            }
            d.set_item("inputs", inputs)?;
            d.set_item("reads", run.reads.clone())?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// The float model's inputs: `(dtype, shape)` each.
    fn inputs(&self) -> Vec<(String, Vec<i32>)> {
        self.plan
            .inputs
            .iter()
            .map(|(d, s)| (d.to_string(), s.clone()))
            .collect()
    }

    /// Hand over tensor `tensor` of run `run`: its raw bytes, as `bytes` or
    /// any contiguous buffer (the interpreter's numpy array itself, read in
    /// place on Python 3.11 and later, copied once before).
    fn put(&mut self, run: usize, tensor: u32, data: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::buffer::with_bytes(data, |b| self.acc.put(run, tensor, b))?.map_err(err)
    }

    /// Fold the current sample into the sums.
    fn end_sample(&mut self) {
        self.acc.end_sample(&self.plan);
    }

    /// Samples folded in so far.
    #[getter]
    fn samples(&self) -> u64 {
        self.acc.samples
    }

    /// The gate of `tflq measure --fail-below`: why each quantized model's
    /// output SQNR falls below `min_db` (empty: every one reaches it).
    fn below(&self, py: Python<'_>, min_db: f64) -> PyResult<Vec<String>> {
        if !min_db.is_finite() {
            return Err(PyValueError::new_err(
                "min_db must be a finite number of dB",
            ));
        }
        py.detach(|| {
            let models = self.files.models().map_err(|e| err(format!("{e:#}")))?;
            let m = self.measurement(&sets(&models), &Default::default());
            Ok(m.below(min_db))
        })
    }

    /// The report: `format` is `json`, `table`, `text` or `model-explorer`;
    /// `target_sqnr` the model-output SQNR (dB) the kept-float layers are
    /// chosen for; `inputs` and `runtime` describe the run in the report;
    /// `side` picks the model Model Explorer data is for (`ptq`, `qat`).
    #[allow(clippy::too_many_arguments)]
    fn render(
        &self,
        py: Python<'_>,
        format: &str,
        target_sqnr: f64,
        inputs: String,
        runtime: String,
        width: u16,
        side: String,
    ) -> PyResult<String> {
        let format = tflq::report::measure::MeasureFormat::parse(format)
            .ok_or_else(|| PyValueError::new_err(format!("unknown format {format:?}")))?;
        if !target_sqnr.is_finite() {
            return Err(PyValueError::new_err(
                "target_sqnr must be a finite number of dB",
            ));
        }
        py.detach(|| {
            let models = self.files.models().map_err(|e| err(format!("{e:#}")))?;
            let s = sets(&models);
            let options = tflq::measure::result::Options {
                target_sqnr_db: target_sqnr,
                inputs,
                runtime,
            };
            let m = self.measurement(&s, &options);
            let labels: Vec<&str> = self.files.labels.iter().map(String::as_str).collect();
            // The Python format is tflq plan's module with the kept-float
            // layers left unannotated: decided here, before rendering.
            let keep_float = (format == tflq::report::measure::MeasureFormat::Python)
                .then(|| {
                    let model = s.quantized.first().copied().unwrap_or(s.floats[0]);
                    tflq::measure::pick_side(&m, &side)
                        .map(|(_, r)| tflq::measure::keep_float_plan(model, r))
                })
                .flatten();
            let mut buf = Vec::new();
            tflq::report::measure::render(
                &m,
                s.floats[0],
                &s.quantized,
                &labels,
                format,
                tflq::report::measure::Settings {
                    width,
                    side: &side,
                    plan: keep_float.as_ref(),
                },
                &mut buf,
            )
            .map_err(|e| err(format!("{e:#}")))?;
            String::from_utf8(buf).map_err(err)
        })
    }
}

impl MeasureSession {
    /// The measurement of the samples run so far.
    fn measurement(
        &self,
        s: &Sets<'_, '_>,
        options: &tflq::measure::result::Options,
    ) -> tflq::measure::result::Measurement {
        tflq::measure::result::Measurement::new(
            &self.plan,
            &self.acc,
            &s.floats,
            &s.quantized,
            options,
        )
    }
}
