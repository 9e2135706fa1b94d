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
    let mut out = io::BufWriter::new(UntilClosed::new(stdout.lock()));
    let result = match cli.command {
        Command::Inspect(o) => inspect::run(o, &mut out),
        Command::Compare(o) => compare::run(o, &mut out),
        Command::Plan(o) => plan::run(o, &mut out),
        Command::Snapshot(o) => snapshot::run(o, &mut out),
    };
    let result = result.and_then(|code| out.flush().map(|()| code).map_err(anyhow::Error::from));
    match result {
        // Output that nobody reads any more is not an error; the exit status
        // is still the command's (a --fail-on gate or a snapshot difference
        // stays 1).
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: {e:#}");
            ExitCode::from(ERROR)
        }
    }
}

/// Standard output that goes quiet once its reader has gone: `tflq inspect
/// m.tflite | head` closes the pipe early. The first write that fails with a
/// broken pipe, and every write after it, succeed without writing, so each
/// renderer finishes whatever error type it would have wrapped the failure in
/// (serde_json wraps io errors in its own), and `main` sees `closed`.
struct UntilClosed<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> UntilClosed<W> {
    fn new(inner: W) -> Self {
        UntilClosed {
            inner,
            closed: false,
        }
    }

    fn quiet<T>(&mut self, r: io::Result<T>, closed_value: T) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(closed_value)
            }
            r => r,
        }
    }
}

impl<W: Write> Write for UntilClosed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.quiet(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.quiet(r, ())
    }
}

/// The path that stands for standard input.
pub const STDIN: &str = "-";

/// The most `tflq` reads from standard input: a stream has to be copied into
/// memory, while a file of any size is memory-mapped.
const STDIN_LIMIT: u64 = 1 << 30;

/// Whether `path` is `-`, standard input.
pub fn is_stdin(path: &std::path::Path) -> bool {
    path.as_os_str() == STDIN
}

/// The table width: `--width` when given; else the terminal's width when
/// standard output is one; else `COLUMNS` when set; else 100.
pub fn table_width(given: Option<u16>) -> u16 {
    let width = given
        .or_else(|| {
            io::stdout()
                .is_terminal()
                .then(|| terminal_size::terminal_size().map(|(w, _)| w.0))
                .flatten()
        })
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .unwrap_or(100);
    width.clamp(40, 1000)
}

/// Open a model, naming the file in any error. `-` reads standard input.
pub fn open(path: &std::path::Path) -> anyhow::Result<tflq::ModelFile> {
    let opened = if is_stdin(path) {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            anyhow::bail!(
                "standard input is a terminal: pipe a model into it (tflq inspect - < model.tflite)"
            );
        }
        tflq::ModelFile::read("standard input", stdin.lock(), STDIN_LIMIT)
    } else {
        tflq::ModelFile::open(path)
    };
    match opened {
        Ok(f) => Ok(f),
        Err(tflq::Error::InputTooLarge { .. }) => anyhow::bail!(
            "standard input holds more than 1 GiB: give a model that large as a file path (it is mapped, not copied)"
        ),
        Err(e @ tflq::Error::NotAFile { what, .. }) if what.starts_with("a FIFO") => {
            // A named pipe, or /dev/stdin on a pipe: a stream, which `-` reads.
            anyhow::bail!("{e} (to read a model from a pipe, pass - and pipe it to standard input)")
        }
        // Already names the file.
        Err(e @ (tflq::Error::Io { .. } | tflq::Error::NotAFile { .. })) => Err(e.into()),
        Err(e) => Err(anyhow::Error::new(e).context(error_label(path))),
    }
}

/// The model as named at the start of an error line.
fn error_label(path: &std::path::Path) -> String {
    if is_stdin(path) {
        "standard input".to_owned()
    } else {
        path.display().to_string()
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
