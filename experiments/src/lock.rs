//! One writer per directory: an OS file lock on `<dir>/.lock`, held for as long as a
//! [`DirLock`] lives.
//!
//! A run directory (`experiments train --out`) and a suite directory (`experiments compare
//! --out`) each belong to one process at a time: a second writer is refused with the holder's
//! process id instead of silently interleaving its files with the first's. The lock is the
//! operating system's (`flock` on Unix, `LockFileEx` on Windows, through `std::fs::File::
//! try_lock`), so it dies with its process: a run killed by `kill -9` leaves a `.lock` file
//! behind but no lock, and `--resume` takes it over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the directory it guards.
pub const LOCK_FILE: &str = ".lock";

/// Why a directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process (or another lock in this one) holds the directory.
    #[error(
        "{dir} is in use by another {holder}: one process writes a run or suite directory at a \
         time; wait for it to end, or choose another --out (lock file {lock})",
        dir = .dir.display(),
        lock = .dir.join(LOCK_FILE).display()
    )]
    Held {
        /// The directory.
        dir: PathBuf,
        /// Who holds it, as far as the lock file says ("process 1234").
        holder: String,
    },
    /// The directory could not be created.
    #[error("cannot create {dir}: {source}", dir = .dir.display())]
    Create {
        /// The directory.
        dir: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The lock file could not be created, read or written.
    #[error("cannot lock {path}: {source}", path = .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// An exclusive lock on a directory, released when dropped (or when its process dies).
#[derive(Debug)]
pub struct DirLock {
    /// The open lock file: the lock lives as long as this handle.
    _file: File,
}

impl DirLock {
    /// Creates `dir` (and its parents) if needed, then locks it as [`DirLock::acquire`] does.
    pub fn create(dir: &Path) -> Result<Self, LockError> {
        std::fs::create_dir_all(dir).map_err(|source| LockError::Create {
            dir: dir.to_path_buf(),
            source,
        })?;
        Self::acquire(dir)
    }

    /// Locks `dir` (which must exist) for this process, writing its process id into the lock
    /// file; fails at once, without waiting, when another holder has it.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // Not truncated on open: the holder's pid must survive a refused attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    holder: holder(&mut file),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// The holder as its lock file names it.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    match file.read_to_string(&mut text) {
        Ok(_) if !text.trim().is_empty() => format!("process {}", text.trim()),
        _ => "process".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let pid = std::process::id().to_string();
        let file = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(file.trim(), pid);
        // flock locks belong to open files, so a second open in the same process conflicts too.
        let refused = DirLock::acquire(dir.path()).unwrap_err();
        let message = refused.to_string();
        assert!(matches!(refused, LockError::Held { .. }), "{message}");
        assert!(message.contains(&pid), "{message}");
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        // The refused attempt left the holder's pid in place.
        let file = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(file.trim(), pid);
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent");
        let error = DirLock::acquire(&missing).unwrap_err();
        assert!(matches!(error, LockError::Io { .. }));
        assert!(error.to_string().contains("absent/.lock"), "{error}");
    }
}
