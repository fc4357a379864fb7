//! Reading named files from an extracted folder or straight from a `.tar.gz` archive.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{DataError, Result};

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
            let path = if full.exists() {
                full
            } else {
                let file_only = Path::new(name).file_name().map(|f| source.join(f));
                match file_only {
                    Some(p) if p.exists() => p,
                    _ => {
                        return Err(DataError::Missing {
                            path: full,
                            hint: hint.to_string(),
                        });
                    }
                }
            };
            let bytes = std::fs::read(&path).map_err(DataError::io(&path))?;
            Ok((path, bytes))
        })
        .collect()
}

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
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut bytes)
                .map_err(DataError::io(archive))?;
            found[i] = Some(bytes);
        }
    }
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
