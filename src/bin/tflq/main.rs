//! The `tflq` command. Arguments, I/O and exit codes live in the library
//! ([`tflq::cli`]), so that the Python package's console script runs the
//! very same command line in process.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(tflq::cli::main(std::env::args_os()))
}
