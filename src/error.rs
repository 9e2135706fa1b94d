//! Errors of reading a model. Each says what is wrong and where: a byte
//! offset, an element path such as `subgraphs[0].operators[3].inputs[1]`, or both.

use std::path::PathBuf;

/// Why a model could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or mapped.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// The path names a directory, a FIFO, a device or a socket: only regular
    /// files are read as models.
    #[error("cannot read {}: it is {what}, not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead (`a directory`, `a FIFO (named pipe)`, …).
        what: &'static str,
    },

    /// A stream held more bytes than the caller allowed ([`crate::ModelFile::read`]).
    #[error("cannot read {}: it holds more than {limit} bytes", path.display())]
    InputTooLarge {
        /// What was read.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },

    /// Fewer bytes than the smallest possible model.
    #[error("not a TFLite model: it is {len} bytes long, too short for a flatbuffer header")]
    TooShort {
        /// File length.
        len: u64,
    },

    /// Bytes 4..8 are not `TFL3`.
    #[error(
        "not a TFLite model: bytes 4..8 are \"{found}\", expected \"TFL3\" (files of schema versions 0-2 and other formats are not read)"
    )]
    NotTflite {
        /// The four bytes found, escaped as Rust escapes byte strings
        /// (`\"`, `\\`, `\xe9`), ready to show between double quotes.
        found: String,
    },

    /// `Model.version` is not 3.
    #[error("unsupported TFLite schema version {version} (only version 3 exists in current files)")]
    UnsupportedVersion {
        /// The stored version.
        version: u32,
    },

    /// The flatbuffer structure is broken (an offset or length points outside
    /// the file, a vtable is malformed, a string is not UTF-8, …). When an
    /// offset or a length runs past the end of the file, `detail` says so and
    /// that the file looks truncated.
    #[error("malformed model at {path} (byte offset {offset}): {detail}")]
    Malformed {
        /// Element path of what was being read.
        path: String,
        /// Byte offset of the table involved, as far as known.
        offset: String,
        /// What is wrong.
        detail: String,
    },

    /// An index in the file points past the end of what it indexes.
    #[error("invalid model at {path}: {what} index {index} is out of range (there are {len})")]
    IndexOutOfRange {
        /// Element path of the index.
        path: String,
        /// What kind of thing is indexed.
        what: &'static str,
        /// The stored index.
        index: i64,
        /// How many there are.
        len: usize,
    },

    /// A buffer or custom-options range past the flatbuffer lies outside the file.
    #[error(
        "invalid model at {path}: data at byte offset {offset} with size {size} lies outside the {}-byte file: the file looks truncated",
        thousands(*file_len)
    )]
    DataOutOfFile {
        /// Element path.
        path: String,
        /// Stored offset.
        offset: u64,
        /// Stored size.
        size: u64,
        /// File length.
        file_len: u64,
    },

    /// The model refers to the same tables so many times that reading it
    /// would take far more memory than its size justifies.
    #[error(
        "invalid model: it expands to more than {limit} elements ({path}); shared tables are referenced too many times for a {file_len}-byte file"
    )]
    TooLarge {
        /// Where the limit was reached.
        path: String,
        /// The limit.
        limit: u64,
        /// File length.
        file_len: u64,
    },
}

impl Error {
    pub(crate) fn malformed(path: impl Into<String>, err: planus::Error) -> Error {
        let offset = match err.source_location.byte_offset {
            usize::MAX => "unknown".to_owned(),
            n => format!("{n:#x}"),
        };
        let detail = match err.error_kind {
            planus::errors::ErrorKind::InvalidOffset => INVALID_OFFSET.to_owned(),
            planus::errors::ErrorKind::InvalidLength => INVALID_LENGTH.to_owned(),
            kind => kind.to_string().to_lowercase(),
        };
        Error::Malformed {
            path: path.into(),
            offset,
            detail,
        }
    }

    /// Say how long the bytes were when an offset or length ran past their
    /// end: what a truncated file looks like to a reader (planus reports
    /// these two kinds only for reads beyond the end of the buffer, or, for
    /// an offset, before its start, which no truncation causes).
    pub(crate) fn past_end_of(self, len: u64) -> Error {
        match self {
            Error::Malformed {
                path,
                offset,
                detail,
            } if detail == INVALID_OFFSET || detail == INVALID_LENGTH => Error::Malformed {
                path,
                offset,
                detail: format!(
                    "{} beyond the end of the {}-byte file: the file looks truncated",
                    if detail == INVALID_OFFSET {
                        "an offset points"
                    } else {
                        "a length reaches"
                    },
                    thousands(len)
                ),
            },
            other => other,
        }
    }
}

const INVALID_OFFSET: &str = "invalid offset";
const INVALID_LENGTH: &str = "invalid length";

/// Thousands separators: `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Result of reading a model.
pub type Result<T, E = Error> = std::result::Result<T, E>;
