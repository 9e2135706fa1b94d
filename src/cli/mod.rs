//! The `tflq` command line: arguments, I/O and exit codes, callable in
//! process. No TFLite knowledge lives here; every subcommand calls the
//! library and a renderer.
//!
//! The `tflq` binary is [`main`] with the process's arguments, and the Python
//! package's `tflq` console script is [`run`] with `sys.argv`: one parser, one
//! set of messages and exit codes for both. Output goes to the process's
//! standard output and error (file descriptors 1 and 2), as the binary's does.
//!
//! ```no_run
//! let code = tflq::cli::run(["tflq", "inspect", "model.tflite", "--format", "json"]);
//! assert!(code <= 2);
//! ```

mod compare;
mod graph;
mod inspect;
mod measure;
mod plan;
mod snapshot;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

use clap::{Parser, Subcommand, ValueEnum};

use crate::{Error, ModelFile};

/// Exit status: everything fine.
pub const OK: u8 = 0;
/// Exit status: findings a gate asked to fail on, or a snapshot differs.
pub const FINDINGS: u8 = 1;
/// Exit status: bad usage or input.
pub const ERROR: u8 = 2;

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
    Graph(graph::Opts),
    Measure(measure::Opts),
}

/// When to colour output.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ColorChoice {
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
    fn enabled(self) -> bool {
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

/// Run the command line `args` (the program name first, as in
/// `std::env::args_os`) in this process and return its exit status: 0 fine,
/// 1 findings a gate asked to fail on or a snapshot that differs, 2 usage or
/// input error. Output and error messages go to the process's standard
/// output and error, both flushed before it returns. Everything a command
/// read is freed: safe to call any number of times in a long-lived process
/// (the Python package's console script does).
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, End::Free)
}

/// [`run`] for a process that exits right after it returns (the `tflq`
/// binary): a finished command's data is handed to the OS instead of being
/// freed piece by piece, since dropping a large model's tens of thousands of
/// small allocations costs milliseconds for nothing. Calling it in a process
/// that goes on leaks the model each time.
pub fn main<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, End::Exit)
}

fn run_with<I, T>(args: I, end: End) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { ERROR } else { OK };
            let _ = e.print();
            let _ = io::stdout().flush();
            return code;
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(UntilClosed::new(stdout.lock()));
    let result = match cli.command {
        Command::Inspect(o) => inspect::run(o, &mut out, end),
        Command::Compare(o) => compare::run(o, &mut out, end),
        Command::Plan(o) => plan::run(o, &mut out, end),
        Command::Snapshot(o) => snapshot::run(o, &mut out, end),
        Command::Graph(o) => graph::run(o, &mut out, end),
        Command::Measure(o) => measure::run(o, &mut out, end),
    };
    let result = result.and_then(|code| out.flush().map(|()| code).map_err(anyhow::Error::from));
    // Whatever is still buffered (an error path leaves the writer unflushed)
    // goes out now: the caller may go on running, so nothing is left for
    // the exit of the process to flush.
    drop(out);
    let _ = io::stdout().flush();
    match result {
        // Output that nobody reads any more is not an error; the exit status
        // is still the command's (a --fail-on gate or a snapshot difference
        // stays 1).
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: {e:#}");
            ERROR
        }
    }
}

/// What becomes of a finished command's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Free it: the process goes on ([`run`]).
    Free,
    /// Hand it to the OS: the process is about to exit ([`main`]).
    Exit,
}

impl End {
    /// Dispose of a finished command's data.
    fn finish<T>(self, data: T) {
        match self {
            End::Free => drop(data),
            End::Exit => std::mem::forget(data),
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
const STDIN: &str = "-";

/// The most `tflq` reads from standard input: a stream has to be copied into
/// memory, while a file of any size is memory-mapped.
const STDIN_LIMIT: u64 = 1 << 30;

/// Whether `path` is `-`, standard input.
fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

/// The table width: `--width` when given; else the terminal's width when
/// standard output is one; else `COLUMNS` when set; else 100.
fn table_width(given: Option<u16>) -> u16 {
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
fn open(path: &Path) -> anyhow::Result<ModelFile> {
    if !is_stdin(path) {
        return open_file(path);
    }
    let stdin = io::stdin();
    if stdin.is_terminal() {
        anyhow::bail!(
            "standard input is a terminal: pipe a model into it (tflq inspect - < model.tflite)"
        );
    }
    ModelFile::read("standard input", stdin.lock(), STDIN_LIMIT).map_err(|e| match e {
        Error::InputTooLarge { .. } => anyhow::anyhow!(
            "standard input holds more than 1 GiB: give a model that large as a file path (it is mapped, not copied)"
        ),
        e => named(e, "standard input"),
    })
}

/// Open the model file at `path` (never standard input), with the error the
/// command line gives for it: one line that names the file.
pub fn open_file(path: &Path) -> anyhow::Result<ModelFile> {
    ModelFile::open(path).map_err(|e| match e {
        e @ Error::NotAFile { what, .. } if what.starts_with("a FIFO") => {
            // A named pipe, or /dev/stdin on a pipe: a stream, which `-` reads.
            anyhow::anyhow!(
                "{e} (to read a model from a pipe, pass - and pipe it to standard input)"
            )
        }
        e => named(e, &path.display().to_string()),
    })
}

/// An error of reading the model called `label`, as the command line words
/// it (`label: not a TFLite model: ...`; errors of opening a file already
/// name it). Print it with `{:#}` to get the whole line.
pub fn named(e: Error, label: &str) -> anyhow::Error {
    match e {
        e @ (Error::Io { .. } | Error::NotAFile { .. }) => e.into(),
        e => anyhow::Error::new(e).context(label.to_owned()),
    }
}

/// Say on standard error which subgraphs Model Explorer node data leaves
/// out (those of `only`, or all): ones the web app shows under one graph id
/// and so cannot tell apart.
fn note_left_out_graphs(
    model: &crate::model::Model,
    only: Option<crate::model::SubgraphId>,
    label: &str,
) {
    let left: Vec<String> = crate::report::model_explorer::graph_ids(model)
        .iter()
        .enumerate()
        .filter(|(s, id)| id.is_none() && only.is_none_or(|o| o.index() == *s))
        .map(|(s, _)| s.to_string())
        .collect();
    if !left.is_empty() {
        let _ = writeln!(
            io::stderr(),
            "note: {label}: no node data for subgraph(s) {}: Model Explorer shows them under one graph id, so it could not tell their data apart",
            left.join(", ")
        );
    }
}

/// The path as given on the command line, for reports.
fn label(path: &Path) -> String {
    path.display().to_string()
}
