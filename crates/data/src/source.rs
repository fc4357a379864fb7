//! Reading named files from an extracted folder or straight from a `.tar.gz` archive.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{DataError, Result};

/// The largest file a reader takes (CIFAR-100's `train.bin`, the largest, is 153,700,000
/// bytes): a size read from a file system or an archive header is checked against it before
/// anything is allocated.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Refuses a file of `size` bytes larger than [`MAX_FILE_BYTES`].
fn check_size(path: &Path, size: u64) -> Result<()> {
    if size > MAX_FILE_BYTES {
        return Err(DataError::Size {
            path: path.to_path_buf(),
            size,
            expected: format!("at most {MAX_FILE_BYTES} for any file of a dataset"),
        });
    }
    Ok(())
}

/// Whether `path` names a gzipped tar archive.
pub(crate) fn is_tar_gz(path: &Path) -> bool {
    let name = path.to_string_lossy();
    path.is_file() && (name.ends_with(".tar.gz") || name.ends_with(".tgz"))
}

/// Reads the files `names` (paths relative to the dataset's top folder, e.g.
/// `cifar-10-batches-bin/test_batch.bin`) from `source`: the folder that contains that top
/// folder, the top folder itself, or a `.tar.gz` archive. Returns (display path, bytes) pairs.
pub(crate) fn read_named(
    source: &Path,
    names: &[&str],
    hint: &str,
) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    if is_tar_gz(source) {
        return read_from_archive(source, names, hint);
    }
    if !source.exists() {
        return Err(DataError::Missing {
            path: source.to_path_buf(),
            hint: hint.to_string(),
        });
    }
    names
        .iter()
        .map(|name| {
            let full = source.join(name);
            // Also accept the top folder itself as `source`.
            let file_only = Path::new(name).file_name().map(|f| source.join(f));
            let path = match file_only {
                _ if full.exists() => full,
                Some(p) if p.exists() => p,
                // Named as it would be where it was looked for: under the top folder itself
                // when `source` is that folder.
                Some(p) if is_top_folder(source, name) => return Err(missing(p, hint)),
                _ => return Err(missing(full, hint)),
            };
            let bytes = read_file(&path)?;
            Ok((path, bytes))
        })
        .collect()
}

/// Reads a dataset file whole, its size checked first.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path).map_err(DataError::io(path))?.len();
    check_size(path, size)?;
    std::fs::read(path).map_err(DataError::io(path))
}

fn missing(path: PathBuf, hint: &str) -> DataError {
    DataError::Missing {
        path,
        hint: hint.to_string(),
    }
}

/// Whether `source` is the top folder of `name` (`cifar-10-batches-bin` for
/// `cifar-10-batches-bin/test_batch.bin`).
fn is_top_folder(source: &Path, name: &str) -> bool {
    let top = Path::new(name).components().next();
    source
        .file_name()
        .is_some_and(|f| top.is_some_and(|t| t.as_os_str() == f))
}

/// Reads `names` from the archive, then the rest of the stream, so that gzip's CRC-32 and
/// length trailer are checked (the decoder checks them at the end of the stream only).
fn read_from_archive(
    archive: &Path,
    names: &[&str],
    hint: &str,
) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let file = File::open(archive).map_err(DataError::io(archive))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let mut found: Vec<Option<Vec<u8>>> = vec![None; names.len()];
    let entries = tar.entries().map_err(DataError::io(archive))?;
    for entry in entries {
        let mut entry = entry.map_err(DataError::io(archive))?;
        let path = entry
            .path()
            .map_err(DataError::io(archive))?
            .to_string_lossy()
            .into_owned();
        let path = path.trim_start_matches("./").to_string();
        if let Some(i) = names.iter().position(|n| *n == path) {
            let display = PathBuf::from(format!("{}!/{path}", archive.display()));
            check_size(&display, entry.size())?;
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut bytes)
                .map_err(DataError::io(archive))?;
            found[i] = Some(bytes);
        }
    }
    std::io::copy(&mut tar.into_inner(), &mut std::io::sink())
        .map_err(|e| DataError::format(archive, format!("corrupt gzip stream: {e}")))?;
    names
        .iter()
        .zip(found)
        .map(|(name, bytes)| {
            let display = PathBuf::from(format!("{}!/{name}", archive.display()));
            bytes
                .map(|b| (display.clone(), b))
                .ok_or(DataError::Missing {
                    path: display,
                    hint: hint.to_string(),
                })
        })
        .collect()
}
