//! `tflq._tflq`, the native half of the Python package: a thin front end over
//! the tflq library, as the command line is. Each function opens or borrows a
//! model, calls the library and one of its renderers, and hands back text
//! (JSON in the documented vocabulary, the plan module, the snapshot); the
//! pure-Python half (`python/tflq/`) parses the JSON and documents the API.
//! There is no TFLite logic here.
//!
//! The GIL is released while Rust works, except while it reads a buffer that
//! Python code could change under it (see [`Held::detachable`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};
use tflq::report::{Format, Style};

mod buffer;
mod gap;
mod measure;

pyo3::create_exception!(
    tflq,
    TflqError,
    PyValueError,
    "A model that cannot be read, or a pair of models `compare` cannot judge. The message is the tflq command line's error line."
);

/// The label of a model given as bytes, in reports and errors (a path is
/// labelled as given, as the command line does).
const BYTES_LABEL: &str = "<bytes>";

/// A model argument as Python gave it, kept alive while Rust reads it.
enum Held<'py> {
    /// A path: the library maps the file.
    Path { path: PathBuf, label: String },
    /// Immutable bytes: borrowed as they are.
    Bytes(Bound<'py, PyBytes>),
    /// A bytearray: borrowed through the limited API (every Python version).
    ByteArray(Bound<'py, PyByteArray>),
    /// Any other buffer (memoryview, array, numpy, mmap), through the buffer
    /// protocol; `immutable` when it is a view of a `bytes` object.
    Buffer {
        buffer: buffer::Buffer,
        immutable: bool,
    },
}

/// What Rust reads: plain data, free of the GIL.
#[derive(Clone, Copy)]
enum Input<'a> {
    Path(&'a Path, &'a str),
    Bytes(&'a [u8], &'a str),
}

impl<'py> Held<'py> {
    fn new(obj: &Bound<'py, PyAny>) -> PyResult<Held<'py>> {
        let py = obj.py();
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Held::Bytes(b.clone()));
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            return Ok(Held::ByteArray(b.clone()));
        }
        if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
            let path: PathBuf = obj.extract()?;
            let label = path.display().to_string();
            return Ok(Held::Path { path, label });
        }
        let not_a_model = || {
            PyTypeError::new_err(format!(
                "model must be a path (str or os.PathLike) or a bytes-like object (bytes, bytearray, memoryview), not {}",
                obj.get_type()
                    .name()
                    .map_or_else(|_| "this".to_owned(), |n| n.to_string())
            ))
        };
        if py.version_info() < (3, 11) {
            // The limited API of 3.9 and 3.10 has no buffer protocol: copy the
            // buffer into bytes once (a memoryview checks that it is one).
            let view = py
                .import("builtins")?
                .getattr("memoryview")?
                .call1((obj,))
                .map_err(|_| not_a_model())?;
            let bytes = view.call_method0("tobytes")?.cast_into::<PyBytes>()?;
            return Ok(Held::Bytes(bytes));
        }
        let immutable = obj.cast::<PyMemoryView>().is_ok_and(|view| {
            view.getattr("obj")
                .is_ok_and(|base| base.is_instance_of::<PyBytes>())
        });
        match buffer::Buffer::get(obj) {
            Ok(buffer) => Ok(Held::Buffer { buffer, immutable }),
            Err(e) if e.is_instance_of::<PyTypeError>(py) => Err(not_a_model()),
            Err(e) => Err(e),
        }
    }

    fn input(&self) -> Input<'_> {
        match self {
            Held::Path { path, label } => Input::Path(path, label),
            Held::Bytes(b) => Input::Bytes(b.as_bytes(), BYTES_LABEL),
            // SAFETY: `detachable` is false for a bytearray, so the GIL stays
            // held for as long as Rust reads the slice, and no Python code
            // runs meanwhile: nothing can resize or write the bytearray.
            #[allow(unsafe_code)]
            Held::ByteArray(b) => Input::Bytes(unsafe { b.as_bytes() }, BYTES_LABEL),
            Held::Buffer { buffer, .. } => Input::Bytes(buffer.bytes(), BYTES_LABEL),
        }
    }

    /// Whether the GIL may be released while Rust reads this model: a file
    /// (mapped by the library, as the command line maps it) and immutable
    /// bytes. A bytearray or a writable buffer could be changed by another
    /// Python thread mid-read, so it is read with the GIL held (a few
    /// milliseconds; nothing is copied either way).
    fn detachable(&self) -> bool {
        match self {
            Held::Path { .. } | Held::Bytes(_) => true,
            Held::ByteArray(_) => false,
            Held::Buffer { immutable, .. } => *immutable,
        }
    }
}

/// A model read by the library: a mapped file, or borrowed bytes.
enum Loaded<'a> {
    File(tflq::ModelFile),
    Borrowed(Box<tflq::Model<'a>>),
}

impl Loaded<'_> {
    fn model(&self) -> &tflq::Model<'_> {
        match self {
            Loaded::File(f) => f.model(),
            Loaded::Borrowed(m) => m,
        }
    }
}

impl<'a> Input<'a> {
    fn label(&self) -> &'a str {
        match *self {
            Input::Path(_, label) | Input::Bytes(_, label) => label,
        }
    }

    /// Read the model, with the command line's error line on failure.
    fn load(self) -> anyhow::Result<Loaded<'a>> {
        match self {
            Input::Path(path, _) => tflq::cli::open_file(path).map(Loaded::File),
            Input::Bytes(bytes, label) => tflq::load(bytes)
                .map(|m| Loaded::Borrowed(Box::new(m)))
                .map_err(|e| tflq::cli::named(e, label)),
        }
    }
}

