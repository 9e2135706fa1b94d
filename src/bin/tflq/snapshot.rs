//! `tflq snapshot`.
use std::io::Write;
#[derive(clap::Args, Debug)]
pub struct Opts {}
pub fn run(_o: Opts, _out: &mut dyn Write) -> anyhow::Result<u8> {
    Ok(crate::ERROR)
}
