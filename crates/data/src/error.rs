//! Errors of the readers, the pipeline and the downloads. Every error names the file (and the
//! record where it applies).

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a dataset could not be read, downloaded or imported.
#[derive(Debug, Error)]
pub enum DataError {
    /// Reading or writing a file failed. (The OS error is part of the message, not a
    /// `source`: a chain of errors would print it twice.)
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// A file or directory the dataset needs is not there.
    #[error("{path}: not found. {hint}")]
    Missing {
        /// What was looked for.
        path: PathBuf,
        /// How to get it (download or import command).
        hint: String,
    },
    /// A file's size is not what its format requires.
    #[error("{path}: {size} bytes, expected {expected}")]
    Size {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// What the format requires.
        expected: String,
    },
    /// A label outside the dataset's classes.
    #[error(
        "{path}: record {record}: label {label} out of range (the dataset has {classes} classes)"
    )]
    Label {
        /// The file.
        path: PathBuf,
        /// 0-based record index.
        record: usize,
        /// The label read.
        label: u32,
        /// Number of classes.
        classes: usize,
    },
    /// The content is not in the expected format (bad magic number, inconsistent header, bad CSV).
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An image could not be decoded.
    #[error("{path}: corrupt image: {reason}")]
    CorruptImage {
        /// The image file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// A class folder holds no image.
    #[error("{path}: empty class folder (no .JPEG/.jpg/.png file)")]
    EmptyClass {
        /// The folder.
        path: PathBuf,
    },
    /// A downloaded or imported archive does not have the published checksum or size.
    #[error("{path}: {kind} mismatch: expected {expected}, got {actual}")]
    Checksum {
        /// The archive.
        path: PathBuf,
        /// "md5", "size", ...
        kind: &'static str,
        /// Published value.
        expected: String,
        /// Computed value.
        actual: String,
    },
    /// The download failed (offline, HTTP error).
    #[error(
        "cannot download {url}: {reason}. Download it by other means and import it with `{import}`"
    )]
    Download {
        /// The official URL.
        url: String,
        /// Why.
        reason: String,
        /// The import command to use instead.
        import: String,
    },
    /// An unknown dataset name or an invalid option.
    #[error("{0}")]
    Invalid(String),
    /// A dataset of the catalogue is not in the data directory.
    #[error(
        "dataset `{dataset}` is not in {}: run `cargo xtask download {dataset}`, or import an \
         archive you have with `cargo xtask import {dataset} <archive>` (or point \
         LOOKAHEAD_DATA_DIR / `data_dir` at the folder holding it)",
        dir.display()
    )]
    NotOnDisk {
        /// The catalogue name.
        dataset: String,
        /// The data directory searched.
        dir: PathBuf,
    },
}

impl DataError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
        move |error| DataError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub(crate) fn format(path: &Path, reason: impl Into<String>) -> DataError {
        DataError::Format {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Result with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;