/// Run `work` on the inputs, with the GIL released when every one allows
/// it; an error becomes [`TflqError`] with the command line's message.
fn run<T, F>(py: Python<'_>, held: &[&Held<'_>], work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&[Input<'_>]) -> anyhow::Result<T> + Send,
{
    let inputs: Vec<Input<'_>> = held.iter().map(|h| h.input()).collect();
    let result = if held.iter().all(|h| h.detachable()) {
        py.detach(|| work(&inputs))
    } else {
        work(&inputs)
    };
    result.map_err(|e| TflqError::new_err(format!("{e:#}")))
}

fn utf8(buf: Vec<u8>) -> anyhow::Result<String> {
    Ok(String::from_utf8(buf)?)
}

/// `tflq inspect MODEL --format json`, as text.
#[pyfunction]
fn inspect_json(py: Python<'_>, model: &Bound<'_, PyAny>) -> PyResult<String> {
    let held = Held::new(model)?;
    run(py, &[&held], |inputs| {
        let input = inputs[0];
        let loaded = input.load()?;
        let model = loaded.model();
        let insp = tflq::analysis::inspect(model);
        let mut buf = Vec::new();
        tflq::report::inspect::render(
            model,
            &insp,
            input.label(),
            Format::Json,
            tflq::report::inspect::View::default(),
            Style::default(),
            &mut buf,
        )?;
        utf8(buf)
    })
}

/// `tflq compare PTQ QAT --format json`, as text; a pair the command line
/// refuses raises [`TflqError`] with its message.
#[pyfunction]
#[pyo3(signature = (ptq, qat, range_ratio = 4.0))]
fn compare_json(
    py: Python<'_>,
    ptq: &Bound<'_, PyAny>,
    qat: &Bound<'_, PyAny>,
    range_ratio: f32,
) -> PyResult<String> {
    if !(range_ratio.is_finite() && range_ratio > 1.0) {
        return Err(PyValueError::new_err(
            "range_ratio must be a number above 1",
        ));
    }
    let ptq = Held::new(ptq)?;
    let qat = Held::new(qat)?;
    run(py, &[&ptq, &qat], |inputs| {
        let (p, q) = (inputs[0], inputs[1]);
        let (pl, ql) = labels(p, q);
        let ptq = p.load()?;
        let qat = q.load()?;
        let c = tflq::compare::compare(
            ptq.model(),
            qat.model(),
            tflq::compare::Options { range_ratio },
        );
        let pair = tflq::report::compare::Pair {
            ptq_label: &pl,
            qat_label: &ql,
        };
        if let Some(problem) = &c.problem {
            anyhow::bail!("{}", tflq::report::compare::problem(&pair, problem));
        }
        let mut buf = Vec::new();
        tflq::report::compare::render(&pair, &c, Format::Json, Style::default(), &mut buf)?;
        utf8(buf)
    })
}

/// The two labels of a compare: bytes are told apart by their role.
fn labels(p: Input<'_>, q: Input<'_>) -> (String, String) {
    let name = |i: Input<'_>, role: &str| match i {
        Input::Path(_, label) => label.to_owned(),
        Input::Bytes(..) => format!("<{role} bytes>"),
    };
    (name(p, "ptq"), name(q, "qat"))
}

/// `tflq plan PTQ --format json` or `--format python`, as text.
#[pyfunction]
#[pyo3(signature = (ptq, python = false))]
fn plan_text(py: Python<'_>, ptq: &Bound<'_, PyAny>, python: bool) -> PyResult<String> {
    let held = Held::new(ptq)?;
    run(py, &[&held], |inputs| {
        let input = inputs[0];
        let loaded = input.load()?;
        let insp = tflq::analysis::inspect(loaded.model());
        let plan = tflq::advice::plan(loaded.model(), &insp);
        let format = if python { Format::Python } else { Format::Json };
        let mut buf = Vec::new();
        tflq::report::plan::render(&plan, input.label(), format, Style::default(), &mut buf)?;
        utf8(buf)
    })
}

/// `tflq snapshot MODEL [--with-scales[=DIGITS]] [--exact-names]`.
#[pyfunction]
#[pyo3(signature = (model, with_scales = None, exact_names = false))]
fn snapshot(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    with_scales: Option<u8>,
    exact_names: bool,
) -> PyResult<String> {
    if with_scales.is_some_and(|d| !(1..=9).contains(&d)) {
        return Err(PyValueError::new_err(
            "with_scales must be True, False or a number of digits from 1 to 9",
        ));
    }
    let held = Held::new(model)?;
    run(py, &[&held], |inputs| {
        let loaded = inputs[0].load()?;
        Ok(tflq::snapshot(
            loaded.model(),
            tflq::SnapshotOptions {
                scale_digits: with_scales,
                exact_names,
            },
        ))
    })
}

/// Run the `tflq` command line with `argv` (program name first) in this
/// process and return its exit status. It writes to the process's standard
/// output and error (file descriptors 1 and 2), as the binary does.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<OsString>) -> u8 {
    py.detach(|| tflq::cli::run(argv))
}

/// The native half of the tflq Python package (use `tflq`, not this module).
#[pymodule]
mod _tflq {
    #[pymodule_export]
    use super::gap::GapSession;
    #[pymodule_export]
    use super::measure::MeasureSession;
    #[pymodule_export]
    use super::{TflqError, compare_json, inspect_json, plan_text, run_cli, snapshot};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods as _;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
