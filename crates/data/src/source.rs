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
    read_regular(path, MAX_FILE_BYTES)
}

/// Refuses `path` unless it is a regular file (after symlinks): a FIFO, socket or device would
/// block or never end a read, and a folder is not the file expected. Returns its size.
pub fn check_regular(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(DataError::io(path))?;
    let kind = meta.file_type();
    let what = match () {
        _ if kind.is_file() => return Ok(meta.len()),
        _ if kind.is_dir() => "a folder",
        _ => "not a regular file (a FIFO, socket or device)",
    };
    Err(DataError::Format {
        path: path.to_path_buf(),
        reason: format!("is {what}, where a file is expected"),
    })
}

/// Reads `path` whole if it is a regular file of at most `max_bytes` (its size checked
/// before anything is read, and the read itself bounded: a file that grows meanwhile is cut
/// off and refused).
pub fn read_regular(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let size = check_regular(path)?;
    let too_big = |size| DataError::Size {
        path: path.to_path_buf(),
        size,
        expected: format!("at most {max_bytes}"),
    };
    if size > max_bytes {
        return Err(too_big(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    File::open(path)
        .and_then(|f| f.take(max_bytes + 1).read_to_end(&mut bytes))
        .map_err(DataError::io(path))?;
    match bytes.len() as u64 > max_bytes {
        true => Err(too_big(bytes.len() as u64)),
        false => Ok(bytes),
    }
}

/// [`read_regular`] as UTF-8 text.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String> {
    String::from_utf8(read_regular(path, max_bytes)?).map_err(|e| DataError::Format {
        path: path.to_path_buf(),
        reason: format!("not UTF-8 text ({e})"),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "hello").unwrap();
        assert_eq!(read_text(&file, 5).unwrap(), "hello");
        let long = read_regular(&file, 4).unwrap_err().to_string();
        assert!(long.contains("5 bytes, expected at most 4"), "{long}");
        let folder = read_regular(dir.path(), 100).unwrap_err().to_string();
        assert!(folder.contains("is a folder"), "{folder}");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Opening a FIFO for reading would block until a writer comes: refused before.
            let e = read_regular(&fifo, 100).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(
            read_text(&file, 5)
                .unwrap_err()
                .to_string()
                .contains("not UTF-8")
        );
    }
}
