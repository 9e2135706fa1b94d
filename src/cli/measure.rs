//! `tflq measure`: what each placement costs, measured with LiteRT.
//!
//! tflq runs no model itself: the interpreter is LiteRT's, driven by the
//! tflq Python package's runner (`python -m tflq._runner`) in a process of
//! its own, which also accumulates and renders through the same library.
//! This command checks the models and the runner, hands the job over, and
//! passes the runner's exit status on; a runner killed by a signal (an
//! interpreter abort) is reported here.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::{ERROR, End};
use crate::report::measure::MeasureFormat;

/// The job format the Python runner reads (`tflq/_runner.py`).
const JOB_VERSION: u32 = 2;

/// The job the runner reads, its fields in alphabetical order.
#[derive(Serialize)]
struct Job {
    fail_below: Option<f64>,
    format: String,
    inputs: JobInputs,
    labels: Vec<String>,
    max_samples: Option<u64>,
    models: Vec<Option<String>>,
    output: Option<String>,
    progress: bool,
    side: &'static str,
    target_sqnr: f64,
    version: u32,
    width: u16,
}

impl Job {
    /// The job of `o`, its models `files` (float, PTQ, QAT, QAT's float).
    fn new(o: &Opts, files: &[(&str, Option<&PathBuf>)]) -> Job {
        let path = |p: Option<&PathBuf>| p.map(|p| p.display().to_string());
        let inputs = match o.random_inputs {
            Some(count) => JobInputs::Random {
                count,
                kind: "random",
                seed: 0,
            },
            None => JobInputs::Files {
                kind: "files",
                paths: o.inputs.iter().map(|p| p.display().to_string()).collect(),
            },
        };
        Job {
            fail_below: o.fail_below,
            format: o.format.name(),
            inputs,
            labels: files
                .iter()
                .map(|(_, p)| path(*p).unwrap_or_default())
                .collect(),
            max_samples: o.max_samples,
            models: files.iter().map(|(_, p)| path(*p)).collect(),
            output: o.output.as_ref().map(|p| p.display().to_string()),
            progress: true,
            side: match o.side {
                SideArg::Ptq => "ptq",
                SideArg::Qat => "qat",
            },
            target_sqnr: o.target_sqnr,
            version: JOB_VERSION,
            width: super::table_width(o.width),
        }
    }
}

/// What the runner feeds the models.
#[derive(Serialize)]
#[serde(untagged)]
enum JobInputs {
    Random {
        count: u32,
        kind: &'static str,
        seed: u32,
    },
    Files {
        kind: &'static str,
        paths: Vec<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideArg {
    /// The PTQ model (the second file).
    Ptq,
    /// The QAT model (the third file, or a QAT second file).
    Qat,
}

/// Run the float model and its quantized versions on the same samples with
/// LiteRT and report what each layer's quantization costs against the float
/// model.
///
/// Per layer: SQNR, RMSE / scale, cosine and largest error; accumulated (end
/// to end), local (the layer alone, fed the float model's values) and
/// layer-wise (the float layer fed the quantized model's values:
/// QuantizationDebugger's view). With a QAT model, the cost of each `compare`
/// finding; for each model, the layers to keep in float to reach a target.
#[derive(Args, Debug)]
#[command(after_help = "\
Example:
  tflq measure float.tflite ptq.tflite --inputs samples.npy
  tflq measure float.tflite ptq.tflite qat.tflite --qat-float qat_float.tflite --inputs data/
  tflq measure float.tflite ptq.tflite --random-inputs 16       # with a warning
  tflq measure float.tflite ptq.tflite --inputs x.npy --format python -o plan.py
                                      # tflq plan's module, the layers to keep in float unannotated

The models run in the tflq Python package's runner with LiteRT (builtin
kernels, no delegates): pip install './python[measure]' (a checkout) or set
TFLQ_PYTHON to a Python that has tflq, numpy and ai-edge-litert.
docs/measure.md explains the numbers.

Exit status: 0 measured, 1 a model output below --fail-below, 2 usage error,
unreadable model or data, no runner, or an interpreter that failed.")]
pub struct Opts {
    /// The float model.
    float: PathBuf,
    /// The post-training-quantized model (or the one quantized model: PTQ or QAT).
    ptq: PathBuf,
    /// The quantization-aware-trained model.
    qat: Option<PathBuf>,
    /// Samples: .npy or .npz files, or directories of them (a batch axis is
    /// split into samples; an .npz holds one array per model input).
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with = "random_inputs")]
    inputs: Vec<PathBuf>,
    /// Measure on N random samples (uniform in [0, 1)) instead: the numbers
    /// then say little about the model.
    #[arg(long, value_name = "N")]
    random_inputs: Option<u32>,
    /// The float model of the QAT model's own trained weights: the QAT
    /// model is measured against it (QAT fine-tuning moves the weights).
    #[arg(long, value_name = "FILE")]
    qat_float: Option<PathBuf>,
    /// Use at most N samples.
    #[arg(long, value_name = "N")]
    max_samples: Option<u64>,
    /// Model-output SQNR (dB) the layers to keep in float are chosen to reach.
    #[arg(long, value_name = "DB", default_value_t = 30.0)]
    target_sqnr: f64,
    /// A gate: exit with status 1 (after writing the report) when a quantized
    /// model's output SQNR, all its outputs pooled, is below DB.
    #[arg(long, value_name = "DB")]
    fail_below: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MeasureFormat::Table)]
    format: MeasureFormat,
    /// For --format model-explorer and python: which model's measurement.
    #[arg(long, value_enum, default_value_t = SideArg::Qat)]
    side: SideArg,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Table width in columns (default: the terminal's, or COLUMNS, or 100).
    #[arg(long, value_name = "COLUMNS")]
    width: Option<u16>,
}

