//! The `tflq` command: arguments, I/O and exit codes. No TFLite knowledge
//! lives here; every subcommand calls the library and a renderer.

mod compare;
mod inspect;
mod plan;
mod snapshot;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit status: everything fine.
const OK: u8 = 0;
/// Exit status: findings a gate asked to fail on, or a snapshot differs.
const FINDINGS: u8 = 1;
/// Exit status: bad usage or input.
const ERROR: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "tflq",
    version,
    about = "Reads TensorFlow Lite models and tells you where the quantizers belong.",
    after_help = "Exit status: 0 fine, 1 findings that a gate asked to fail on (or a snapshot that differs), 2 usage or input error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Inspect(inspect::Opts),
    Compare(compare::Opts),
    Plan(plan::Opts),
    Snapshot(snapshot::Opts),
}

/// When to colour output.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Resolve against the environment: NO_COLOR (any non-empty value) wins over auto.
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && io::stdout().is_terminal()
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { ERROR } else { OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::Inspect(o) => inspect::run(o, &mut out),
        Command::Compare(o) => compare::run(o, &mut out),
        Command::Plan(o) => plan::run(o, &mut out),
        Command::Snapshot(o) => snapshot::run(o, &mut out),
    };
    let result = result.and_then(|code| out.flush().map(|()| code).map_err(anyhow::Error::from));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::from(OK),
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: {e:#}");
            ExitCode::from(ERROR)
        }
    }
}

/// `tflq inspect m.tflite | head` closes the pipe early: not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Open a model, naming the file in any error.
pub fn open(path: &std::path::Path) -> anyhow::Result<tflq::ModelFile> {
    match tflq::ModelFile::open(path) {
        Ok(f) => Ok(f),
        // Already names the file.
        Err(e @ tflq::Error::Io { .. }) => Err(e.into()),
        Err(e) => Err(anyhow::Error::new(e).context(path.display().to_string())),
    }
}

/// Hand a finished command's data to the OS instead of freeing it piece by
/// piece: the process is about to exit, and dropping a large model's tens of
/// thousands of small allocations costs milliseconds for nothing.
pub fn exit_without_freeing<T>(data: T) {
    std::mem::forget(data);
}

/// The path as given on the command line, for reports.
pub fn label(path: &std::path::Path) -> String {
    path.display().to_string()
}
