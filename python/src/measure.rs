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

/// The files of a measurement, kept in memory: the plan's cuts and the
/// report read them again.
#[derive(Debug)]
struct Files {
    bytes: Vec<Vec<u8>>,
    labels: Vec<String>,
}

impl Files {
    fn models(&self) -> anyhow::Result<Vec<tflq::Model<'_>>> {
        self.bytes
            .iter()
            .zip(&self.labels)
            .map(|(b, l)| tflq::load(b).map_err(|e| tflq::cli::named(e, l)))
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

#[pymethods]
impl MeasureSession {
    /// Read the models at `paths` (float, PTQ, then QAT when given),
    /// labelled `labels` in messages and reports, and plan the runs.
    #[new]
    fn new(py: Python<'_>, paths: Vec<String>, labels: Vec<String>) -> PyResult<MeasureSession> {
        if !(2..=3).contains(&paths.len()) || labels.len() != paths.len() {
            return Err(PyValueError::new_err(
                "give the float, PTQ and optionally QAT model, with a label each",
            ));
        }
        py.detach(|| {
            let mut bytes = Vec::with_capacity(paths.len());
            for (p, l) in paths.iter().zip(&labels) {
                let b = std::fs::read(p).map_err(|e| err(format!("{l}: cannot read: {e}")))?;
                bytes.push(b);
            }
            let files = Files { bytes, labels };
            let models = files.models().map_err(|e| err(format!("{e:#}")))?;
            let input = |i: usize| tflq::measure::Input {
                model: &models[i],
                bytes: &files.bytes[i],
            };
            let plan = Plan::new(input(0), input(1), (models.len() > 2).then(|| input(2)))
                .map_err(|e| err(format!("{}: {e}", files.labels[0])))?;
            let quantized: Vec<&tflq::Model<'_>> = models[1..].iter().collect();
            let acc = Accumulator::new(&plan, &models[0], &quantized);
            drop(models);
            Ok(MeasureSession { files, plan, acc })
        })
    }

    /// The runs of one sample, in order: dicts with `name`, `model` (an
    /// index into the paths given, or None), `content` (the bytes of a cut
    /// model, or None), `preserve_all_tensors`, `inputs` (tuples
    /// `(tensor, "sample", k, 0)` or `(tensor, "tensor", run, source_tensor)`)
    /// and `reads` (tensor indices).
    fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for run in &self.plan.runs {
            let d = PyDict::new(py);
            d.set_item("name", &run.name)?;
            match &run.model {
                RunModel::Float => {
                    d.set_item("model", 0)?;
                    d.set_item("content", py.None())?;
                }
                RunModel::Quantized(i) => {
                    d.set_item("model", i + 1)?;
                    d.set_item("content", py.None())?;
                }
                RunModel::Cut(bytes) => {
                    d.set_item("model", py.None())?;
                    d.set_item("content", PyBytes::new(py, bytes))?;
                }
            }
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

    /// Hand over tensor `tensor` of run `run`: its raw bytes.
    fn put(&mut self, run: usize, tensor: u32, data: &Bound<'_, PyBytes>) -> PyResult<()> {
        self.acc.put(run, tensor, data.as_bytes()).map_err(err)
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

    /// The report: `format` is `json`, `table`, `text`, `model-explorer`
    /// or `python`; `target_sqnr` the model-output SQNR (dB) the kept-float
    /// layers are chosen for; `inputs` describes the data in the report.
    #[pyo3(signature = (format, target_sqnr = 30.0, inputs = String::new(), runtime = String::new(), width = 100, side = String::from("qat")))]
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
        py.detach(|| {
            let models = self.files.models().map_err(|e| err(format!("{e:#}")))?;
            let options = tflq::measure::result::Options {
                target_sqnr_db: target_sqnr,
                inputs,
                runtime,
            };
            let quantized: Vec<&tflq::Model<'_>> = models[1..].iter().collect();
            let m = tflq::measure::result::Measurement::new(
                &self.plan,
                &self.acc,
                &models[0],
                &quantized,
                &options,
            );
            let labels: Vec<&str> = self.files.labels.iter().map(String::as_str).collect();
            let mut buf = Vec::new();
            tflq::report::measure::render(
                &m,
                &models[0],
                &quantized,
                &labels,
                format,
                tflq::report::measure::Settings { width, side: &side },
                &mut buf,
            )
            .map_err(|e| err(format!("{e:#}")))?;
            String::from_utf8(buf).map_err(err)
        })
    }
}
