//! The project's one atomic file write: a temporary file in the destination's folder, renamed
//! into place once complete (`tempfile`'s `persist`). A reader never sees half a file, and a
//! writer killed mid-way leaves the previous file (or none) and no stray temporary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use tempfile::NamedTempFile;

use crate::error::{DataError, Result};

/// A temporary file beside `path`, to be [`commit`](AtomicFile::commit)ted into place; dropped
/// uncommitted, it is removed.
pub struct AtomicFile<'a> {
    path: &'a Path,
    tmp: NamedTempFile,
}

impl<'a> AtomicFile<'a> {
    /// Creates the temporary file in `path`'s folder (created if needed).
    pub fn create(path: &'a Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(DataError::io(path))?;
        let mut builder = tempfile::Builder::new();
        // A temporary file is created 0600; the file it becomes gets the mode any file gets
        // here (0666 less the umask), so others on a shared machine read results as they read
        // plots and checkpoints.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp: NamedTempFile = builder.tempfile_in(dir).map_err(DataError::io(path))?;
        Ok(Self { path, tmp })
    }

    /// The temporary file, to write to.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Where the temporary file is (to verify it before the commit).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// Flushes the file to disk and renames it to its destination.
    pub fn commit(self) -> Result<()> {
        injected_fault(self.path).map_err(DataError::io(self.path))?;
        self.tmp
            .as_file()
            .sync_all()
            .map_err(DataError::io(self.path))?;
        self.tmp
            .persist(self.path)
            .map_err(|e| DataError::io(self.path)(e.error))?;
        Ok(())
    }
}

/// The environment variable of the fault-injection tests: every atomic write whose path
/// contains its value fails as on a full disk ("No space left on device"), the temporary file
/// removed, the destination untouched. With the prefix `kill:` (`kill:metrics.csv`), the
/// process is killed instead (SIGKILL), its temporary file written and not yet renamed: as a
/// `kill -9` or a lost machine would stop it at that write.
pub const FAULT_ENV: &str = "LOOKAHEAD_FAIL_WRITES";

/// The injected failure of a write to `path` (see [`FAULT_ENV`]); none when it is unset.
fn injected_fault(path: &Path) -> std::io::Result<()> {
    let Some(value) = std::env::var_os(FAULT_ENV) else {
        return Ok(());
    };
    let value = value.to_string_lossy();
    let (kill, part) = match value.strip_prefix("kill:") {
        Some(part) => (true, part),
        None => (false, &*value),
    };
    if part.is_empty() || !path.to_string_lossy().contains(part) {
        return Ok(());
    }
    if kill {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        // Where `kill` is missing: still no unwinding, no destructor, no rename.
        std::process::abort();
    }
    const ENOSPC: i32 = 28;
    Err(std::io::Error::from_raw_os_error(ENOSPC))
}

/// Writes `path` atomically with `write`, through a buffered writer.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> std::io::Result<()>,
) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    {
        let mut out = BufWriter::new(file.file());
        write(&mut out)
            .and_then(|()| out.flush())
            .map_err(DataError::io(path))?;
    }
    file.commit()
}

/// Writes `bytes` to `path` atomically.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("summary.json");
/// data::write_atomic(&path, b"{}").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{}");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncommitted_file_leaves_nothing_and_the_old_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        write_atomic(&path, b"old").unwrap();
        {
            let mut file = AtomicFile::create(&path).unwrap();
            file.file().write_all(b"half").unwrap();
            // Dropped without a commit, as by an error mid-way.
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = write_atomic_with(&path, |_| Err(std::io::Error::other("disk full")));
        assert!(err.unwrap_err().to_string().contains("metrics.csv"));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }

    /// A result file gets the mode a plain `File::create` gives here (the umask's), not the
    /// temporary file's 0600.
    #[cfg(unix)]
    #[test]
    fn a_written_file_has_the_mode_of_any_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (atomic, plain) = (dir.path().join("a.json"), dir.path().join("b.json"));
        write_atomic(&atomic, b"{}").unwrap();
        std::fs::write(&plain, b"{}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain));
    }
}