/// How to get the runner, for the message when it is missing.
const INSTALL: &str = "tflq measure runs the models with LiteRT through the tflq Python package: \
install it with `pip install './python[measure]'` from a tflq checkout (it brings numpy and \
ai-edge-litert), or set TFLQ_PYTHON to a Python that has tflq, numpy and ai-edge-litert";

pub(super) fn run(o: Opts, out: &mut dyn Write, end: End) -> anyhow::Result<u8> {
    if o.inputs.is_empty() && o.random_inputs.is_none() {
        anyhow::bail!(
            "give the samples to measure on: --inputs FILE.npy|FILE.npz|DIR (or --random-inputs N, with a warning)"
        );
    }
    if !o.target_sqnr.is_finite() {
        anyhow::bail!("--target-sqnr must be a number of dB");
    }
    if o.fail_below.is_some_and(|v| !v.is_finite()) {
        anyhow::bail!("--fail-below must be a number of dB");
    }
    let files: Vec<(&str, Option<&PathBuf>)> = vec![
        ("float", Some(&o.float)),
        ("ptq", Some(&o.ptq)),
        ("qat", o.qat.as_ref()),
        ("qat-float", o.qat_float.as_ref()),
    ];
    if o.qat_float.is_some() && o.qat.is_none() {
        anyhow::bail!("--qat-float needs a QAT model (the third file)");
    }
    // Read every model here first: a file that is no model is named with the
    // command line's own error, before the runner starts.
    for (_, p) in &files {
        if let Some(p) = p {
            if super::is_stdin(p) {
                anyhow::bail!("tflq measure reads models from files only, not from standard input");
            }
            let file = super::open_file(p)?;
            end.finish(file);
        }
    }
    for p in &o.inputs {
        if !p.exists() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
    }
    let python = std::env::var_os("TFLQ_PYTHON").unwrap_or_else(|| "python3".into());
    let check = Command::new(&python)
        .args(["-m", "tflq._runner", "--check"])
        .stdin(Stdio::null())
        .output();
    match check {
        Ok(c) if c.status.success() => {}
        Ok(c) => {
            let why = String::from_utf8_lossy(&c.stderr);
            let why = why
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            anyhow::bail!(
                "{INSTALL} ({} says: {why})",
                std::path::Path::new(&python).display()
            );
        }
        Err(e) => anyhow::bail!(
            "{INSTALL} (cannot run {}: {e})",
            std::path::Path::new(&python).display()
        ),
    }
    let job = Job::new(&o, &files);
    let job = serde_json::to_string(&job)
        .map_err(|e| anyhow::anyhow!("cannot write the runner's job: {e}"))?;
    // Whatever this process buffered goes out before the runner writes to
    // the same standard output.
    out.flush()?;
    let status = Command::new(&python)
        .args(["-m", "tflq._runner", &job])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| anyhow::anyhow!("cannot start the runner: {e}"))?;
    match status.code() {
        Some(0) => Ok(super::OK),
        // The report is written and the --fail-below gate failed (the
        // runner said why).
        Some(1) => Ok(super::FINDINGS),
        Some(code) => {
            // The runner printed its own error line.
            let _ = code;
            Ok(ERROR)
        }
        None => {
            #[cfg(unix)]
            let signal = std::os::unix::process::ExitStatusExt::signal(&status);
            #[cfg(not(unix))]
            let signal: Option<i32> = None;
            anyhow::bail!(
                "the measuring process was killed{}: the LiteRT interpreter aborted on one of the models",
                signal.map_or_else(String::new, |s| format!(" by signal {s}"))
            )
        }
    }
}
